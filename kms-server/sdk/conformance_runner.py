"""The runner the conformance scripts in this directory share: every `test_*` function of a
script, in definition order, one line each ('ok   name' or 'FAIL name' and its traceback), then
'N passed, M failed' (the line kms-server/tests/tencent_sdk.rs reads); exits non-zero on any
failure."""
import sys
import traceback


def run(namespace):
    passed = failed = 0
    for name, test in list(namespace.items()):
        if not name.startswith('test_'):
            continue
        try:
            test()
            passed += 1
            print(f'ok   {name}')
        except Exception:  # noqa: BLE001 - report every failure and go on
            failed += 1
            print(f'FAIL {name}')
            traceback.print_exc(file=sys.stdout)
    print(f'{passed} passed, {failed} failed')
    sys.exit(1 if failed else 0)

#!/usr/bin/env python3
"""tccli, Tencent Cloud's own command line, used unmodified against kms-server's Tencent Cloud API
over HTTPS: tccli always speaks HTTPS and verifies the server with the CA bundle of the `certifi`
package it runs with. A user appends the server's CA file (`--tls-self-signed` writes ca.pem) to that
bundle; this script does the equivalent inside each tccli process, without touching the venv:
`certifi.where()` names the CA file given in KMS_CA.

Environment (set by kms-server/tests/tencent_sdk.rs):
  TCCLI_PYTHON                  the python of the venv tccli is installed in (sdk/.venv-tccli)
  KMS_ENDPOINT                  host:port of a kms-server with TLS
  KMS_CA                        its CA certificate (PEM)
  TENCENTCLOUD_SECRET_ID/_KEY   the pair the server checks signatures against
Prints one line per test and 'N passed, M failed'; exits non-zero on any failure.
"""
import base64
import json
import os
import subprocess

LAUNCH = ("import certifi, os, sys; certifi.where = lambda: os.environ['KMS_CA']; "
          "from tccli.main import main; sys.argv[0] = 'tccli'; sys.exit(main())")
PLAIN_LAUNCH = "import sys; from tccli.main import main; sys.argv[0] = 'tccli'; sys.exit(main())"
python = os.environ['TCCLI_PYTHON']
common = ['--region', 'ap-guangzhou', '--endpoint', os.environ['KMS_ENDPOINT'],
          '--secretId', os.environ['TENCENTCLOUD_SECRET_ID']]
secret_key = os.environ['TENCENTCLOUD_SECRET_KEY']


def run(action, *args, launch=LAUNCH, key=secret_key):
    cmd = [python, '-c', launch, 'kms', action, *args, *common, '--secretKey', key]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def tccli(action, *args):
    p = run(action, *args)
    assert p.returncode == 0, f'{action}: rc {p.returncode}: {p.stdout} {p.stderr}'
    return json.loads(p.stdout)


def tccli_error(code, action, *args, **kw):
    p = run(action, *args, **kw)
    assert p.returncode != 0, f'{action} succeeded: {p.stdout}'
    out = p.stdout + p.stderr
    assert f'code:{code} ' in out, f'expected {code}: {out}'
    return out


state = {}


def test_create_and_describe():
    r = tccli('CreateKey', '--Alias', 'tccli-key', '--Description', 'from tccli')
    assert r['KeyState'] == 'Enabled' and r['KeyUsage'] == 'ENCRYPT_DECRYPT', r
    state['key'] = r['KeyId']
    m = tccli('DescribeKey', '--KeyId', r['KeyId'])['KeyMetadata']
    assert (m['Alias'], m['Description'], m['KeyState']) == ('tccli-key', 'from tccli', 'Enabled'), m
    keys = tccli('ListKeys', '--Limit', '200')['Keys']
    assert r['KeyId'] in [k['KeyId'] for k in keys], keys


def test_data_key_and_encrypt_with_context():
    context = json.dumps({'bucket': 'b1'})
    dk = tccli('GenerateDataKey', '--KeyId', state['key'], '--KeySpec', 'AES_256',
               '--EncryptionContext', context)
    plain = tccli('Decrypt', '--CiphertextBlob', dk['CiphertextBlob'], '--EncryptionContext', context)
    assert plain['Plaintext'] == dk['Plaintext'] and plain['KeyId'] == state['key'], plain
    tccli_error('InvalidParameterValue.InvalidCiphertext', 'Decrypt',
                '--CiphertextBlob', dk['CiphertextBlob'], '--EncryptionContext', json.dumps({'bucket': 'b2'}))
    secret = base64.b64encode(b'tccli plaintext').decode()
    ct = tccli('Encrypt', '--KeyId', state['key'], '--Plaintext', secret)['CiphertextBlob']
    assert tccli('Decrypt', '--CiphertextBlob', ct)['Plaintext'] == secret


def test_disable_and_enable():
    tccli('DisableKey', '--KeyId', state['key'])
    assert tccli('DescribeKey', '--KeyId', state['key'])['KeyMetadata']['KeyState'] == 'Disabled'
    tccli_error('ResourceUnavailable.CmkDisabled', 'Encrypt', '--KeyId', state['key'],
                '--Plaintext', base64.b64encode(b'x').decode())
    tccli('EnableKey', '--KeyId', state['key'])


def test_errors():
    tccli_error('ResourceUnavailable.CmkNotFound', 'DescribeKey',
                '--KeyId', '00000000-0000-0000-0000-000000000000')
    tccli_error('AuthFailure.SignatureFailure', 'ListKeys', key='not-the-secret-key')


def test_the_server_certificate_is_checked():
    # Without the CA, tccli's own bundle does not trust the server: the call never reaches it.
    p = run('ListKeys', launch=PLAIN_LAUNCH)
    assert p.returncode != 0 and 'CERTIFICATE_VERIFY_FAILED' in p.stdout + p.stderr, p


if __name__ == '__main__':
    import conformance_runner
    conformance_runner.run(globals())

#!/usr/bin/env bash
# Installs the official Tencent Cloud API SDK the Tencent front end's conformance test runs against,
# idempotently: tencentcloud-sdk-python-common and tencentcloud-sdk-python-kms (PyPI) into the
# virtualenv sdk/.venv (git-ignored). Re-running is cheap: it checks for the installed packages first.
set -euo pipefail
cd "$(dirname "$0")"

COMMON_VERSION="${TENCENT_SDK_COMMON_VERSION:-3.1.195}"
KMS_VERSION="${TENCENT_SDK_KMS_VERSION:-3.1.192}"
PYTHON="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
  echo "== creating the virtualenv kms-server/sdk/.venv"
  "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c 'from tencentcloud.kms.v20190118 import kms_client' >/dev/null 2>&1; then
  echo "== pip install tencentcloud-sdk-python-common==$COMMON_VERSION tencentcloud-sdk-python-kms==$KMS_VERSION"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check \
    "tencentcloud-sdk-python-common==$COMMON_VERSION" "tencentcloud-sdk-python-kms==$KMS_VERSION"
fi
.venv/bin/python -c 'import importlib.metadata as m; print("tencentcloud-sdk-python-kms", m.version("tencentcloud-sdk-python-kms"))'

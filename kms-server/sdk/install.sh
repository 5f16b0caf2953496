#!/usr/bin/env bash
# Installs the official Tencent Cloud API SDKs the Tencent front end's conformance tests run
# against, idempotently:
#   - tencentcloud-sdk-python-common and tencentcloud-sdk-python-kms (PyPI) into the virtualenv
#     sdk/.venv, with `cryptography` (RSA, ECDSA) and `gmssl` (SM2), the independent
#     implementations the asymmetric keys' signatures are checked with
#   - tencentcloud-sdk-nodejs (npm; the per-product package is not on every registry) into
#     sdk/node_modules
#   - tccli, Tencent Cloud's command line, into its own virtualenv sdk/.venv-tccli (it pulls the
#     all-products tencentcloud-sdk-python, whose files would clash with the per-product packages)
# Both folders are git-ignored. Re-running is cheap: it checks for the installed packages first.
set -euo pipefail
cd "$(dirname "$0")"

COMMON_VERSION="${TENCENT_SDK_COMMON_VERSION:-3.1.195}"
KMS_VERSION="${TENCENT_SDK_KMS_VERSION:-3.1.192}"
CRYPTOGRAPHY_VERSION="${CRYPTOGRAPHY_VERSION:-46.0.7}"
GMSSL_VERSION="${GMSSL_VERSION:-3.2.2}"
NODE_VERSION="${TENCENT_SDK_NODE_VERSION:-4.1.313}"
TCCLI_VERSION="${TCCLI_VERSION:-3.1.189.1}"
TCCLI_SDK_VERSION="${TCCLI_SDK_VERSION:-3.1.195}"
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
if ! .venv/bin/python -c 'import cryptography, gmssl' >/dev/null 2>&1; then
  echo "== pip install cryptography==$CRYPTOGRAPHY_VERSION gmssl==$GMSSL_VERSION"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check \
    "cryptography==$CRYPTOGRAPHY_VERSION" "gmssl==$GMSSL_VERSION"
fi
.venv/bin/python -c 'import importlib.metadata as m; print("tencentcloud-sdk-python-kms", m.version("tencentcloud-sdk-python-kms"), "cryptography", m.version("cryptography"), "gmssl", m.version("gmssl"))'

if [ ! -f node_modules/tencentcloud-sdk-nodejs/package.json ]; then
  echo "== npm install tencentcloud-sdk-nodejs@$NODE_VERSION"
  [ -f package.json ] || echo '{"name":"kms-server-sdk-tests","private":true}' > package.json
  npm install --no-audit --no-fund --silent "tencentcloud-sdk-nodejs@$NODE_VERSION"
fi
node -e 'console.log("tencentcloud-sdk-nodejs", require("tencentcloud-sdk-nodejs/package.json").version)'

if [ ! -x .venv-tccli/bin/tccli ]; then
  echo "== pip install tccli==$TCCLI_VERSION tencentcloud-sdk-python==$TCCLI_SDK_VERSION (own venv)"
  [ -x .venv-tccli/bin/python ] || "$PYTHON" -m venv .venv-tccli
  .venv-tccli/bin/python -m pip install --quiet --disable-pip-version-check \
    "tccli==$TCCLI_VERSION" "tencentcloud-sdk-python==$TCCLI_SDK_VERSION"
fi
.venv-tccli/bin/python -c 'import importlib.metadata as m; print("tccli", m.version("tccli"))'

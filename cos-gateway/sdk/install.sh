#!/usr/bin/env bash
# Installs the official COS SDKs the conformance tests run against, idempotently:
#   - cos-python-sdk-v5 (PyPI) into the virtualenv sdk/.venv
#   - cos-nodejs-sdk-v5 (npm) into sdk/node_modules
# Both folders are git-ignored. Re-running is cheap: it checks for the installed packages first.
set -euo pipefail
cd "$(dirname "$0")"

PY_SDK_VERSION="${COS_PY_SDK_VERSION:-1.9.44}"
NODE_SDK_VERSION="${COS_NODE_SDK_VERSION:-2.15.4}"
PYTHON="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
  echo "== creating the virtualenv sdk/.venv"
  "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c 'import qcloud_cos' >/dev/null 2>&1; then
  echo "== pip install cos-python-sdk-v5==$PY_SDK_VERSION"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "cos-python-sdk-v5==$PY_SDK_VERSION"
fi
.venv/bin/python -c 'import qcloud_cos, importlib.metadata as m; print("cos-python-sdk-v5", m.version("cos-python-sdk-v5"))'

if [ ! -f node_modules/cos-nodejs-sdk-v5/package.json ]; then
  echo "== npm install cos-nodejs-sdk-v5@$NODE_SDK_VERSION"
  [ -f package.json ] || echo '{"name":"cos-gateway-sdk-tests","private":true}' > package.json
  npm install --no-audit --no-fund --silent "cos-nodejs-sdk-v5@$NODE_SDK_VERSION"
fi
node -e 'console.log("cos-nodejs-sdk-v5", require("cos-nodejs-sdk-v5/package.json").version)'

# Sourced by the set-up scripts: a project venv with the CPU build of torch, then the package.
# Usage: source scripts/_env.sh EXTRAS   (e.g. "zoo" or "all")
# The install is skipped when nothing it depends on changed since the last one: a stamp file in .venv holds
# a hash of pyproject.toml, the version file and the extras (SB3_HLGAUSS_REINSTALL=1 forces the install).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
SETUP_STAMP=".venv/.sb3-hlgauss-setup-${1//[^A-Za-z0-9_,-]/_}"
SETUP_HASH=$(cat pyproject.toml sb3_hlgauss/version.txt | python -c "import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read() + b'$1').hexdigest())")
if [ "${SB3_HLGAUSS_REINSTALL:-0}" != 1 ] && [ -f "$SETUP_STAMP" ] && [ "$(cat "$SETUP_STAMP")" = "$SETUP_HASH" ] \
    && python -c "import sb3_hlgauss" 2>/dev/null; then
  echo "set-up: up to date (.venv, extras: $1); SB3_HLGAUSS_REINSTALL=1 reinstalls" >&2
else
  echo "set-up: installing sb3-hlgauss[$1] into .venv ..." >&2
  rm -f "$SETUP_STAMP"
  # The CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build.
  python -c "import torch" 2>/dev/null || pip install -q "torch==2.13.0"
  pip install -q -e ".[$1]"
  echo "$SETUP_HASH" > "$SETUP_STAMP"
fi

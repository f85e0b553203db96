# Sourced by the scripts for borrowed machines (gpu_check.sh, remote_suite.sh): cd to the repository
# and create $OUT. Such a machine has torch but no network; where the other packages are missing,
# the wheels in .whl/ (see docs/benchmarks.md) are installed to /tmp/site and put on PYTHONPATH.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p "$OUT"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
fi
export PYTHONUNBUFFERED=1

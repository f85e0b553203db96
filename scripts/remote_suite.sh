#!/usr/bin/env bash
# Run part of a benchmark suite on a borrowed many-core machine for at most a fixed time, then pack
# the finished result files into $OUT/results.tgz (unpack them into benchmarks/results/ here; the
# runner skips them from then on). Runs still going at the deadline are stopped and lost: choose
# runs that fit (see the wall times in earlier result files).
# Usage: OUT=/some/dir SECONDS_LIMIT=480 bash scripts/remote_suite.sh --suite minatar_ablation --jobs 12 ...
# Where the packages are missing, wheels in .whl/ are installed to /tmp/site first (no network).
set -uo pipefail
OUT=${OUT:-remote_suite_out}
# shellcheck source=scripts/_device_env.sh
. "$(dirname "$0")/_device_env.sh"
export OMP_NUM_THREADS=1
nproc | tee "$OUT/nproc.txt"
# In its own process group, so that the whole suite (the runner and its workers) can be stopped.
setsid python3 -m benchmarks.run "$@" --results-dir /tmp/results >"$OUT/suite.log" 2>&1 &
SUITE_PID=$!
LIMIT=${SECONDS_LIMIT:-480}
while kill -0 "$SUITE_PID" 2>/dev/null && [ "$SECONDS" -lt "$LIMIT" ]; do sleep 5; done
kill -- -"$SUITE_PID" 2>/dev/null
sleep 2
tail -c 3000 "$OUT/suite.log" | tr '\r' '\n' | grep -v '^\s*$' | tail -20
echo "result files: $(find /tmp/results -name 'seed*.json' | wc -l) after ${SECONDS}s"
tar czf "$OUT/results.tgz" -C /tmp/results . 2>/dev/null
ls -la "$OUT"

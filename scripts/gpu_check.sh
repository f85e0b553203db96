#!/usr/bin/env bash
# GPU checks, for a machine with a CUDA GPU and many cores (not part of CI, which has no GPU).
#   1. tests/test_cuda.py: losses and algorithms on CUDA, trained on the GPU, loaded on the CPU;
#   2. python -m benchmarks.throughput --device cuda: each algorithm vs its SB3 counterpart, networks on the GPU;
#   3. meanwhile, the spare cores run Suite B (reward noise) at 100k steps, single-threaded runs.
# Usage: OUT=/some/dir NOISE_JOBS=14 NOISE_SECONDS=480 bash scripts/gpu_check.sh
# Where the packages are missing, wheels in .whl/ are installed to /tmp/site first.
set -uo pipefail
OUT=${OUT:-gpu_check_out}
# shellcheck source=scripts/_device_env.sh
. "$(dirname "$0")/_device_env.sh"
python3 -c "import torch, stable_baselines3 as sb3, gymnasium as gym; print('torch', torch.__version__, 'sb3', sb3.__version__, 'gymnasium', gym.__version__, torch.cuda.get_device_name())" | tee "$OUT/versions.txt"

# 3. in the background, in its own process group so that it can be stopped as a whole
setsid env OMP_NUM_THREADS=1 python3 -m benchmarks.run --suite noise --steps 100000 --jobs "${NOISE_JOBS:-14}" \
  --results-dir /tmp/results >"$OUT/noise.log" 2>&1 &
NOISE_PID=$!
START=$SECONDS

# 1.
python3 -m pytest tests/test_cuda.py -q -p no:cacheprovider 2>&1 | tee "$OUT/test_cuda.log" | tail -3
# 2.
python3 -m benchmarks.throughput --device cuda --repeats 2 --name throughput_cuda --out "$OUT" 2>&1 | tail -10

# Stop the suite after its time; finished runs are whole files (written atomically), the rest resume elsewhere.
sleep $(( ${NOISE_SECONDS:-480} - (SECONDS - START) > 0 ? ${NOISE_SECONDS:-480} - (SECONDS - START) : 0 ))
kill -- -"$NOISE_PID" 2>/dev/null
sleep 2
tail -c 2000 "$OUT/noise.log" | tr '\r' '\n' | tail -5
find /tmp/results -name "*.json" | wc -l
tar czf "$OUT/noise_results.tgz" -C /tmp/results . 2>/dev/null
ls -la "$OUT"

#!/usr/bin/env bash
# Install sb3-hlgauss with every extra and run the test suite (slow learning tests included).
source "$(dirname "$0")/_env.sh" all
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
python -m pytest -n 2 --dist loadfile --timeout 900 -q "$@"

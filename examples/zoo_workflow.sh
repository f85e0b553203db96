#!/usr/bin/env bash
# Train, enjoy, continue training, tune (one worker, then two on one study) and retrain with the best
# trial: an HL-Gauss DQN agent through RL Zoo, from the command line.
#
#   bash examples/zoo_workflow.sh                                    # real run: 50k steps, 20 trials
#   TIMESTEPS=600 N_TRIALS=2 LOG_DIR=/tmp/zoo bash examples/zoo_workflow.sh   # smoke test
#
# Knobs (environment variables): TIMESTEPS (per training run and per trial), N_TRIALS (per study),
# ENV_ID (default CartPole-v1, which has an entry in zoo_configs/hlgauss_dqn.yml), ALGO, LOG_DIR.
# `python -m sb3_hlgauss.zoo` is RL Zoo's `train`/`enjoy` with hlgauss_dqn, hlgauss_sac and hlgauss_td3
# registered and our zoo_configs/<algo>.yml as the default --conf-file; every rl_zoo3 flag works.
set -euo pipefail

TIMESTEPS=${TIMESTEPS:-50000}
N_TRIALS=${N_TRIALS:-20}
ENV_ID=${ENV_ID:-CartPole-v1}
ALGO=${ALGO:-hlgauss_dqn}
LOG_DIR=${LOG_DIR:-logs/zoo_workflow}
PYTHON=${PYTHON:-python}
ZOO=("$PYTHON" -m sb3_hlgauss.zoo)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

if ! "$PYTHON" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('sb3_hlgauss.zoo.__main__') is None)" 2>/dev/null; then
  echo "skipped: sb3_hlgauss.zoo is not available (install the zoo extra: pip install -e '.[zoo]')"
  exit 0
fi
mkdir -p "$LOG_DIR"
LOG_DIR=$(cd "$LOG_DIR" && pwd)
set -x

# 1. Train with the hyperparameters of zoo_configs/$ALGO.yml (-n overrides n_timesteps).
"${ZOO[@]}" train --algo "$ALGO" --env "$ENV_ID" -n "$TIMESTEPS" --seed 0 -f "$LOG_DIR" \
  --eval-freq "$TIMESTEPS" --eval-episodes 5

# 2. Enjoy: replay the latest experiment (--exp-id 0) without rendering.
"${ZOO[@]}" enjoy --algo "$ALGO" --env "$ENV_ID" -f "$LOG_DIR" --exp-id 0 --no-render -n 500

# 3. Continue training from the saved agent (--trained-agent / -i).
LAST_RUN=$(ls -d "$LOG_DIR/$ALGO/${ENV_ID}"_* | sort -V | tail -n 1)
"${ZOO[@]}" train --algo "$ALGO" --env "$ENV_ID" -n "$TIMESTEPS" --seed 1 -f "$LOG_DIR" \
  --trained-agent "$LAST_RUN/${ENV_ID}.zip"

# 4. Tune with Optuna (TPE sampler, median pruner), trials stored in an SQLite database.
STORAGE="sqlite:///$LOG_DIR/optuna.db"
"${ZOO[@]}" train --algo "$ALGO" --env "$ENV_ID" -n "$TIMESTEPS" -f "$LOG_DIR/tune" -optimize \
  --n-trials "$N_TRIALS" --n-jobs 1 --sampler tpe --pruner median --n-evaluations 2 --eval-episodes 5 \
  --storage "$STORAGE" --study-name "${ALGO}_${ENV_ID}" --seed 0 --no-optim-plots

# 5. Two workers on one study: same --storage and --study-name, started together (the study is created
#    safely by whichever comes first). --max-total-trials caps the finished trials of the whole study.
STUDY="${ALGO}_${ENV_ID}_2workers"
for worker in 1 2; do
  "${ZOO[@]}" train --algo "$ALGO" --env "$ENV_ID" -n "$TIMESTEPS" -f "$LOG_DIR/tune_worker$worker" -optimize \
    --max-total-trials "$N_TRIALS" --n-jobs 1 --sampler tpe --pruner median \
    --n-evaluations 2 --eval-episodes 5 --storage "$STORAGE" --study-name "$STUDY" --seed "$worker" \
    --no-optim-plots > "$LOG_DIR/worker$worker.log" 2>&1 &
done
wait  # `set -e` does not see background failures: the study command below shows what finished

# 6. The shared study: trials by state, the best trial, trials per worker, Optuna's plots as PNG.
"${ZOO[@]}" study --storage "$STORAGE" --study-name "$STUDY" --plots "$LOG_DIR/study_plots"

# 7. Train a fresh agent with the best trial's hyperparameters (config.yml holds what was trained).
"${ZOO[@]}" train --algo "$ALGO" --env "$ENV_ID" -n "$TIMESTEPS" --seed 0 -f "$LOG_DIR/tuned" \
  --storage "$STORAGE" --study-name "$STUDY" --trial-id best
set +x
echo "logs, models and studies in $LOG_DIR; the tuned agent is in $LOG_DIR/tuned/$ALGO"

#!/usr/bin/env bash
# Install sb3-hlgauss (skipped when nothing changed) and train an HL-Gauss DQN agent through RL Zoo, with a
# progress bar; then evaluate the saved agent and print where it is and the commands to watch or tune it.
# Default: hlgauss_dqn on CartPole-v1 with zoo_configs/hlgauss_dqn.yml; any zoo train flag is passed on
# (`python -m sb3_hlgauss.zoo train --help` lists them), e.g. `bash scripts/main.sh --env Acrobot-v1 -n 50000`.
# --verbose 1 brings back SB3's log tables.
source "$(dirname "$0")/_env.sh" zoo
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
if [ "$#" -eq 0 ]; then
  set -- --algo hlgauss_dqn --env CartPole-v1 --seed 0 --eval-freq 5000 --eval-episodes 10 -f logs
fi
STARTED=$(date +%s)
python -m sb3_hlgauss.zoo train --progress --verbose 0 "$@"
python scripts/_summary.py --since "$STARTED" "$@"

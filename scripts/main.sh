#!/usr/bin/env bash
# Install sb3-hlgauss and train an HL-Gauss DQN agent through RL Zoo.
# Default: hlgauss_dqn on CartPole-v1 with zoo_configs/hlgauss_dqn.yml; any zoo train flag overrides it,
# e.g. `bash scripts/main.sh --env Acrobot-v1 -n 50000`.
source "$(dirname "$0")/_env.sh" zoo
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
if [ "$#" -eq 0 ]; then
  set -- --algo hlgauss_dqn --env CartPole-v1 --seed 0 --eval-freq 5000 --eval-episodes 10 -f logs
fi
python -m sb3_hlgauss.zoo train "$@"

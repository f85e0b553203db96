"""Do HLGaussDQN's default loss settings learn a MinAtar game with no support tuning?

Trains ``HLGaussDQN`` with *no* loss arguments (hl_gauss, 101 bins, symlog, [-1e4, 1e4]) and the
MinAtar network, evaluating every ``--eval-every`` steps (20 greedy episodes on a separately seeded
env), and writes the curve and the number of clipped targets to JSON.

Usage::

    python benchmarks/dqn_defaults_minatar.py --game Breakout --steps 150000 --seed 0
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import minatar.gym
import torch as th
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from sb3_hlgauss import HLGaussDQN
from sb3_hlgauss.common.torch_layers import MinAtarCNN


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--game", default="Breakout")
    parser.add_argument("--steps", type=int, default=150_000)
    parser.add_argument("--eval-every", type=int, default=25_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/defaults"))
    args = parser.parse_args()
    th.set_num_threads(1)
    minatar.gym.register_envs()
    env_id = f"MinAtar/{args.game}-v1"

    model = HLGaussDQN(  # no loss settings: the defaults are what is tested
        "CnnPolicy",
        env_id,
        policy_kwargs=dict(features_extractor_class=MinAtarCNN, net_arch=[128]),
        learning_rate=2.5e-4,
        buffer_size=100_000,
        learning_starts=5_000,
        target_update_interval=1_000,
        train_freq=1,
        exploration_final_eps=0.1,
        exploration_fraction=0.1,
        seed=args.seed,
    )
    start, curve = time.time(), []
    model.exploration_rate = 1.0  # before learning: a uniformly random policy, for reference
    random_return = evaluate_policy(model, make_vec_env(env_id, n_envs=1, seed=123), n_eval_episodes=20, deterministic=False)[0]
    print(f"random policy: {random_return:.2f}", flush=True)
    while model.num_timesteps < args.steps:
        model.learn(args.eval_every, reset_num_timesteps=False)
        mean_return, std_return = evaluate_policy(model, make_vec_env(env_id, n_envs=1, seed=123), n_eval_episodes=20)
        curve.append(dict(step=model.num_timesteps, mean_return=mean_return, std_return=std_return))
        print(f"{model.num_timesteps:>8d}  return {mean_return:6.2f} +- {std_return:5.2f}  "
              f"clipped targets {model.n_clipped_targets}  {time.time() - start:6.0f}s", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    result = dict(
        env=env_id, seed=args.seed, steps=args.steps, random_policy_return=random_return, curve=curve,
        n_clipped_targets=model.n_clipped_targets, wall_time_s=round(time.time() - start),
        loss=dict(loss=model.loss, num_bins=model.num_bins, v_min=model.v_min, v_max=model.v_max,
                  value_transform=model.value_transform),
        command=f"python benchmarks/dqn_defaults_minatar.py --game {args.game} --steps {args.steps} --seed {args.seed}",
    )
    (args.out / f"{args.game}_seed{args.seed}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

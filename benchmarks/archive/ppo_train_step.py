"""Time of one ``train()`` call (the update only, no rollout) of HLGaussPPO against SB3's PPO.

Same network, rollout and hyperparameters (the zoo's HalfCheetah-v5 settings: 512 steps, 20 epochs of
minibatches of 64, 256x256 ReLU networks, VecNormalize), interleaved, one torch thread:

    python -m benchmarks.ppo_train_step --repeats 5

Prints the per-repeat times and the ratio of the medians (docs/ppo.md, "Benchmark").
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

from sb3_hlgauss import HLGaussPPO

SETTINGS = dict(
    n_steps=512, batch_size=64, n_epochs=20, gamma=0.98, gae_lambda=0.92, learning_rate=2e-5, ent_coef=4e-4,
    clip_range=0.1, max_grad_norm=0.8, vf_coef=0.5,
    policy_kwargs=dict(net_arch=dict(pi=[256, 256], vf=[256, 256]), activation_fn=th.nn.ReLU, log_std_init=-2, ortho_init=False),
)  # fmt: skip


def train_time(algorithm: type) -> float:
    model = algorithm("MlpPolicy", VecNormalize(make_vec_env("HalfCheetah-v5", n_envs=1, seed=0)), seed=0, device="cpu", **SETTINGS)
    model.learn(SETTINGS["n_steps"])  # one rollout and one update (warm-up); the buffer holds the rollout
    start = time.perf_counter()
    model.train()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    th.set_num_threads(1)
    times: dict[str, list[float]] = {"PPO": [], "HLGaussPPO": []}
    for _ in range(args.repeats):
        for name, algorithm in (("PPO", PPO), ("HLGaussPPO", HLGaussPPO)):
            times[name].append(train_time(algorithm))
    for name, values in times.items():
        print(f"{name}: train() {', '.join(f'{1000 * t:.0f}' for t in values)} ms (median {1000 * statistics.median(values):.0f})")
    print(f"ratio of medians, HLGaussPPO / PPO: {statistics.median(times['HLGaussPPO']) / statistics.median(times['PPO']):.3f}")


if __name__ == "__main__":
    main()

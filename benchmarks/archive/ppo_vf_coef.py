"""How ``vf_coef`` should scale the cross-entropy value loss of HLGaussPPO: a small sweep.

    python -m benchmarks.ppo_vf_coef [--seeds 0 1 2] [--steps 50000] [--coefs 0.25 0.5 1 2]

SB3's ``vf_coef=0.5`` multiplies an MSE in return units (squared reward scale); HLGaussPPO's value loss is
a cross-entropy (``log(num_bins)`` = 4.6 at initialisation, bounded gradient ``p - q`` per logit). The
sweep trains HLGaussPPO with each coefficient, and SB3's PPO at its default, on CartPole-v1 and
Pendulum-v1 with the zoo's tuned PPO settings, and reports the mean training-episode return over the
whole run (learning speed) and over the last 20 episodes. Writes ``results/ppo_vf_coef/vf_coef.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "ppo_vf_coef"

#: The zoo's tuned PPO settings (rl_zoo3 2.9 hyperparams/ppo.yml), schedules spelled out.
ZOO_PPO = {
    "CartPole-v1": dict(n_envs=8, kwargs=dict(n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20,
                                              ent_coef=0.0, learning_rate="lin_0.001", clip_range="lin_0.2")),
    "Pendulum-v1": dict(n_envs=4, kwargs=dict(n_steps=1024, gae_lambda=0.95, gamma=0.9, n_epochs=10, ent_coef=0.0,
                                              learning_rate=1e-3, clip_range=0.2, use_sde=True, sde_sample_freq=4)),
}


def _schedule(value):
    if isinstance(value, str) and value.startswith("lin_"):
        start = float(value[4:])
        return lambda progress: progress * start
    return value


def run(env_id: str, algo: str, vf_coef: float, seed: int, steps: int) -> dict:
    import torch as th
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    from sb3_hlgauss import HLGaussPPO

    th.set_num_threads(1)
    config = ZOO_PPO[env_id]
    env = make_vec_env(env_id, n_envs=config["n_envs"], seed=seed)
    kwargs = {key: _schedule(value) for key, value in config["kwargs"].items()}
    cls = HLGaussPPO if algo == "hlgauss_ppo" else PPO
    model = cls("MlpPolicy", env, vf_coef=vf_coef, seed=seed, device="cpu", **kwargs)
    start = time.perf_counter()
    model.learn(steps)
    returns = [float(r) for monitor in env.envs for r in monitor.get_episode_rewards()]
    ends = [float(t) for monitor in env.envs for t in np.cumsum(monitor.get_episode_lengths())]
    order = np.argsort(ends)
    returns = list(np.asarray(returns)[order])
    return dict(env=env_id, algo=algo, vf_coef=vf_coef, seed=seed, steps=steps, mean_return=float(np.mean(returns)),
                last20=float(np.mean(returns[-20:])), explained_variance=float(model.logger.name_to_value["train/explained_variance"]),
                seconds=time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--coefs", type=float, nargs="+", default=[0.25, 0.5, 1.0, 2.0])
    parser.add_argument("--envs", nargs="+", default=list(ZOO_PPO))
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = []
    for env_id in args.envs:
        for seed in args.seeds:
            for algo, coef in [("ppo", 0.5)] + [("hlgauss_ppo", c) for c in args.coefs]:
                row = run(env_id, algo, coef, seed, args.steps)
                rows.append(row)
                print(json.dumps(row), flush=True)
                (RESULTS / "vf_coef.json").write_text(json.dumps(rows, indent=1))
    lines = [f"# vf_coef sweep, {args.steps} steps, seeds {args.seeds}", "",
             "| env | algo | vf_coef | mean return over training (mean of seeds) | last 20 episodes | explained variance |",
             "|---|---|---|---|---|---|"]
    for env_id in args.envs:
        for algo, coef in [("ppo", 0.5)] + [("hlgauss_ppo", c) for c in args.coefs]:
            cell = [r for r in rows if r["env"] == env_id and r["algo"] == algo and r["vf_coef"] == coef]
            lines.append(f"| {env_id} | {algo} | {coef:g} | {np.mean([r['mean_return'] for r in cell]):.1f} "
                         f"({', '.join(format(r['mean_return'], '.0f') for r in cell)}) | {np.mean([r['last20'] for r in cell]):.1f} "
                         f"| {np.mean([r['explained_variance'] for r in cell]):.2f} |")
    (RESULTS / "vf_coef.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

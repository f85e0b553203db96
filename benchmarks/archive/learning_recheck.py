"""The slow learning tests' configurations, measured (not asserted): before/after a change of the package.

Runs each configuration of tests/test_dqn.py, test_sac.py and test_td3.py's learning tests with the
installed (or ``PYTHONPATH``-first) ``sb3_hlgauss``, evaluating every ``eval_freq`` steps (10 greedy
episodes on a separately seeded env, as ``tests/helpers.best_evaluation_return``) for the whole budget,
and writes one JSON per (configuration, seed) with the curve, the best mean return and the first step
at which the test's threshold was reached. Only keyword arguments are used, so the same script runs
on 0.2.0 and 0.3.0::

    OMP_NUM_THREADS=1 PYTHONPATH=<0.2.0 checkout> python benchmarks/learning_recheck.py --out benchmarks/results/learning_recheck/0.2.0
    OMP_NUM_THREADS=1 python benchmarks/learning_recheck.py --out benchmarks/results/learning_recheck/0.3.0
    python benchmarks/learning_recheck.py --report benchmarks/results/learning_recheck
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch as th

CARTPOLE = dict(
    learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1000, gamma=0.99,
    target_update_interval=10, train_freq=256, gradient_steps=128, exploration_fraction=0.16,
    exploration_final_eps=0.04, policy_kwargs=dict(net_arch=[64, 64]),
)
PENDULUM = dict(learning_rate=1e-3, batch_size=128, learning_starts=500, policy_kwargs=dict(net_arch=[64, 64]))

#: name -> (algorithm, env, kwargs, budget, threshold, eval_freq), as in the learning tests.
CONFIGS = {
    "dqn_default_support": ("HLGaussDQN", "CartPole-v1", CARTPOLE, 50_000, 195, 2_500),
    "dqn_hl_gauss_identity": ("HLGaussDQN", "CartPole-v1", dict(CARTPOLE, loss="hl_gauss", num_bins=51, v_min=0.0, v_max=110.0, value_transform="identity"), 50_000, 195, 2_500),
    "dqn_two_hot_identity": ("HLGaussDQN", "CartPole-v1", dict(CARTPOLE, loss="two_hot", num_bins=51, v_min=0.0, v_max=110.0, value_transform="identity"), 50_000, 195, 2_500),
    "dqn_c51_identity": ("HLGaussDQN", "CartPole-v1", dict(CARTPOLE, loss="c51", num_bins=51, v_min=0.0, v_max=110.0, value_transform="identity"), 50_000, 195, 2_500),
    "sac_default_support": ("HLGaussSAC", "Pendulum-v1", PENDULUM, 10_000, -400, 1_000),
    "td3_default_support": ("HLGaussTD3", "Pendulum-v1", dict(PENDULUM, action_noise="normal_0.1"), 12_000, -400, 1_000),
}


def run(name: str, seed: int, out: Path) -> None:
    import sb3_hlgauss
    from stable_baselines3.common.callbacks import EvalCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.noise import NormalActionNoise

    path = out / f"{name}_seed{seed}.json"
    if path.exists():
        return
    algo, env_id, kwargs, budget, threshold, eval_freq = CONFIGS[name]
    kwargs = copy.deepcopy(kwargs)  # SB3's SAC adds use_sde to the policy_kwargs it is given
    if kwargs.get("action_noise") == "normal_0.1":
        kwargs["action_noise"] = NormalActionNoise(np.zeros(1), 0.1 * np.ones(1))
    model = getattr(sb3_hlgauss, algo)("MlpPolicy", env_id, seed=seed, **kwargs)
    # log_path: EvalCallback keeps its evaluations only when it writes them.
    callback = EvalCallback(
        make_vec_env(env_id, n_envs=1, seed=123), eval_freq=eval_freq, n_eval_episodes=10, deterministic=True,
        verbose=0, log_path=tempfile.mkdtemp(),
    )
    start = time.perf_counter()
    model.learn(budget, callback=callback)
    curve = [(int(step), float(np.mean(returns))) for step, returns in zip(callback.evaluations_timesteps, callback.evaluations_results)]
    reached = next((step for step, value in curve if value >= threshold), None)
    result = dict(
        config=name, seed=seed, version=sb3_hlgauss.__version__, curve=curve, best=max(v for _, v in curve),
        threshold=threshold, first_step_at_threshold=reached, budget=budget, wall_time_s=time.perf_counter() - start,
        n_clipped_targets=int(getattr(model, "n_clipped_targets", 0)),
    )
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    print(name, seed, result["version"], "best", round(result["best"], 1), "reached at", reached, flush=True)


def report(root: Path) -> str:
    rows = {}
    for path in sorted(root.glob("*/*.json")):
        r = json.loads(path.read_text())
        rows.setdefault(r["config"], {}).setdefault(r["version"], []).append(r)
    versions = sorted({v for by in rows.values() for v in by})
    lines = ["| configuration | " + " | ".join(f"{v}: best (step at threshold)" for v in versions) + " |", "|---" * (len(versions) + 1) + "|"]
    for config, by in rows.items():
        cells = []
        for v in versions:
            runs = sorted(by.get(v, []), key=lambda r: r["seed"])
            cells.append(", ".join(f"{r['best']:.0f} ({r['first_step_at_threshold'] or 'not reached'})" for r in runs) or "-")
        lines.append(f"| {config} | " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    (root / "summary.md").write_text(text + "\n")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS))
    parser.add_argument("--report", type=Path)
    args = parser.parse_args()
    if args.report:
        print(report(args.report))
        return
    th.set_num_threads(1)
    for seed in args.seeds:
        for name in args.configs:
            run(name, seed, args.out)


if __name__ == "__main__":
    main()

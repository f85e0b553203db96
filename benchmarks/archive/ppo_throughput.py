"""Throughput of HLGaussPPO against SB3's PPO: same network, envs and hyperparameters, one process.

Each repeat times ``learn`` over ``--steps`` env steps (rollouts and updates) after a one-rollout
warm-up, alternating the variants so that machine load affects them alike. Reports, per env, the median
env-steps/s of each variant, its spread over the repeats (min-max) and the ratio of medians (ours / SB3),
with the zoo's tuned PPO settings on CartPole-v1 (8 envs) and HalfCheetah-v5 (VecNormalize, 256x256 ReLU).

Variants: ``sb3_ppo`` (SB3's PPO as shipped) and ``hl_gauss_default`` (HLGaussPPO as a user gets it:
default support). Both are built by one call with the same arguments (env, policy, optimizer, device)
and run under the same process settings (one torch thread): HLGaussPPO has no execution settings of its
own, so the ratio measures the categorical head and its loss alone.

Two clocks: wall time, and the process's CPU time (``time.process_time``). The runs are single-threaded
(one torch thread, one env process), so CPU time leaves out the time the process waited for a core
that another job held: on a shared 2-core machine it is the steadier of the two ratios.

Usage::

    python -m benchmarks.ppo_throughput --repeats 5 --steps 8192 --out benchmarks/results/throughput

Writes ``ppo_throughput.{json,csv,md,png}`` under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

import sb3_hlgauss
from benchmarks.dqn_throughput import cpu_name
from sb3_hlgauss import HLGaussPPO

#: The zoo's tuned PPO settings (rl-zoo3 2.9 hyperparams/ppo.yml; HalfCheetah: its -v4 entry).
ENVS: dict[str, dict[str, Any]] = {
    "CartPole-v1": dict(
        n_envs=8, normalize=False,
        kwargs=dict(n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0,
                    learning_rate=1e-3, clip_range=0.2),
    ),
    "HalfCheetah-v5": dict(
        n_envs=1, normalize=True,
        kwargs=dict(batch_size=64, n_steps=512, gamma=0.98, learning_rate=2.0633e-05, ent_coef=0.000401762,
                    clip_range=0.1, n_epochs=20, gae_lambda=0.92, max_grad_norm=0.8, vf_coef=0.58096,
                    policy_kwargs=dict(log_std_init=-2, ortho_init=False, activation_fn=th.nn.ReLU,
                                       net_arch=dict(pi=[256, 256], vf=[256, 256]))),
    ),
}
VARIANTS = ("sb3_ppo", "hl_gauss_default")


def make_model(variant: str, env_id: str, seed: int):
    config = ENVS[env_id]
    env = make_vec_env(env_id, n_envs=config["n_envs"], seed=seed)
    kwargs = dict(config["kwargs"])
    if config["normalize"]:
        env = VecNormalize(env, gamma=kwargs["gamma"])
    # One constructor call for both sides: the same arguments, SB3's optimizer defaults on both.
    algorithm = PPO if variant == "sb3_ppo" else HLGaussPPO
    return algorithm("MlpPolicy", env, seed=seed, device="cpu", **kwargs)


def time_run(variant: str, env_id: str, steps: int, seed: int) -> tuple[float, float]:
    """Env-steps per second of wall time and of this process's CPU time."""
    model = make_model(variant, env_id, seed)
    model.learn(model.n_steps * model.n_envs)  # warm-up: one rollout and one update, not timed
    start, start_cpu = time.perf_counter(), time.process_time()
    model.learn(steps, reset_num_timesteps=False)
    timed = model.num_timesteps - model.n_steps * model.n_envs
    return timed / (time.perf_counter() - start), timed / (time.process_time() - start_cpu)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = sorted({r["env"] for r in rows}, key=list(ENVS).index)
    fig, axes = plt.subplots(1, len(envs), figsize=(4.6 * len(envs), 3.0), squeeze=False)
    for ax, env_id in zip(axes.flat, envs, strict=False):
        cells = [r for r in rows if r["env"] == env_id]
        for i, r in enumerate(cells):
            ax.plot(r["samples"], [i] * len(r["samples"]), "o", mfc="none", color=f"C{i}", alpha=0.6)
            ax.plot([r["steps_per_s_median"]], [i], "|", color=f"C{i}", markersize=18, mew=2)
        ax.set_yticks(range(len(cells)), [f"{r['variant']} ({r['ratio_vs_sb3']:.2f}x)" for r in cells])
        ax.set_xlabel("env-steps/s (repeats; bar: median)")
        ax.set_title(env_id, fontsize=10)
        ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=8192)
    parser.add_argument("--envs", nargs="+", default=list(ENVS), choices=list(ENVS))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/throughput"))
    args = parser.parse_args()
    if "sb3_ppo" not in args.variants:
        parser.error("the ratios need the sb3_ppo variant")
    th.set_num_threads(1)

    rows = []
    for env_id in args.envs:
        samples: dict[str, list[float]] = {variant: [] for variant in args.variants}
        cpu_samples: dict[str, list[float]] = {variant: [] for variant in args.variants}
        for repeat in range(args.repeats):
            order = args.variants if repeat % 2 == 0 else args.variants[::-1]
            for variant in order:
                wall, cpu = time_run(variant, env_id, args.steps, seed=repeat)
                samples[variant].append(wall)
                cpu_samples[variant].append(cpu)
        baseline = float(np.median(samples["sb3_ppo"]))
        cpu_baseline = float(np.median(cpu_samples["sb3_ppo"]))
        for variant in args.variants:
            median = float(np.median(samples[variant]))
            cpu_median = float(np.median(cpu_samples[variant]))
            # Spread of the ratio: each repeat's ours / SB3 (same seed, adjacent in time).
            ratios = [s / b for s, b in zip(samples[variant], samples["sb3_ppo"], strict=True)]
            cpu_ratios = [s / b for s, b in zip(cpu_samples[variant], cpu_samples["sb3_ppo"], strict=True)]
            rows.append(dict(
                env=env_id, variant=variant, steps_per_s_median=round(median, 1),
                steps_per_s_min=round(min(samples[variant]), 1), steps_per_s_max=round(max(samples[variant]), 1),
                ratio_vs_sb3=round(median / baseline, 3), ratio_per_repeat_min=round(min(ratios), 3),
                ratio_per_repeat_max=round(max(ratios), 3), samples=[round(s, 1) for s in samples[variant]],
                cpu_steps_per_s_median=round(cpu_median, 1), cpu_ratio_vs_sb3=round(cpu_median / cpu_baseline, 3),
                cpu_ratio_per_repeat_min=round(min(cpu_ratios), 3), cpu_ratio_per_repeat_max=round(max(cpu_ratios), 3),
                cpu_samples=[round(s, 1) for s in cpu_samples[variant]],
            ))  # fmt: skip
            print(
                f"{env_id:16s} {variant:18s} {median:8.1f} steps/s  ratio {median / baseline:.3f}  "
                f"(CPU time: {cpu_median:8.1f} steps/s, ratio {cpu_median / cpu_baseline:.3f})",
                flush=True,
            )

    args.out.mkdir(parents=True, exist_ok=True)
    meta = dict(
        command=f"python -m benchmarks.ppo_throughput --repeats {args.repeats} --steps {args.steps} --envs {' '.join(args.envs)}",
        machine=f"{cpu_name()} ({os.cpu_count()} cores), {th.get_num_threads()} torch thread",
        versions=dict(sb3_hlgauss=sb3_hlgauss.__version__, torch=th.__version__),
    )
    name = args.out / "ppo_throughput"
    name.with_suffix(".json").write_text(json.dumps(dict(meta=meta, rows=rows), indent=2))
    columns = ["env", "variant", "steps_per_s_median", "steps_per_s_min", "steps_per_s_max", "ratio_vs_sb3",
               "ratio_per_repeat_min", "ratio_per_repeat_max", "cpu_steps_per_s_median", "cpu_ratio_vs_sb3",
               "cpu_ratio_per_repeat_min", "cpu_ratio_per_repeat_max"]  # fmt: skip
    name.with_suffix(".csv").write_text(
        "\n".join([",".join(columns)] + [",".join(str(r[c]) for c in columns) for r in rows]) + "\n"
    )
    lines = [
        f"Command: `{meta['command']}`; machine: {meta['machine']}.", "",
        "| env | variant | env-steps/s (wall): median [min, max] | ratio vs SB3 PPO (medians) | per-repeat ratio [min, max] "
        "| ratio, CPU time (medians) | per-repeat, CPU time [min, max] |",
        "|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    lines += [
        f"| {r['env']} | {r['variant']} | {r['steps_per_s_median']} [{r['steps_per_s_min']}, {r['steps_per_s_max']}] | "
        f"{r['ratio_vs_sb3']:.3f} | [{r['ratio_per_repeat_min']:.3f}, {r['ratio_per_repeat_max']:.3f}] | "
        f"{r['cpu_ratio_vs_sb3']:.3f} | [{r['cpu_ratio_per_repeat_min']:.3f}, {r['cpu_ratio_per_repeat_max']:.3f}] |"
        for r in rows
    ]
    name.with_suffix(".md").write_text("\n".join(lines) + "\n")
    plot(rows, name.with_suffix(".png"))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

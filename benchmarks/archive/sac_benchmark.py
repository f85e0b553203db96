"""HLGaussSAC vs Stable-Baselines3's SAC: throughput and learning curves.

Same network and hyperparameters for both (SB3's SAC defaults: two [256, 256] critics and a
[256, 256] actor, batch 256, lr 3e-4, one gradient step per env step, ``ent_coef="auto"``); the
only difference is the critic: MSE on a scalar head (SAC) vs cross-entropy on 101 logits
(HLGaussSAC, package default support: symlog, [-1e4, 1e4], HL-Gauss sigma = 0.75 bin widths).

Modes (all single-threaded, ``torch.set_num_threads(1)``):

``throughput``
    env-steps/s of ``learn`` after the warm-up, SAC and HLGaussSAC interleaved in one process,
    ``--repeats`` times; reports the medians and the ratio of the medians (target >= 0.90).
``curves``
    deterministic evaluation return every ``--eval-every`` steps for each (env, variant, seed);
    appends rows to ``curves.csv`` and skips runs already there (resumable).
``report``
    final-return table (mean +- std over seeds of the last evaluation), ``summary.json``,
    ``final_returns.md`` and ``curves.png``.

Variants: ``sac`` (SB3), ``hlgauss_sac`` (default support, no hand-set range) and, on Pendulum
only, ``hlgauss_sac_rmax`` (identity transform on [-r_max / (1 - gamma), 0] widened by 5%,
r_max = pi^2 + 0.1 * 8^2 + 0.001 * 2^2 = 16.27: the hand-set range rule).

Example::

    OMP_NUM_THREADS=1 python benchmarks/sac_benchmark.py throughput --env HalfCheetah-v5 --steps 1000 --repeats 5 --extra-bins 51 64
    OMP_NUM_THREADS=1 python benchmarks/sac_benchmark.py curves --seeds 0 1 2
    python benchmarks/sac_benchmark.py report
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import statistics
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3 import SAC
from stable_baselines3.common.callbacks import BaseCallback

from sb3_hlgauss import HLGaussSAC

RESULTS = Path(__file__).resolve().parent / "results" / "sac"  # --results-dir overrides it
GAMMA = 0.99
PENDULUM_R_MAX = math.pi**2 + 0.1 * 8**2 + 0.001 * 2**2

#: Shared hyperparameters (SB3 SAC defaults except learning_starts, shortened to fit the budget).
COMMON: dict[str, Any] = dict(learning_rate=3e-4, batch_size=256, gamma=GAMMA, buffer_size=1_000_000)

#: Per-env budget: (total steps, learning_starts, eval every, eval episodes).
#: Sized for a shared 2-core machine (~30 env-steps/s per process): far from convergence on MuJoCo.
BUDGETS: dict[str, tuple[int, int, int, int]] = {
    "Pendulum-v1": (5_000, 500, 1_000, 5),
    "HalfCheetah-v5": (8_000, 1_000, 2_000, 3),
    "Hopper-v5": (8_000, 1_000, 2_000, 3),
}


def make_model(variant: str, env_id: str, seed: int, learning_starts: int) -> SAC:
    kwargs = dict(COMMON, learning_starts=learning_starts, seed=seed, verbose=0)
    if variant == "sac":
        return SAC("MlpPolicy", env_id, **kwargs)
    if variant == "hlgauss_sac":
        return HLGaussSAC("MlpPolicy", env_id, **kwargs)
    if variant.startswith("hlgauss_sac_") and variant.removeprefix("hlgauss_sac_").isdigit():  # e.g. hlgauss_sac_51
        return HLGaussSAC("MlpPolicy", env_id, num_bins=int(variant.removeprefix("hlgauss_sac_")), **kwargs)
    if variant == "hlgauss_sac_rmax":
        v_bound = 1.05 * PENDULUM_R_MAX / (1 - GAMMA)
        return HLGaussSAC("MlpPolicy", env_id, value_transform="identity", v_min=-v_bound, v_max=0.05 * v_bound, **kwargs)
    raise ValueError(f"unknown variant {variant!r}")


# ------------------------------------------------------------------------- throughput
def throughput(args: argparse.Namespace) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    rates: dict[str, list[float]] = {"sac": [], "hlgauss_sac": []}
    rates.update({f"hlgauss_sac_{bins}": [] for bins in args.extra_bins})
    for repeat in range(args.repeats):
        for variant in rates:  # interleaved: load changes on a shared machine hit both alike
            model = make_model(variant, args.env, seed=repeat, learning_starts=args.warmup)
            model.learn(args.warmup + 10)  # fill the buffer past learning_starts, first updates
            start = time.perf_counter()
            model.learn(args.steps, reset_num_timesteps=False)
            rates[variant].append(args.steps / (time.perf_counter() - start))
            print(f"repeat {repeat} {variant:12s} {rates[variant][-1]:7.1f} env-steps/s", flush=True)
    medians = {variant: statistics.median(values) for variant, values in rates.items()}
    result = dict(
        env=args.env,
        steps=args.steps,
        warmup=args.warmup,
        repeats=args.repeats,
        torch_threads=th.get_num_threads(),
        env_steps_per_s=rates,
        median_env_steps_per_s=medians,
        ratio_of_medians={v: medians[v] / medians["sac"] for v in rates if v != "sac"},
        median_of_paired_ratios={
            v: statistics.median(h / s for h, s in zip(rates[v], rates["sac"])) for v in rates if v != "sac"
        },
        hyperparameters=dict(COMMON, net_arch=[256, 256], gradient_steps=1, train_freq=1),
    )
    out = RESULTS / f"throughput_{args.env}.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"\n{args.env}: SAC {medians['sac']:.1f} env-steps/s (median of {args.repeats})")
    for v in rates:
        if v != "sac":
            print(
                f"{v:16s} {medians[v]:6.1f} env-steps/s, ratio of medians {result['ratio_of_medians'][v]:.3f}, "
                f"median of paired ratios {result['median_of_paired_ratios'][v]:.3f}"
            )
    print(f"-> {out}")


# ----------------------------------------------------------------------------- curves
class EvalCurve(BaseCallback):
    """Deterministic evaluation on a separate env every ``every`` steps (and at the end)."""

    def __init__(self, env_id: str, every: int, episodes: int, seed: int) -> None:
        super().__init__()
        self.eval_env = gym.make(env_id)
        self.every, self.episodes, self.seed = every, episodes, seed
        self.points: list[tuple[int, float]] = []

    def evaluate(self) -> None:
        returns = []
        for episode in range(self.episodes):
            obs, _ = self.eval_env.reset(seed=10_000 + 100 * self.seed + episode)
            done, total = False, 0.0
            while not done:
                action, _ = self.model.predict(obs, deterministic=True)
                obs, reward, terminated, truncated, _ = self.eval_env.step(action)
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
        self.points.append((self.num_timesteps, float(np.mean(returns))))

    def _on_step(self) -> bool:
        if self.num_timesteps % self.every == 0:
            self.evaluate()
        return True


def curves(args: argparse.Namespace) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "curves.csv"
    done: set[tuple[str, str, int]] = set()
    if path.exists():
        with path.open() as f:
            done = {(row["env"], row["variant"], int(row["seed"])) for row in csv.DictReader(f)}
    # Pendulum first, then the MuJoCo tasks seed by seed, the r_max variant last: a run cut short
    # still leaves complete comparisons.
    runs = [
        (env_id, variant, seed)
        for seed in args.seeds
        for env_id in args.envs
        for variant in args.variants
        if variant != "hlgauss_sac_rmax" or env_id == "Pendulum-v1"
    ]
    runs.sort(key=lambda run: (run[1] == "hlgauss_sac_rmax", run[0] != "Pendulum-v1"))  # stable: seed order kept
    for env_id, variant, seed in runs:
        if (env_id, variant, seed) in done:
            continue
        steps, learning_starts, every, episodes = BUDGETS[env_id]
        steps = args.steps or steps
        model = make_model(variant, env_id, seed, learning_starts)
        callback = EvalCurve(env_id, every, episodes, seed)
        start = time.perf_counter()
        model.learn(steps, callback=callback)
        elapsed = time.perf_counter() - start
        clip_fraction = getattr(model, "n_clipped_targets", 0) / max(model._n_updates * COMMON["batch_size"], 1)
        new_file = not path.exists()
        with path.open("a", newline="") as f:
            writer = csv.writer(f)
            if new_file:
                writer.writerow(["env", "variant", "seed", "step", "eval_return", "wall_s", "clip_fraction"])
            for step, value in callback.points:
                writer.writerow([env_id, variant, seed, step, f"{value:.2f}", f"{elapsed:.1f}", f"{clip_fraction:.5f}"])
        print(
            f"{env_id:15s} {variant:17s} seed {seed}: final {callback.points[-1][1]:8.1f} "
            f"({elapsed:.0f} s, {steps / elapsed:.0f} steps/s, clipped targets {clip_fraction:.4f})",
            flush=True,
        )


# ----------------------------------------------------------------------------- report
def report(args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader((RESULTS / "curves.csv").open()))
    envs = [env for env in BUDGETS if any(row["env"] == env for row in rows)]
    variants = [v for v in ("sac", "hlgauss_sac", "hlgauss_sac_rmax") if any(row["variant"] == v for row in rows)]
    summary: dict[str, Any] = {}
    lines = ["| env | variant | seeds | final return (mean +- std) | per seed | clipped targets |", "|---|---|---|---|---|---|"]
    fig, axes = plt.subplots(1, len(envs), figsize=(5 * len(envs), 3.6), squeeze=False)
    for ax, env_id in zip(axes[0], envs):
        for variant in variants:
            runs: dict[int, list[tuple[int, float]]] = {}
            clip: dict[int, float] = {}
            for row in rows:
                if row["env"] == env_id and row["variant"] == variant:
                    runs.setdefault(int(row["seed"]), []).append((int(row["step"]), float(row["eval_return"])))
                    clip[int(row["seed"])] = float(row["clip_fraction"])
            if not runs:
                continue
            finals = [sorted(points)[-1][1] for points in runs.values()]
            mean, std = float(np.mean(finals)), float(np.std(finals))
            summary.setdefault(env_id, {})[variant] = dict(
                seeds=sorted(runs), final_returns=finals, mean=mean, std=std, clip_fraction=float(np.mean(list(clip.values())))
            )
            per_seed = ", ".join(f"{v:.0f}" for v in finals)
            lines.append(
                f"| {env_id} | {variant} | {len(finals)} | {mean:.0f} +- {std:.0f} | {per_seed} | {np.mean(list(clip.values())):.4f} |"
            )
            steps = sorted({s for points in runs.values() for s, _ in points})
            curves_ = np.array([[dict(points).get(s, np.nan) for s in steps] for points in runs.values()])
            m, sd = np.nanmean(curves_, 0), np.nanstd(curves_, 0)
            ax.plot(steps, m, label=f"{variant} (n={len(runs)})")
            ax.fill_between(steps, m - sd, m + sd, alpha=0.2)
        ax.set_title(env_id)
        ax.set_xlabel("env steps")
        ax.set_ylabel("eval return")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(RESULTS / "curves.png", dpi=110)
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2))
    table = "\n".join(lines)
    (RESULTS / "final_returns.md").write_text(table + "\n")
    print(table)


def main() -> None:
    th.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("throughput")
    p.add_argument("--env", default="HalfCheetah-v5")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--warmup", type=int, default=300)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--extra-bins", nargs="*", type=int, default=[], help="also time HLGaussSAC with these num_bins")
    p = sub.add_parser("curves")
    p.add_argument("--envs", nargs="+", default=list(BUDGETS))
    p.add_argument("--variants", nargs="+", default=["sac", "hlgauss_sac", "hlgauss_sac_rmax"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=None, help="override the env steps of every env's budget")
    sub.add_parser("report")
    for p in sub.choices.values():
        p.add_argument("--results-dir", type=Path, default=None, help="default: benchmarks/results/sac")
    args = parser.parse_args()
    if args.results_dir is not None:
        global RESULTS
        RESULTS = args.results_dir
    {"throughput": throughput, "curves": curves, "report": report}[args.mode](args)


if __name__ == "__main__":
    main()

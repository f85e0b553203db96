"""Suite C: regression on non-stationary targets (plasticity), after Farebrother et al. (2024), Sec. 5.

``python -m benchmarks.plasticity [--steps-per-phase 2000] [--seeds 0 1 2]``

A fixed set of random inputs ``x`` (no download: Gaussian vectors instead of CIFAR-10 images) is
regressed onto ``y = sin(1e5 f(x)) + b``, where ``f`` is a freshly initialised random network in
every phase and the offset ``b`` steps through 0, 8, 16, 24, 32. The high-frequency sine makes the
targets look random: fitting them is memorisation, and the error at the end of each phase measures
how well the network can still fit new targets after the earlier phases (its plasticity).

Heads and losses (same torso, same optimiser):

- ``mse``: one scalar output, ``F.mse_loss``;
- ``hl_gauss``, ``two_hot``: 101 logits over [-40, 40], cross-entropy (``sb3_hlgauss.common.losses``);
- ``categorical_mse``: the same 101-logit head trained with MSE on its expected value (ablation).

Paper scale: CIFAR-10 inputs, a ResNet, 5,000 steps per phase, batch 512, Adam 1e-3. Here: 4,096
Gaussian inputs of dimension 32, an MLP with two hidden layers of 256 units, batch 256, Adam 1e-3,
1,000 steps per phase by default, so that the whole study runs in minutes on one CPU core.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from torch import nn
from torch.nn import functional as F

from benchmarks.run import RESULTS_DIR, machine_info, package_versions

VARIANTS = ["mse", "two_hot", "hl_gauss", "categorical_mse"]
NAMES = {"mse": "MSE (scalar head)", "two_hot": "Two-Hot", "hl_gauss": "HL-Gauss", "categorical_mse": "Categorical + MSE"}
OFFSETS = [0.0, 8.0, 16.0, 24.0, 32.0]
SUPPORT = dict(v_min=-40.0, v_max=40.0, num_bins=101, value_transform="identity")


def mlp(in_dim: int, hidden: int, out_dim: int) -> nn.Module:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))


def random_targets(x: th.Tensor, offset: float, generator: th.Generator) -> th.Tensor:
    """``sin(1e5 f(x)) + b`` with a fresh random network ``f`` (PyTorch's default initialisation)."""
    seed = int(th.randint(0, 2**31 - 1, (1,), generator=generator))
    with th.no_grad(), th.random.fork_rng():
        th.manual_seed(seed)
        f = nn.Sequential(nn.Linear(x.shape[1], 128), nn.ReLU(), nn.Linear(128, 1))
        return th.sin(1e5 * f(x)).squeeze(-1) + offset


def run_variant(variant: str, seed: int, steps_per_phase: int, n: int, dim: int, hidden: int, batch: int, lr: float,
                eval_every: int) -> dict[str, Any]:
    from sb3_hlgauss.common.losses import make_loss

    th.manual_seed(seed)
    data_gen = th.Generator().manual_seed(10_000 + seed)  # inputs and targets: shared by every variant
    x = th.randn(n, dim, generator=data_gen)
    loss_module = None if variant == "mse" else make_loss(variant, **SUPPORT)
    net = mlp(dim, hidden, 1 if loss_module is None else loss_module.num_bins)
    optimizer = th.optim.Adam(net.parameters(), lr=lr)
    batch_gen = th.Generator().manual_seed(20_000 + seed)

    def predict(inputs: th.Tensor) -> th.Tensor:
        out = net(inputs)
        return out.squeeze(-1) if loss_module is None else loss_module.to_value(out)

    curve, phases = [], []
    step = 0
    for offset in OFFSETS:
        y = random_targets(x, offset, data_gen)
        for _ in range(steps_per_phase):
            idx = th.randint(0, n, (batch,), generator=batch_gen)
            out = net(x[idx])
            loss = F.mse_loss(out.squeeze(-1), y[idx]) if loss_module is None else loss_module(out, y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if step % eval_every == 0:
                with th.no_grad():
                    curve.append((step, float(F.mse_loss(predict(x), y))))
        with th.no_grad():
            mse = float(F.mse_loss(predict(x), y))
        phases.append({"offset": offset, "final_mse": mse, "target_var": float(y.var())})
    return {"variant": variant, "seed": seed, "phases": phases, "curve": curve}


def plot(results: list[dict[str, Any]], steps_per_phase: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.6))
    for i, variant in enumerate([v for v in VARIANTS if any(r["variant"] == v for r in results)]):
        runs = [r for r in results if r["variant"] == variant]
        steps = np.array([s for s, _ in runs[0]["curve"]])
        errors = np.array([[e for _, e in r["curve"]] for r in runs])
        ax1.plot(steps, errors.mean(0), color=f"C{i}", label=NAMES[variant], lw=1)
        finals = np.array([[p["final_mse"] for p in r["phases"]] for r in runs])
        ax2.errorbar(OFFSETS, finals.mean(0), yerr=finals.std(0) if len(runs) > 1 else None, marker="o", capsize=3,
                     color=f"C{i}", label=NAMES[variant])
    for b in range(1, len(OFFSETS)):
        ax1.axvline(b * steps_per_phase, color="grey", lw=0.5, ls="--")
    ax1.set_yscale("log")
    ax1.set_xlabel("gradient step (a new target every phase)")
    ax1.set_ylabel("training MSE (all inputs)")
    ax2.set_yscale("log")
    ax2.set_xlabel("target offset b of the phase")
    ax2.set_ylabel("MSE at the end of the phase")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps-per-phase", type=int, default=1_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=VARIANTS, choices=VARIANTS)
    parser.add_argument("--n", type=int, default=4_096, help="number of fixed inputs")
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "plasticity")
    args = parser.parse_args(argv)
    th.set_num_threads(1)

    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    config.update(offsets=OFFSETS, support=SUPPORT, optimizer="Adam")
    results, t0 = [], time.perf_counter()
    for seed in args.seeds:
        for variant in args.variants:
            t = time.perf_counter()
            results.append(run_variant(variant, seed, args.steps_per_phase, args.n, args.dim, args.hidden, args.batch,
                                       args.lr, args.eval_every))
            print(f"seed {seed} {variant:16s} " + " ".join(f"b={p['offset']:g}:{p['final_mse']:.4f}" for p in results[-1]["phases"])
                  + f"  ({time.perf_counter() - t:.0f}s)", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    wall = time.perf_counter() - t0
    (args.out / "results.json").write_text(json.dumps(
        {"config": config, "results": results, "wall_time_s": wall, "versions": package_versions(), "machine": machine_info()}))
    plot(results, args.steps_per_phase, args.out / "plasticity.png")

    lines = [
        (f"Final-phase training MSE per offset b (mean +- std over {len(args.seeds)} seed(s); "
         f"{args.steps_per_phase} steps per phase; target variance within a phase ~0.5)"),
        "",
        "| variant | " + " | ".join(f"b={b:g}" for b in OFFSETS) + " |", "|---" * (len(OFFSETS) + 1) + "|",
    ]
    for variant in args.variants:
        finals = np.array([[p["final_mse"] for p in r["phases"]] for r in results if r["variant"] == variant])
        lines.append(f"| {NAMES[variant]} | " + " | ".join(f"{m:.4f} +- {s:.4f}" for m, s in zip(finals.mean(0), finals.std(0))) + " |")
    lines += ["", f"Wall time: {wall:.0f}s on {machine_info()['cpu']} (1 thread)."]
    (args.out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

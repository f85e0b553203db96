"""Make the figures of docs/losses.md from the loss module itself.

    python docs/make_figures.py                 # writes docs/img/target_distributions.png
    python docs/make_figures.py --out-dir /tmp  # elsewhere
"""

from __future__ import annotations

import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch as th  # noqa: E402

from sb3_hlgauss import make_loss  # noqa: E402

GRID = dict(v_min=-10.0, v_max=10.0, num_bins=21, value_transform="identity")
TARGET = 2.3  # a scalar TD target, in return units


def target_distributions(path: str) -> None:
    hl_gauss = make_loss("hl_gauss", **GRID)  # sigma = 0.75 bin widths
    hl_gauss_wide = make_loss("hl_gauss", sigma_ratio=2.0, **GRID)
    two_hot = make_loss("two_hot", **GRID)
    c51 = make_loss("c51", **GRID)
    centers = hl_gauss.centers.numpy()
    width = hl_gauss.bin_width
    y = th.tensor([TARGET])

    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6), sharey=True)

    ax = axes[0]
    ax.bar(centers, hl_gauss.to_probs(y)[0].numpy(), width=0.9 * width, label="sigma = 0.75 w")
    ax.step(centers, hl_gauss_wide.to_probs(y)[0].numpy(), where="mid", color="C3", label="sigma = 2 w")
    ax.set_title(f"HL-Gauss, target y = {TARGET}")
    ax.legend(loc="upper left", fontsize=8)

    ax = axes[1]
    ax.bar(centers, two_hot.to_probs(y)[0].numpy(), width=0.9 * width, color="C1")
    ax.set_title(f"Two-Hot, target y = {TARGET}")

    # C51: the target network's distribution at s' (here a two-mode one), shifted by r + gamma z and projected.
    reward, gamma = 1.0, 0.9
    next_probs = 0.6 * make_loss("hl_gauss", sigma_ratio=1.0, **GRID).to_probs(th.tensor([-4.0]))[0] \
        + 0.4 * make_loss("hl_gauss", sigma_ratio=1.0, **GRID).to_probs(th.tensor([6.0]))[0]
    target = c51.td_target(th.tensor([reward]), gamma, next_probs.log().unsqueeze(0))
    ax = axes[2]
    ax.step(centers, next_probs.numpy(), where="mid", color="grey", label="p(s') of the target net")
    ax.bar(centers, target.probs[0].numpy(), width=0.9 * width, color="C2", alpha=0.8, label="projected r + 0.9 z")
    ax.set_title(f"C51, r = {reward}, gamma = {gamma}")
    ax.legend(loc="upper left", fontsize=8)

    ax = axes[3]
    edge = th.tensor([9.8])
    probs = hl_gauss.to_probs(edge)[0]
    decoded = float(hl_gauss.to_value(probs.log().unsqueeze(0)))
    ax.bar(centers, probs.numpy(), width=0.9 * width, color="C4")
    ax.axvline(9.8, color="k", lw=1, ls="--", label="target 9.8")
    ax.axvline(decoded, color="C3", lw=1, label=f"decodes to {decoded:.2f}")
    ax.set_title("HL-Gauss near the edge: truncated")
    ax.legend(loc="upper left", fontsize=8)

    for ax in axes:
        ax.set_xlabel("bin centre (return units)")
        ax.set_xlim(-10, 10)
    axes[0].set_ylabel("target probability")
    fig.suptitle("Target distributions on 21 bins over [-10, 10] (bin width w = 20/21)", y=1.02)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    print(f"saved {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "img"))
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    target_distributions(os.path.join(args.out_dir, "target_distributions.png"))


if __name__ == "__main__":
    main()

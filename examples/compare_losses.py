"""Compare regression (SB3's Huber DQN, MSE DQN) with classification (HL-Gauss, Two-Hot, C51) on one env.

Trains one agent per loss with the same hyperparameters, records the return of every training
episode and saves a learning-curve PNG (mean over seeds, shaded min-max).

    python examples/compare_losses.py                                   # CartPole-v1, 50k steps, 3 seeds
    python examples/compare_losses.py --timesteps 500 --seeds 1 --output /tmp/curves.png   # smoke test
    python examples/compare_losses.py --env Acrobot-v1 --v-min -110 --v-max 10 --losses huber,hl_gauss

``huber`` is SB3's DQN unchanged (Huber loss); ``mse`` is the same DQN with a squared loss (the
paper's regression baseline); every other name is an sb3-hlgauss loss run by ``HLGaussDQN``.
The classification agents use the same learning rate as the regression ones here, for a like-for-like
comparison on a small task; the paper uses a 4x larger one for them on Atari.
"""

from __future__ import annotations

import argparse
import os
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from stable_baselines3 import DQN  # noqa: E402
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402

from sb3_hlgauss import HLGaussDQN, available_losses  # noqa: E402
from sb3_hlgauss.baselines import MSEDQN  # noqa: E402  (SB3's DQN with the squared TD error)


class EpisodeReturns(BaseCallback):
    """Record (timestep, return) of every finished training episode (from the Monitor wrapper's info)."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[int] = []
        self.returns: list[float] = []

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", []):
            if "episode" in info:
                self.steps.append(self.num_timesteps)
                self.returns.append(float(info["episode"]["r"]))
        return True


def make_model(loss: str, args: argparse.Namespace, seed: int):
    common = dict(
        learning_rate=args.learning_rate,
        batch_size=64,
        buffer_size=100_000,
        learning_starts=min(1000, args.timesteps // 2),
        gamma=0.99,
        target_update_interval=10,
        train_freq=256,
        gradient_steps=128,
        exploration_fraction=0.16,
        exploration_final_eps=0.04,
        policy_kwargs=dict(net_arch=[256, 256]),
        seed=seed,
    )
    if loss == "huber":
        return DQN("MlpPolicy", args.env, **common)
    if loss == "mse":
        return MSEDQN("MlpPolicy", args.env, **common)
    return HLGaussDQN(
        "MlpPolicy", args.env, loss=loss, num_bins=args.num_bins, v_min=args.v_min, v_max=args.v_max,
        value_transform="identity", **common,
    )


def curve(steps: list[int], returns: list[float], grid: np.ndarray, window: int) -> np.ndarray:
    """Return of the last ``window`` episodes finished by each grid point (NaN before the first episode)."""
    steps_arr, returns_arr = np.asarray(steps), np.asarray(returns)
    out = np.full(len(grid), np.nan)
    for i, t in enumerate(grid):
        done = returns_arr[steps_arr <= t]
        if len(done):
            out[i] = done[-window:].mean()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--timesteps", type=int, default=50_000, help="environment steps per run")
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds per loss")
    parser.add_argument("--losses", default="huber,mse,hl_gauss,two_hot,c51",
                        help="comma-separated: huber, mse, or registered loss names")
    parser.add_argument("--num-bins", type=int, default=51)
    parser.add_argument("--v-min", type=float, default=0.0, help="support, return units (CartPole: [0, 110])")
    parser.add_argument("--v-max", type=float, default=110.0)
    parser.add_argument("--learning-rate", type=float, default=2.3e-3)
    parser.add_argument("--output", default="learning_curves.png", help="PNG file to write")
    args = parser.parse_args()

    losses = [name.strip() for name in args.losses.split(",") if name.strip()]
    for name in losses:
        if name not in ("huber", "mse") and name not in available_losses():
            parser.error(f"unknown loss {name!r}; choose from huber, mse, {', '.join(available_losses())}")

    grid = np.linspace(0, args.timesteps, 50)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for loss in losses:
        curves, finals = [], []
        for seed in range(args.seeds):
            recorder = EpisodeReturns()
            make_model(loss, args, seed).learn(total_timesteps=args.timesteps, callback=recorder)
            curves.append(curve(recorder.steps, recorder.returns, grid, window=10))
            finals.append(np.mean(recorder.returns[-10:]) if recorder.returns else float("nan"))
        curves_arr = np.array(curves)
        with warnings.catch_warnings():  # all-NaN columns before the first episode
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(curves_arr, axis=0)
            low, high = np.nanmin(curves_arr, axis=0), np.nanmax(curves_arr, axis=0)
        (line,) = ax.plot(grid, mean, label=loss)
        ax.fill_between(grid, low, high, color=line.get_color(), alpha=0.15)
        print(f"{loss:>16}: mean training return of the last 10 episodes, per seed: "
              + ", ".join(f"{value:.1f}" for value in finals))

    ax.set_xlabel("environment steps")
    ax.set_ylabel("training episode return (last 10 episodes)")
    ax.set_title(f"{args.env}: regression vs classification value losses ({args.seeds} seed(s))")
    ax.legend()
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    fig.savefig(args.output, dpi=120)
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()

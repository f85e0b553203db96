"""Swap SB3's DQN -> HLGaussDQN and SAC -> HLGaussSAC, pick the loss by name, read the diagnostics.

A typical Stable-Baselines3 script needs two changes: the import and, optionally, the loss
settings. Everything else (``learn``, ``predict``, ``save``/``load``, callbacks, the logger) is SB3's.

    python examples/swap_dqn_sac.py                      # real run (50k DQN steps, 20k SAC steps)
    python examples/swap_dqn_sac.py --timesteps 300      # smoke test (seconds)
    python examples/swap_dqn_sac.py --loss two_hot --algo dqn

SB3's own keys keep their meaning: the critic's cross-entropy is ``train/loss`` for HLGaussDQN (SB3 DQN's
loss key) and ``train/critic_loss`` for HLGaussSAC/HLGaussTD3. The keys every sb3-hlgauss algorithm adds:

* ``train/q_mean``               -- mean Q-value of the sampled (state, action) pairs, in return units
* ``train/target_clip_fraction`` -- fraction of TD targets outside the support, clipped, at the last update
* ``train/n_clipped_targets``    -- how many targets have been clipped since the start
"""

from __future__ import annotations

import argparse
import os
import tempfile

from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.logger import configure

from sb3_hlgauss import HLGaussDQN  # was: from stable_baselines3 import DQN

DIAGNOSTICS = ("train/loss", "train/critic_loss", "train/q_mean", "train/target_clip_fraction", "train/n_clipped_targets")


def diagnostics(model) -> dict[str, float]:
    """The critic diagnostics of the last update, read back from the SB3 logger."""
    values = model.logger.name_to_value
    return {key: values[key] for key in DIAGNOSTICS if key in values}


def print_csv_diagnostics(csv_path: str, tag: str) -> None:
    """The diagnostics over training, read back from the CSV log (one row per logged episode)."""
    import csv

    if not os.path.exists(csv_path):
        print(f"[{tag}] no CSV log written (no episode finished)")
        return
    with open(csv_path, newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("train/target_clip_fraction")]
    print(f"[{tag}] {len(rows)} logged rows with critic diagnostics in {csv_path}")
    for row in rows[-3:]:
        print(f"[{tag}]   step {row['time/total_timesteps']}: q_mean={float(row['train/q_mean']):.2f} "
              f"target_clip_fraction={float(row['train/target_clip_fraction']):.3f} loss={float(row['train/loss']):.3f}")


def run_dqn(timesteps: int, loss: str, out_dir: str) -> None:
    # CartPole returns are at most 500 and undiscounted values at most 1 / (1 - 0.99) = 100:
    # an identity support on [0, 110] covers them with a margin.
    model = HLGaussDQN(
        "MlpPolicy",
        "CartPole-v1",
        loss=loss,  # "hl_gauss" (default), "two_hot", "c51", "categorical_mse" or your own
        num_bins=51,
        v_min=0.0,
        v_max=110.0,
        value_transform="identity",
        learning_rate=2.3e-3,
        batch_size=64,
        buffer_size=100_000,
        learning_starts=min(1000, timesteps // 2),
        gamma=0.99,
        target_update_interval=10,
        train_freq=256,
        gradient_steps=128,
        exploration_fraction=0.16,
        exploration_final_eps=0.04,
        policy_kwargs=dict(net_arch=[256, 256]),
        seed=0,
    )
    # Optional: also write the logs to a CSV file (SB3's logger; tensorboard works the same way).
    log_dir = os.path.join(out_dir, f"dqn_{loss}_logs")
    model.set_logger(configure(log_dir, ["csv"]))
    model.learn(total_timesteps=timesteps, log_interval=1)
    print(f"[dqn/{loss}] diagnostics of the last update: {diagnostics(model)}")
    print_csv_diagnostics(os.path.join(log_dir, "progress.csv"), f"dqn/{loss}")
    mean_return, std_return = evaluate_policy(model, model.get_env(), n_eval_episodes=5)
    print(f"[dqn/{loss}] evaluation return: {mean_return:.1f} +- {std_return:.1f}")

    path = os.path.join(out_dir, f"hlgauss_dqn_{loss}.zip")
    model.save(path)
    loaded = HLGaussDQN.load(path)  # the loss settings are restored with the model
    print(f"[dqn/{loss}] saved to {path}; reloaded loss={loaded.loss!r}, num_bins={loaded.num_bins}")


def run_sac(timesteps: int, loss: str, out_dir: str) -> None:
    try:
        from sb3_hlgauss import HLGaussSAC  # was: from stable_baselines3 import SAC
    except ImportError:
        print("[sac] skipped: HLGaussSAC is not available in this version of sb3_hlgauss")
        return
    # Pendulum rewards lie in [-16.3, 0]: discounted returns in [-1630, 0]. The default symlog support
    # ([-10000, 10000], 101 bins) covers them without tuning; here a tighter identity support is shown.
    model = HLGaussSAC(
        "MlpPolicy",
        "Pendulum-v1",
        loss=loss,
        num_bins=101,
        v_min=-1700.0,
        v_max=100.0,
        value_transform="identity",
        learning_rate=1e-3,
        learning_starts=min(1000, timesteps // 2),
        seed=0,
    )
    model.learn(total_timesteps=timesteps)
    print(f"[sac/{loss}] diagnostics: {diagnostics(model)}")
    mean_return, std_return = evaluate_policy(model, model.get_env(), n_eval_episodes=3)
    print(f"[sac/{loss}] evaluation return: {mean_return:.1f} +- {std_return:.1f}")
    path = os.path.join(out_dir, f"hlgauss_sac_{loss}.zip")
    model.save(path)
    print(f"[sac/{loss}] saved to {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timesteps", type=int, default=None,
                        help="environment steps per algorithm (default: 50000 for DQN, 20000 for SAC)")
    parser.add_argument("--loss", default="hl_gauss", help="registered loss name (see sb3_hlgauss.available_losses())")
    parser.add_argument("--algo", choices=["dqn", "sac", "both"], default="both")
    parser.add_argument("--out-dir", default=None, help="where to save the models (default: a temporary directory)")
    args = parser.parse_args()

    out_dir = args.out_dir or tempfile.mkdtemp(prefix="sb3_hlgauss_")
    os.makedirs(out_dir, exist_ok=True)
    if args.algo in ("dqn", "both"):
        run_dqn(args.timesteps or 50_000, args.loss, out_dir)
    if args.algo in ("sac", "both"):
        run_sac(args.timesteps or 20_000, args.loss, out_dir)


if __name__ == "__main__":
    main()

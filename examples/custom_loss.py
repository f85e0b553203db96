"""Register a user-defined loss and select it by name, from code and from an RL Zoo hyperparameter file.

The loss itself (Laplace-kernel histogram labels, registered as ``"hl_laplace"``) lives in
``examples/my_losses.py``: importing that module is all the registration there is.

    python examples/custom_loss.py                          # 50k steps from code, then the zoo run
    python examples/custom_loss.py --timesteps 300 --out-dir /tmp/custom   # smoke test
    python examples/custom_loss.py --no-zoo                 # the code part only

The zoo part runs, from the repository root (the module must be importable, hence PYTHONPATH):

    PYTHONPATH=examples python -m sb3_hlgauss.zoo train --algo hlgauss_dqn --env CartPole-v1 \
        --conf-file examples/custom_loss_zoo.yml --gym-packages my_losses -f logs/
    PYTHONPATH=examples python -m sb3_hlgauss.zoo enjoy --algo hlgauss_dqn --env CartPole-v1 \
        --gym-packages my_losses -f logs/ --no-render -n 500

``--gym-packages`` imports the named modules before the zoo builds the environment and the model,
which registers the loss; ``enjoy`` needs it too, because a saved model stores the loss by name.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile

import torch as th

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # so that `import my_losses` works from any working directory

import my_losses  # noqa: E402,F401  (registers "hl_laplace")
from sb3_hlgauss import HLGaussDQN, available_losses, make_loss  # noqa: E402


def show_targets() -> None:
    """The target distribution of the new loss next to HL-Gauss, on a small grid."""
    laplace = make_loss("hl_laplace", v_min=-5, v_max=5, num_bins=10, scale_ratio=0.5)
    gauss = make_loss("hl_gauss", v_min=-5, v_max=5, num_bins=10)
    target = th.tensor([0.3])
    print("bin centres :", [round(c, 1) for c in laplace.centers.tolist()])
    print("hl_laplace  :", [round(p, 3) for p in laplace.to_probs(target)[0].tolist()])
    print("hl_gauss    :", [round(p, 3) for p in gauss.to_probs(target)[0].tolist()])
    print("decoded     :", float(laplace.to_value(laplace.to_probs(target).log())), "for a target of 0.3")


def train_from_code(timesteps: int, out_dir: str) -> None:
    model = HLGaussDQN(
        "MlpPolicy", "CartPole-v1", loss="hl_laplace", loss_kwargs=dict(scale_ratio=0.5),
        num_bins=51, v_min=0.0, v_max=110.0, value_transform="identity",
        learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=min(1000, timesteps // 2),
        target_update_interval=10, train_freq=256, gradient_steps=128, exploration_fraction=0.16,
        exploration_final_eps=0.04, policy_kwargs=dict(net_arch=[256, 256]), seed=0,
    )
    print(model.value_loss)
    model.learn(total_timesteps=timesteps)
    print("clip fraction:", model.logger.name_to_value.get("train/target_clip_fraction"))
    path = os.path.join(out_dir, "hl_laplace_dqn.zip")
    model.save(path)
    # Loading needs the loss registered too (it is: my_losses was imported above).
    print("reloaded:", HLGaussDQN.load(path).value_loss)


def zoo_available() -> bool:
    try:
        return importlib.util.find_spec("sb3_hlgauss.zoo.__main__") is not None
    except ImportError:
        return False


def train_with_zoo(timesteps: int, out_dir: str) -> None:
    if not zoo_available():
        print("[zoo] skipped: sb3_hlgauss.zoo is not available in this version of sb3_hlgauss")
        return
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [HERE, os.environ.get("PYTHONPATH")])))
    log_dir = os.path.join(out_dir, "zoo_logs")
    common = ["--algo", "hlgauss_dqn", "--env", "CartPole-v1", "--gym-packages", "my_losses", "-f", log_dir]
    train = [sys.executable, "-m", "sb3_hlgauss.zoo", "train", *common,
             "--conf-file", os.path.join(HERE, "custom_loss_zoo.yml"), "-n", str(timesteps), "--seed", "0"]
    enjoy = [sys.executable, "-m", "sb3_hlgauss.zoo", "enjoy", *common, "--no-render", "-n", "200", "--exp-id", "0"]
    for command in (train, enjoy):
        print("[zoo] $", " ".join(command))
        subprocess.run(command, check=True, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timesteps", type=int, default=50_000)
    parser.add_argument("--out-dir", default=None, help="where to save the model and zoo logs (default: a temp dir)")
    parser.add_argument("--no-zoo", action="store_true", help="skip the RL Zoo part")
    args = parser.parse_args()
    out_dir = args.out_dir or tempfile.mkdtemp(prefix="sb3_hlgauss_custom_")
    os.makedirs(out_dir, exist_ok=True)

    print("registered losses:", available_losses())
    show_targets()
    train_from_code(args.timesteps, out_dir)
    if not args.no_zoo:
        train_with_zoo(args.timesteps, out_dir)


if __name__ == "__main__":
    main()

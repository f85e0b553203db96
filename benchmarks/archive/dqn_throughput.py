"""Throughput of HLGaussDQN against SB3's DQN: same network, env and hyperparameters, one process.

Each repeat times ``learn`` over ``--steps`` env steps after a warm-up that fills the replay buffer
(``learning_starts``), alternating the algorithms so that machine load affects both alike. Reports the
median env-steps/s of each and their ratio (ours / SB3), for train_freq 1 and 4, on CartPole-v1 and a
MinAtar game.

Both algorithms are built by one call with the same arguments (policy, network, optimizer, device) and run
under the same process settings (one torch thread): HLGaussDQN has no execution settings of its own, so the
ratio measures the categorical head and its loss alone.

Usage::

    python benchmarks/dqn_throughput.py --repeats 5 --steps 5000 --out benchmarks/results/throughput
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from stable_baselines3 import DQN

import sb3_hlgauss
from sb3_hlgauss import HLGaussDQN
from sb3_hlgauss.common.torch_layers import MinAtarCNN

ENVS: dict[str, dict[str, Any]] = {
    "CartPole-v1": dict(policy="MlpPolicy", policy_kwargs=dict(net_arch=[256, 256])),
    "MinAtar/Breakout-v1": dict(
        policy="CnnPolicy", policy_kwargs=dict(features_extractor_class=MinAtarCNN, net_arch=[128])
    ),
}


# SB3's DQN as shipped (the baseline), our DQN with the defaults a user gets, and with the paper's Atari
# support (no transform).
VARIANTS: dict[str, dict[str, Any]] = {
    "sb3_dqn": {},
    "hl_gauss_default": dict(loss="hl_gauss"),
    "hl_gauss_51_identity": dict(loss="hl_gauss", num_bins=51, v_min=-10.0, v_max=10.0, value_transform="identity"),
    # Not a usable critic: 2 bins isolate the cost of the loss computation from that of the wider head.
    "hl_gauss_2_bins": dict(loss="hl_gauss", num_bins=2, v_min=-200.0, v_max=200.0, value_transform="identity"),
}
DEFAULT_VARIANTS = ["sb3_dqn", "hl_gauss_default", "hl_gauss_51_identity"]


def cpu_name() -> str:
    """The CPU's model name (``platform.processor()`` is empty on Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def make_model(variant: str, env_id: str, train_freq: int, seed: int, device: str = "cpu"):
    env_kwargs = ENVS[env_id]
    common = dict(
        learning_starts=1000,
        buffer_size=50_000,
        batch_size=32,
        train_freq=train_freq,
        gradient_steps=1,
        target_update_interval=1000,
        policy_kwargs=env_kwargs["policy_kwargs"],
        seed=seed,
        device=device,
    )
    # One constructor call for both sides: only the loss settings (VARIANTS) differ.
    algorithm = DQN if variant == "sb3_dqn" else HLGaussDQN
    return algorithm(env_kwargs["policy"], env_id, **VARIANTS[variant], **common)


def time_run(variant: str, env_id: str, train_freq: int, steps: int, seed: int, device: str = "cpu") -> float:
    model = make_model(variant, env_id, train_freq, seed, device)
    model.learn(model.learning_starts)  # fill the buffer: not timed
    start = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--envs", nargs="+", default=list(ENVS))
    parser.add_argument("--train-freqs", nargs="+", type=int, default=[1, 4])
    parser.add_argument("--variants", nargs="+", default=DEFAULT_VARIANTS, choices=list(VARIANTS))
    parser.add_argument("--device", default="cpu", help="torch device of the networks (cpu, cuda)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/throughput"))
    args = parser.parse_args()
    th.set_num_threads(1)
    if any(env_id.startswith("MinAtar") for env_id in args.envs):
        import minatar.gym

        minatar.gym.register_envs()

    rows = []
    for env_id in args.envs:
        for train_freq in args.train_freqs:
            samples: dict[str, list[float]] = {variant: [] for variant in args.variants}
            for repeat in range(args.repeats):
                order = args.variants if repeat % 2 == 0 else args.variants[::-1]
                for variant in order:
                    samples[variant].append(time_run(variant, env_id, train_freq, args.steps, seed=repeat, device=args.device))
            baseline = float(np.median(samples["sb3_dqn"]))
            for variant in args.variants:
                median = float(np.median(samples[variant]))
                rows.append(
                    dict(
                        env=env_id,
                        train_freq=train_freq,
                        variant=variant,
                        steps_per_s_median=round(median, 1),
                        ratio_vs_sb3=round(median / baseline, 3),
                        samples=[round(s, 1) for s in samples[variant]],
                    )
                )
                print(f"{env_id:22s} train_freq={train_freq} {variant:22s} {median:8.1f} steps/s  ratio {median / baseline:.3f}", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    meta = dict(
        command="python benchmarks/dqn_throughput.py "
        + " ".join([f"--repeats {args.repeats}", f"--steps {args.steps}", "--envs", *args.envs, "--variants", *args.variants]
                     + ([f"--device {args.device}"] if args.device != "cpu" else [])),
        machine=f"{cpu_name()} ({os.cpu_count()} cores), {th.get_num_threads()} torch thread"
        + (f", {th.cuda.get_device_name()}" if args.device.startswith("cuda") else ""),
        device=args.device,
        versions=dict(sb3_hlgauss=sb3_hlgauss.__version__, torch=th.__version__),
    )
    name = args.out / (
        "dqn_throughput"
        + ("" if args.variants == DEFAULT_VARIANTS else "_" + "_".join(args.variants[1:]))
        + ("" if args.device == "cpu" else "_" + args.device.replace(":", ""))
    )
    name.with_suffix(".json").write_text(json.dumps(dict(meta=meta, rows=rows), indent=2))
    lines = [
        "| env | train_freq | variant | env-steps/s (median) | ratio vs SB3 DQN |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['env']} | {r['train_freq']} | {r['variant']} | {r['steps_per_s_median']} | {r['ratio_vs_sb3']:.3f} |"
        for r in rows
    ]
    name.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

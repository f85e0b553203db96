"""Throughput of each algorithm against its SB3 counterpart: same network, envs, hyperparameters and process.

Each cell builds SB3's class and ours by one constructor call with the same arguments (ours gets no loss
settings: the default critic a user gets), warms up untimed (``learning_starts``, or one rollout), then
times ``learn`` over the cell's steps. The two sides alternate within each repeat (A B, then B A) so that
machine load affects both alike. Reported per cell: the median env-steps/s of each side over the repeats,
their spread (min-max), and the ratio of medians, ours / SB3, by wall clock and by the process's CPU time
(``time.process_time``: with one torch thread it leaves out time spent waiting for a core that another job
held, the steadier clock on a shared machine). No execution setting differs between the sides: the package
has none of its own, so the ratio measures the categorical head and its loss alone.

``--width-control`` adds a third side to the DQN cells, ``sb3_wide``: SB3's ``DQN`` whose Q-network (and target
network) has the output layer of our categorical head, ``n_actions * num_bins`` units, each action's Q-value the
mean of its ``num_bins`` outputs, trained by SB3's own ``train()``. It pays the head's width (matrix products,
backward, Adam state, clipping) without its loss, so ``sb3_wide / sb3`` is the price of the width and
``ours / sb3_wide`` the price of everything else of the classification critic (labels, decoding, cross-entropy).

``--num-bins N ...`` adds a side ``ours_binsN`` per ``N``: our class with the default critic but ``num_bins=N`` (the
default is 101), so that what the number of bins costs is read against SB3 in the same run.

Usage::

    OMP_NUM_THREADS=1 python -m benchmarks.throughput --repeats 5            # every cell
    python -m benchmarks.throughput --cells dqn/CartPole-v1/tf1 --repeats 3  # some of them
    python -m benchmarks.throughput --cells dqn/CartPole-v1/tf1 --width-control
    python -m benchmarks.throughput --cells dqn/CartPole-v1/tf1 --num-bins 51
    python -m benchmarks.throughput --list

Writes ``throughput.json`` and ``throughput.md`` under ``--out`` (default ``benchmarks/results/throughput``),
with the command, the machine, the versions and the commit.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch as th

OUT = Path(__file__).resolve().parent / "results" / "throughput"


@dataclasses.dataclass(frozen=True)
class Cell:
    """One comparison: ``algo`` (sb3 name) on ``env_id`` with ``kwargs`` for both classes."""

    algo: str
    env_id: str
    steps: int
    kwargs: dict[str, Any]
    n_envs: int = 1
    note: str = ""


CELLS: dict[str, Cell] = {
    # The measurement of issue 36: SB3's default 64x64 network, an update per env step, batch 32.
    "dqn/CartPole-v1/tf1": Cell("dqn", "CartPole-v1", 3000, dict(
        learning_starts=1000, buffer_size=50_000, batch_size=32, train_freq=1, gradient_steps=1,
        target_update_interval=1000), note="SB3 default net, train_freq 1, batch 32"),
    "dqn/CartPole-v1/tf4": Cell("dqn", "CartPole-v1", 8000, dict(
        learning_starts=1000, buffer_size=50_000, batch_size=32, train_freq=4, gradient_steps=1,
        target_update_interval=1000), note="SB3 default net, train_freq 4, batch 32"),
    "dqn/CartPole-v1/zoo": Cell("dqn", "CartPole-v1", 4096, dict(
        learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1000, gamma=0.99,
        target_update_interval=10, train_freq=256, gradient_steps=128, exploration_fraction=0.16,
        exploration_final_eps=0.04, policy_kwargs=dict(net_arch=[256, 256])), note="the zoo's settings (256x256)"),
    "sac/Pendulum-v1": Cell("sac", "Pendulum-v1", 1000, dict(learning_starts=1000),
                            note="SB3 defaults (256x256, batch 256)"),
    "td3/Pendulum-v1": Cell("td3", "Pendulum-v1", 1500, dict(learning_starts=1000),
                            note="SB3 defaults (400x300, batch 256)"),
    "ppo/CartPole-v1": Cell("ppo", "CartPole-v1", 8192, dict(
        n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0, learning_rate=1e-3,
        clip_range=0.2), n_envs=8, note="the zoo's settings, 8 envs"),
    "a2c/CartPole-v1": Cell("a2c", "CartPole-v1", 16_000, dict(ent_coef=0.0), n_envs=8,
                            note="the zoo's settings, 8 envs"),
}

_WARMUP_ON_POLICY = 1  # rollouts


def build(cell: Cell, ours: bool, seed: int, device: str = "cpu", num_bins: int | None = None) -> Any:
    import stable_baselines3 as sb3
    from stable_baselines3.common.env_util import make_vec_env

    import sb3_hlgauss

    cls = getattr(sb3_hlgauss, "HLGauss" + cell.algo.upper()) if ours else getattr(sb3, cell.algo.upper())
    env = make_vec_env(cell.env_id, n_envs=cell.n_envs, seed=seed)
    extra = {} if num_bins is None else dict(num_bins=num_bins)
    return cls("MlpPolicy", env, seed=seed, device=device, **cell.kwargs, **extra)


class _MeanOverBins(th.nn.Module):
    """``(batch, n_actions * num_bins)`` -> ``(batch, n_actions)``: the mean of each action's outputs."""

    def __init__(self, n_actions: int, num_bins: int) -> None:
        super().__init__()
        self.n_actions, self.num_bins = n_actions, num_bins

    def forward(self, x: th.Tensor) -> th.Tensor:
        return x.view(-1, self.n_actions, self.num_bins).mean(-1)


def widen_q_head(model: Any, num_bins: int) -> Any:
    """Give SB3's ``DQN`` ``model`` the output width of a categorical head (the ``sb3_wide`` control): the last layer
    of the Q-network and of its target has ``n_actions * num_bins`` units, reduced by :class:`_MeanOverBins`, and the
    optimizer is rebuilt over the new parameters as SB3's ``DQNPolicy._build`` builds it."""
    policy = model.policy
    for net in (policy.q_net, policy.q_net_target):
        last = net.q_net[-1]
        if not isinstance(last, th.nn.Linear):
            raise TypeError(f"widen_q_head expects a Linear output layer, got {last!r}")
        n_actions = last.out_features
        net.q_net[-1] = th.nn.Linear(last.in_features, n_actions * num_bins).to(last.weight.device)
        net.q_net.append(_MeanOverBins(n_actions, num_bins))
    policy.q_net_target.load_state_dict(policy.q_net.state_dict())
    policy.q_net_target.set_training_mode(False)
    policy.optimizer = policy.optimizer_class(policy.q_net.parameters(), lr=model.lr_schedule(1), **policy.optimizer_kwargs)
    return model


def time_learn(cell: Cell, side: str, seed: int, device: str = "cpu") -> tuple[float, float]:
    """Env-steps/s of ``learn`` over the cell's steps after an untimed warm-up: (wall clock, CPU time).

    :param side: ``"sb3"``, ``"ours"``, ``"sb3_wide"`` (SB3's class with the width of our head) or ``"ours_binsN"``
        (ours with ``num_bins=N``).
    """
    num_bins = int(side.removeprefix("ours_bins")) if side.startswith("ours_bins") else None
    model = build(cell, side == "ours" or num_bins is not None, seed, device, num_bins)
    if side == "sb3_wide":
        from sb3_hlgauss.common.base_class import DEFAULT_NUM_BINS

        widen_q_head(model, DEFAULT_NUM_BINS)
    warmup = getattr(model, "learning_starts", None)
    model.learn(warmup if warmup is not None else _WARMUP_ON_POLICY * model.n_steps * model.n_envs)
    wall, cpu = time.perf_counter(), time.process_time()
    model.learn(cell.steps, reset_num_timesteps=False)
    return cell.steps / (time.perf_counter() - wall), cell.steps / (time.process_time() - cpu)


def measure(cell: Cell, repeats: int, device: str = "cpu", width_control: bool = False,
            num_bins: tuple[int, ...] = ()) -> dict[str, Any]:
    if width_control and cell.algo != "dqn":
        raise ValueError(f"width_control: the {cell.algo} cell has no Q-network head to widen (DQN cells only)")
    sides = ("sb3", "ours", "sb3_wide") if width_control else ("sb3", "ours")
    sides += tuple(f"ours_bins{n}" for n in num_bins)
    samples: dict[str, dict[str, list[float]]] = {side: {"wall": [], "cpu": []} for side in sides}
    for repeat in range(repeats):
        for side in (sides if repeat % 2 == 0 else sides[::-1]):
            wall, cpu = time_learn(cell, side, seed=repeat, device=device)
            samples[side]["wall"].append(wall)
            samples[side]["cpu"].append(cpu)
    row: dict[str, Any] = dict(note=cell.note, steps=cell.steps, samples=samples)
    # ours / sb3 (the ratio the package is judged by); with the control, also the split of it into width and loss.
    ratios = {"": ("ours", "sb3")}
    if "sb3_wide" in sides:
        ratios.update({"width_": ("sb3_wide", "sb3"), "loss_path_": ("ours", "sb3_wide")})
    ratios.update({f"bins{n}_": (f"ours_bins{n}", "sb3") for n in num_bins})
    for clock in ("wall", "cpu"):
        medians = {side: float(np.median(samples[side][clock])) for side in sides}
        row[f"{clock}_steps_per_s"] = {side: round(value, 1) for side, value in medians.items()}
        for prefix, (top, bottom) in ratios.items():
            row[f"{prefix}{clock}_ratio"] = round(medians[top] / medians[bottom], 3)
            # Spread of the ratio: each repeat's own ratio (the sides measured back to back).
            per_repeat = [t / b for t, b in zip(samples[top][clock], samples[bottom][clock])]
            row[f"{prefix}{clock}_ratio_range"] = [round(min(per_repeat), 3), round(max(per_repeat), 3)]
    return row


def machine(device: str = "cpu") -> dict[str, Any]:
    import stable_baselines3
    import torch as th

    import sb3_hlgauss
    from benchmarks.run import git_commit, machine_info

    gpu = th.cuda.get_device_name() if device.startswith("cuda") else None
    return dict(cpu=f"{machine_info()['cpu']} ({os.cpu_count()} cores)", gpu=gpu, device=device,
                torch_threads=th.get_num_threads(), commit=git_commit(), load_average=os.getloadavg(),
                versions=dict(sb3_hlgauss=sb3_hlgauss.__version__, stable_baselines3=stable_baselines3.__version__,
                              torch=th.__version__, python=platform.python_version()))


def table(rows: dict[str, dict[str, Any]]) -> str:
    lines = ["| cell | settings | SB3 env-steps/s | ours env-steps/s | ratio (wall) | per-repeat range | ratio (CPU time) |",
             "|---|---|---|---|---|---|---|"]
    for name, row in rows.items():
        wall, cpu = row["wall_steps_per_s"], row["cpu_ratio"]
        low, high = row["wall_ratio_range"]
        lines.append(f"| {name} | {row['note']} | {wall['sb3']} | {wall['ours']} | **{row['wall_ratio']:.2f}** "
                     f"| {low:.2f}-{high:.2f} | {cpu:.2f} |")
    controlled = {name: row for name, row in rows.items() if "sb3_wide" in row["wall_steps_per_s"]}
    if controlled:
        lines += ["", "| cell | SB3 wide-head env-steps/s | width: SB3 wide / SB3 (CPU time) | "
                      "loss path: ours / SB3 wide (CPU time) | ours / SB3 (CPU time) |", "|---|---|---|---|---|"]
        for name, row in controlled.items():
            lines.append(f"| {name} | {row['wall_steps_per_s']['sb3_wide']} | {row['width_cpu_ratio']:.2f} "
                         f"({row['width_cpu_ratio_range'][0]:.2f}-{row['width_cpu_ratio_range'][1]:.2f}) | "
                         f"{row['loss_path_cpu_ratio']:.2f} ({row['loss_path_cpu_ratio_range'][0]:.2f}-"
                         f"{row['loss_path_cpu_ratio_range'][1]:.2f}) | {row['cpu_ratio']:.2f} |")
    with_bins = {name: row for name, row in rows.items() if any(side.startswith("ours_bins") for side in row["samples"])}
    if with_bins:
        from sb3_hlgauss.common.base_class import DEFAULT_NUM_BINS

        lines += ["", "| cell | num_bins | ours env-steps/s | ours / SB3 (CPU time) | per-repeat range |",
                  "|---|---|---|---|---|"]
        for name, row in with_bins.items():
            sides = [("ours", "", f"{DEFAULT_NUM_BINS} (default)")] + [
                (side, f"bins{side.removeprefix('ours_bins')}_", side.removeprefix("ours_bins"))
                for side in row["samples"] if side.startswith("ours_bins")]
            for side, key, label in sides:
                low, high = row[f"{key}cpu_ratio_range"]
                lines.append(f"| {name} | {label} | {row['wall_steps_per_s'][side]} | {row[f'{key}cpu_ratio']:.2f} "
                             f"| {low:.2f}-{high:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", nargs="+", default=list(CELLS), choices=list(CELLS), metavar="CELL")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--name", default="throughput", help="file name stem of the results")
    parser.add_argument("--device", default="cpu", help="torch device of both sides' networks (cpu, cuda)")
    parser.add_argument("--width-control", action="store_true",
                        help="DQN cells: also time SB3's DQN with the width of our head (side sb3_wide)")
    parser.add_argument("--num-bins", type=int, nargs="+", default=[], metavar="N",
                        help="also time ours with num_bins=N (side ours_binsN), against SB3 in the same run")
    parser.add_argument("--list", action="store_true", help="list the cells and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, cell in CELLS.items():
            print(f"{name:24s} {cell.steps:6d} steps  {cell.note}")
        return
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    not_dqn = [name for name in args.cells if CELLS[name].algo != "dqn"]
    if args.width_control and not_dqn:
        parser.error(f"--width-control times DQN cells only; {not_dqn} are not DQN cells (leave them out)")
    bad_bins = [n for n in args.num_bins if n < 2]
    if bad_bins:
        parser.error(f"--num-bins must be integers >= 2, got {bad_bins}")
    num_bins = tuple(dict.fromkeys(args.num_bins))  # one side per bin count, however often it is named
    import torch as th

    th.set_num_threads(1)
    rows = {}
    for name in args.cells:
        rows[name] = measure(CELLS[name], args.repeats, args.device, args.width_control, num_bins)
        print(f"{name:24s} ratio {rows[name]['wall_ratio']:.3f} (wall), {rows[name]['cpu_ratio']:.3f} (CPU)", flush=True)
    meta = dict(command="python -m benchmarks.throughput " + " ".join(sys.argv[1:] if argv is None else argv),
                date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), machine=machine(args.device))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(dict(meta=meta, rows=rows), indent=2) + "\n")
    (args.out / f"{args.name}.md").write_text(table(rows))
    print(table(rows))


if __name__ == "__main__":
    main()

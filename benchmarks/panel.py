"""The no-regression panel: every algorithm with **no loss settings** against its SB3 counterpart.

Each cell is one algorithm on one task with the RL Zoo's tuned hyperparameters (``rl_zoo3/hyperparams``,
read from the installed zoo), the same on both sides; only the class differs (``HLGaussA2C`` for ``A2C``,
...). Every run ends with a greedy evaluation (10 episodes, the *final* policy, not the best seen) and
writes one JSON file, so an interrupted panel resumes where it stopped::

    OMP_NUM_THREADS=1 python -m benchmarks.panel run --jobs 2            # the whole panel, resumable
    python -m benchmarks.panel run --cells a2c/CartPole-v1 --seeds 0 1   # some of it
    python -m benchmarks.panel table                                     # verdicts (benchmarks.compare)
    python -m benchmarks.panel table --summary                           # before/after, one row a cell

Diagnosis variants run the same cell with extra settings on our side only
(``--variant NAME --extra '{"loss": "categorical_mse"}'``); the panel itself is SB3 and the default critic, run
under the label :data:`DEFAULT_VARIANT` names.
Result files record the critic's diagnostics at the end of training (mean value, clipped-target
fraction, the value scale, SAC's entropy coefficient) and the last training episodes' returns.
"""

from __future__ import annotations

import argparse
import concurrent.futures as futures
import copy
import datetime as _dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results" / "panel"

#: Cells: (zoo algorithm, env id, env steps). Budgets are the zoo's where a run is cheap on one CPU
#: thread, shorter otherwise (MuJoCo: 1M in the zoo).
CELLS: dict[str, tuple[str, str, int]] = {
    "dqn/CartPole-v1": ("dqn", "CartPole-v1", 50_000),
    "dqn/Acrobot-v1": ("dqn", "Acrobot-v1", 100_000),
    "ppo/CartPole-v1": ("ppo", "CartPole-v1", 100_000),
    "ppo/Acrobot-v1": ("ppo", "Acrobot-v1", 200_000),
    "a2c/CartPole-v1": ("a2c", "CartPole-v1", 150_000),
    "a2c/Acrobot-v1": ("a2c", "Acrobot-v1", 200_000),
    "sac/Pendulum-v1": ("sac", "Pendulum-v1", 20_000),
    "td3/Pendulum-v1": ("td3", "Pendulum-v1", 20_000),
    "sac/HalfCheetah-v5": ("sac", "HalfCheetah-v5", 30_000),
    "td3/HalfCheetah-v5": ("td3", "HalfCheetah-v5", 30_000),
}
#: Seeds of the panel: none of them is a seed the package's tests or earlier suites tuned on.
SEEDS = (100, 101, 102, 103, 104)
#: Which variant's runs are this release's default critic, per algorithm (labels of the runs made with the code
#: that became the default: ``auto2`` is the self-scaled HL-Gauss support, ``auto3_catmse`` the same support with
#: ``categorical_mse``, A2C's default loss). Every other label is a diagnosis variant.
DEFAULT_VARIANT: dict[str, str] = {"dqn": "auto2", "ppo": "auto3_catmse", "sac": "auto2", "td3": "auto2", "a2c": "auto3_catmse"}
#: The 0.4.0 default (symlog support on [-1e4, 1e4]), run from the 0.4.0 commit (9dd95ab) with this file copied in.
BEFORE_VARIANT = "default_v040"
EVAL_EPISODES = 10


def zoo_hyperparameters(algo: str, env_id: str) -> dict[str, Any]:
    """The zoo's entry for ``env_id`` (MuJoCo ``-v5`` tasks use the zoo's ``-v4`` entry, as the zoo does)."""
    import rl_zoo3
    import yaml

    path = Path(rl_zoo3.__file__).parent / "hyperparams" / f"{algo}.yml"
    table = yaml.safe_load(path.read_text())
    key = env_id if env_id in table else env_id.replace("-v5", "-v4")
    return copy.deepcopy(table[key])


def _schedule(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("lin_"):
        from benchmarks.algos import LinearSchedule

        return LinearSchedule(float(value[4:]))
    return value


def build(algo: str, env_id: str, seed: int, ours: bool, extra: dict[str, Any]) -> tuple[Any, Any, Any, list]:
    """The model, its training env, the evaluation env and the training Monitors, as the zoo builds them."""
    import numpy as np
    import stable_baselines3 as sb3
    import torch as th
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.noise import NormalActionNoise
    from stable_baselines3.common.vec_env import VecNormalize

    import sb3_hlgauss

    hp = zoo_hyperparameters(algo, env_id)
    hp.pop("n_timesteps", None)
    n_envs = hp.pop("n_envs", 1)
    normalize = hp.pop("normalize", False)
    policy = hp.pop("policy")
    if isinstance(hp.get("policy_kwargs"), str):
        hp["policy_kwargs"] = eval(hp["policy_kwargs"], {"nn": th.nn, "dict": dict})  # the zoo's own format
    for key in ("learning_rate", "clip_range", "clip_range_vf"):
        if key in hp:
            hp[key] = _schedule(hp[key])
    noise_type, noise_std = hp.pop("noise_type", None), hp.pop("noise_std", None)
    train_env = make_vec_env(env_id, n_envs=n_envs, seed=seed)
    eval_env = make_vec_env(env_id, n_envs=1, seed=seed + 10_000)
    if normalize:
        kwargs = normalize if isinstance(normalize, dict) else {}
        train_env = VecNormalize(train_env, gamma=hp.get("gamma", 0.99), **kwargs)
        eval_env = VecNormalize(eval_env, training=False, norm_reward=False)
    if noise_type == "normal":
        n_actions = train_env.action_space.shape[0]
        hp["action_noise"] = NormalActionNoise(np.zeros(n_actions), noise_std * np.ones(n_actions))
    cls = getattr(sb3_hlgauss, f"HLGauss{algo.upper()}") if ours else getattr(sb3, algo.upper())
    model = cls(policy, train_env, seed=seed, device="cpu", verbose=0, **hp, **(extra if ours else {}))
    monitors = list(train_env.venv.envs if normalize else train_env.envs)
    return model, train_env, eval_env, monitors


def run_one(cell: str, variant: str, seed: int, extra: dict[str, Any], out_path: Path) -> dict[str, Any]:
    """Train and evaluate one run; write its result file atomically."""
    import numpy as np
    import torch as th
    from stable_baselines3.common.evaluation import evaluate_policy

    from benchmarks.run import critic_diagnostics, git_commit, machine_info, package_versions, source_fingerprint

    th.set_num_threads(1)
    algo, env_id, steps = CELLS[cell]
    ours = variant != "sb3"
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    model, train_env, eval_env, monitors = build(algo, env_id, seed, ours, extra)
    t0 = time.perf_counter()
    model.learn(total_timesteps=steps)
    wall = time.perf_counter() - t0
    if hasattr(train_env, "obs_rms"):
        eval_env.obs_rms = copy.deepcopy(train_env.obs_rms)
    returns, lengths = evaluate_policy(model, eval_env, n_eval_episodes=EVAL_EPISODES, deterministic=True,
                                       return_episode_rewards=True)
    train_returns = [float(r) for m in monitors for r in m.get_episode_rewards()]
    result = {
        "cell": cell, "algo": algo, "env_id": env_id, "steps": steps, "variant": variant, "seed": seed,
        "ours": ours, "extra": extra,
        "final_return": float(np.mean(returns)),
        "final_return_definition": f"mean greedy return of {EVAL_EPISODES} episodes after the last update",
        "eval_returns": [float(r) for r in returns], "eval_lengths": [int(n) for n in lengths],
        "train_episode_returns_last20": train_returns[-20:],
        "critic": critic_diagnostics(model),
        "wall_time_s": wall, "started": started,
        "versions": package_versions(), "git_commit": git_commit(), "source": source_fingerprint(),
        "machine": machine_info(), "command": " ".join(sys.argv),
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, out_path)
    return result


def result_path(results_dir: Path, cell: str, variant: str, seed: int) -> Path:
    return results_dir / cell.replace("/", "_") / variant / f"seed{seed}.json"


def _worker(cell: str, variant: str, seed: int, extra: dict[str, Any], out: str) -> tuple[str, float | None, str]:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        result = run_one(cell, variant, seed, extra, Path(out))
        return out, result["final_return"], ""
    except Exception as error:  # noqa: BLE001 - one failed run must not stop the panel
        import traceback

        Path(out).with_suffix(".error.txt").write_text(traceback.format_exc())
        return out, None, repr(error)


def load_results(results_dir: Path = RESULTS_DIR) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(results_dir.glob("*/*/seed*.json"))]


def final_returns(results_dir: Path = RESULTS_DIR) -> dict[tuple[str, str], dict[int, float]]:
    """Final returns by (cell, variant), then seed."""
    by: dict[tuple[str, str], dict[int, float]] = {}
    for r in load_results(results_dir):
        by.setdefault((r["cell"], r["variant"]), {})[r["seed"]] = r["final_return"]
    return by


def cmd_run(args: argparse.Namespace) -> int:
    extra = json.loads(args.extra) if args.extra else {}
    if args.variant == "sb3" and extra:
        raise SystemExit("--extra applies to our side only; the sb3 variant takes none")
    todo = []
    for cell in args.cells or list(CELLS):
        if cell not in CELLS:
            raise SystemExit(f"Unknown cell {cell!r}; cells: {sorted(CELLS)}")
        # Without --variant: SB3 and the default critic, under the label the tables read it from.
        variants = [args.variant] if args.variant else ["sb3", DEFAULT_VARIANT[CELLS[cell][0]]]
        for seed in args.seeds:
            for variant in variants:
                path = result_path(args.results_dir, cell, variant, seed)
                if not path.exists():
                    todo.append((cell, variant, seed, extra if variant != "sb3" else {}, str(path)))
    print(f"{len(todo)} runs to do", flush=True)
    with futures.ProcessPoolExecutor(max_workers=max(args.jobs, 1)) as pool:
        jobs = [pool.submit(_worker, *job) for job in todo]
        for job in futures.as_completed(jobs):
            out, final, error = job.result()
            print(f"{out}: {final if error == '' else 'FAILED ' + error}", flush=True)
    return 0


def panel_table(results_dir: Path = RESULTS_DIR) -> str:
    """The panel as a markdown table: each variant of ours against SB3 on the seeds both have, with the verdict of
    :func:`benchmarks.compare.compare_task` (exact permutation test, false-alarm rate <= 5%)."""
    from benchmarks.compare import compare_task

    by = final_returns(results_dir)

    def fmt(xs: list[float]) -> str:
        return f"{sum(xs) / len(xs):.1f} ({', '.join(f'{x:.0f}' for x in xs)})"

    lines = ["| cell | ours | seeds | SB3: mean (per seed) | ours: mean (per seed) | verdict for ours (p) |",
             "|---|---|---|---|---|---|"]
    for (cell, variant), ours in sorted(by.items()):
        if variant == "sb3" or (cell, "sb3") not in by:
            continue
        sb3 = by[(cell, "sb3")]
        seeds = sorted(set(ours) & set(sb3))
        if not seeds:
            continue
        a, b = [ours[s] for s in seeds], [sb3[s] for s in seeds]
        verdict = compare_task(a, b)
        lines.append(f"| {cell} | {variant} | {len(seeds)} | {fmt(b)} | {fmt(a)} | {verdict.label} ({verdict.p_value:.3f}) |")
    return "\n".join(lines) + "\n"


def summary_table(results_dir: Path = RESULTS_DIR) -> str:
    """Before and after, one row a cell: SB3, 0.4.0's default and this release's default (mean final return and
    number of seeds), and the verdict of the default against SB3 on the seeds both have."""
    from benchmarks.compare import compare_task

    by = final_returns(results_dir)

    def mean(runs: dict[int, float]) -> str:
        return f"{sum(runs.values()) / len(runs):.0f} ({len(runs)})" if runs else "not run"

    lines = ["| cell | SB3 | 0.4.0 default | 0.5.0 default | 0.5.0 vs SB3 (p) |", "|---|---|---|---|---|"]
    for cell in CELLS:
        sb3, after = by.get((cell, "sb3"), {}), by.get((cell, DEFAULT_VARIANT[CELLS[cell][0]]), {})
        if not sb3 and not after:
            continue
        seeds = sorted(set(sb3) & set(after))
        if seeds:
            verdict = compare_task([after[s] for s in seeds], [sb3[s] for s in seeds])
            reading = f"{verdict.label} ({verdict.p_value:.2f})"
        else:
            reading = "no common seeds yet"
        lines.append(f"| {cell} | {mean(sb3)} | {mean(by.get((cell, BEFORE_VARIANT), {}))} | {mean(after)} | {reading} |")
    return "\n".join(lines) + "\n"


def write_block(page_path: Path, name: str, table: str, command: str) -> None:
    """Replace the ``<!-- generated:NAME -->`` ... ``<!-- /generated:NAME -->`` block of a page with ``table``,
    indented as the opening marker is (a table inside a CHANGELOG bullet)."""
    page = page_path.read_text()
    start, end = f"<!-- generated:{name} -->\n", f"<!-- /generated:{name} -->"
    if start not in page or end not in page:
        raise SystemExit(f"{page_path} has no {start.strip()} ... {end} block")
    head, rest = page.split(start, 1)
    indent = head[head.rfind("\n") + 1 :]
    note = f"<!-- Generated by `{command}`: do not edit by hand. -->\n"
    body = "".join(f"{indent}{line}\n" for line in (note + table).splitlines())
    page_path.write_text(head + start + body + indent + end + rest.split(end, 1)[1])


def cmd_table(args: argparse.Namespace) -> int:
    table = summary_table(args.results_dir) if args.summary else panel_table(args.results_dir)
    if args.write is None:
        print(table, end="")
        return 0
    name = "panel-summary" if args.summary else "panel"
    command = f"python -m benchmarks.panel table{' --summary' if args.summary else ''} --write {args.write}"
    write_block(args.write, name, table, command)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train the missing runs")
    run.add_argument("--cells", nargs="+", default=None)
    run.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    run.add_argument("--variant", default=None, help="'sb3' or a label for our side (default: sb3 and DEFAULT_VARIANT's label, no extra settings)")
    run.add_argument("--extra", default=None, help="JSON dict of settings for our side (diagnosis variants)")
    run.add_argument("--jobs", type=int, default=2)
    run.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    table = sub.add_parser("table", help="print the panel's table with verdicts")
    table.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    table.add_argument("--write", type=Path, default=None,
                       help="replace the page's generated:panel block (with --summary: its generated:panel-summary block)")
    table.add_argument("--summary", action="store_true",
                       help="one row a cell: SB3, 0.4.0's default, this release's default (the CHANGELOG's table)")
    args = parser.parse_args(argv)
    return cmd_run(args) if args.command == "run" else cmd_table(args)


if __name__ == "__main__":
    raise SystemExit(main())

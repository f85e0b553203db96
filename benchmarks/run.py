"""Run a benchmark suite: ``python -m benchmarks.run --suite minatar [--jobs 2] [--steps N] [--seeds 0 1 2]``.

``--suite`` names a file of ``benchmarks/suites/`` or is the path of a suite file of your own (see
``benchmarks/suites.py``); ``--env MyEnv-v0`` runs the suite's variants and settings on your environment
(any registered gymnasium id) instead of the suite's own.

Each run (algorithm x loss x env x seed) writes one JSON result file under
``benchmarks/results/<suite>/<steps>/<game>/<variant>/seed<k>.json`` (evaluation returns and episode
lengths over time, the critic's diagnostics at the end of training, wall time, steps/s, package versions, machine,
full config). Runs whose result file exists
are skipped, so an interrupted suite resumes where it stopped and can be spread over several
sittings or machines (``--shard i/n``). At most ``--jobs`` runs go at once, each in its own
process with one torch thread.
"""

from __future__ import annotations

import argparse
import copy
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from benchmarks.suites import RunSpec, expand, suite_groups

RESULTS_DIR = Path(__file__).resolve().parent / "results"


# --------------------------------------------------------------------------- provenance
def package_versions() -> dict[str, str]:
    from importlib import metadata

    import sb3_hlgauss

    # The imported package's own version: pip's metadata of an editable install can be older.
    versions = {"python": platform.python_version(), "sb3-hlgauss": sb3_hlgauss.__version__}
    for name in ("stable-baselines3", "torch", "gymnasium", "numpy", "minatar", "mujoco"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def git_commit() -> str | None:
    """Commit of the code that ran: ``$BENCH_GIT_COMMIT`` (set when running from an exported snapshot) or HEAD."""
    if os.environ.get("BENCH_GIT_COMMIT"):
        return os.environ["BENCH_GIT_COMMIT"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True, text=True, timeout=5,
            check=False,
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def source_fingerprint() -> dict[str, Any]:
    """Where ``sb3_hlgauss`` and ``benchmarks`` were imported from and a hash of their sources, so that a
    result can be tied to exact code even when the working tree had uncommitted changes."""
    import hashlib

    import sb3_hlgauss

    out: dict[str, Any] = {"git_commit": git_commit()}
    for name, root in (("sb3_hlgauss", Path(sb3_hlgauss.__file__).parent), ("benchmarks", Path(__file__).parent)):
        digest = hashlib.sha256()
        for path in sorted(root.rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
        out[name] = {"path": str(root), "sha256": digest.hexdigest()[:16]}
    return out


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch as th

    # The vector unit torch's CPU kernels use (e.g. AVX2, AVX512): a seeded HLGaussPPO run repeats bit for bit only
    # on the same one (docs/benchmarks.md, "Suite E"), so the result says which it ran on.
    return {"hostname": platform.node(), "cpu": cpu, "cpu_count": os.cpu_count(), "platform": platform.platform(),
            "torch_cpu_capability": th.backends.cpu.get_cpu_capability()}


# --------------------------------------------------------------------------- one run
def _evaluate(model, eval_env, n_episodes: int) -> tuple[list[float], list[int]]:
    """Greedy returns and lengths of ``n_episodes`` episodes (a return alone cannot tell, e.g., Hopper standing for
    1000 steps from hopping and falling)."""
    from stable_baselines3.common.evaluation import evaluate_policy

    returns, lengths = evaluate_policy(
        model, eval_env, n_eval_episodes=n_episodes, deterministic=True, return_episode_rewards=True
    )
    return [float(r) for r in returns], [int(n) for n in lengths]


def critic_diagnostics(model: Any) -> dict[str, Any]:
    """What the last logs said about the critic (``None`` where an algorithm does not log it)."""
    logged = dict(model.logger.name_to_value)
    keys = ("train/q_mean", "train/value_mean", "train/clip_fraction", "train/target_clip_fraction",
            "train/value_loss", "train/critic_loss", "train/loss", "train/ent_coef", "train/explained_variance",
            "train/value_scale", "train/entropy_loss", "train/approx_kl", "train/actor_loss")
    out: dict[str, Any] = {key: float(logged[key]) for key in keys if key in logged}
    value_loss = getattr(model, "value_loss", None)
    scale = getattr(value_loss, "return_scale", None)
    if scale is not None:
        out["value_scale"] = scale.state()
    n_clipped = getattr(model, "n_clipped_targets", None)
    if n_clipped is not None:
        out["n_clipped_targets"] = int(n_clipped)
    return out


def execute(spec: RunSpec, out_path: Path) -> dict[str, Any]:
    """Train and evaluate one run and write its result file atomically. Returns the result."""
    import torch as th

    th.set_num_threads(1)
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    from benchmarks.algos import (
        algorithm_class,
        make_env,
        resolve_policy_kwargs,
        resolve_schedules,
        start_from_target_distribution,
    )

    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    kwargs = dict(spec.algo_kwargs)
    policy = kwargs.pop("policy")
    # Env settings of the on-policy suites (as in the zoo): several envs, VecNormalize with the run's gamma.
    n_envs = kwargs.pop("n_envs", None)
    normalize = kwargs.pop("normalize", False)
    # Suite c51_init: the categorical head starts from the target distribution of this return (not uniform).
    initial_value = kwargs.pop("initial_value", None)
    vec_normalize = None
    if n_envs is None and not normalize:
        train_env = Monitor(make_env(spec.env_id, spec.seed, spec.reward_noise))
        monitors = [train_env]
    else:
        from stable_baselines3.common.vec_env import VecNormalize

        monitors = [Monitor(make_env(spec.env_id, spec.seed + i, spec.reward_noise)) for i in range(n_envs or 1)]
        train_env = DummyVecEnv([lambda monitor=monitor: monitor for monitor in monitors])
        train_env.seed(spec.seed)
        if normalize:
            train_env = vec_normalize = VecNormalize(train_env, gamma=kwargs.get("gamma", 0.99))
    eval_env = DummyVecEnv([lambda: Monitor(make_env(spec.env_id, spec.seed + 1_000, 0.0, spec.eval_max_episode_steps))])
    eval_env.seed(spec.seed + 1_000)
    if vec_normalize is not None:
        from stable_baselines3.common.vec_env import VecNormalize

        # Greedy evaluation on raw returns, with the training statistics of the observations (copied each time).
        eval_env = VecNormalize(eval_env, training=False, norm_reward=False)

    if "policy_kwargs" in kwargs:
        kwargs["policy_kwargs"] = resolve_policy_kwargs(kwargs["policy_kwargs"])
    kwargs = resolve_schedules(kwargs)
    model = algorithm_class(spec.algo)(policy, train_env, seed=spec.seed, device="cpu", verbose=0, **kwargs)
    if initial_value is not None:
        start_from_target_distribution(model, initial_value)

    evals: list[dict[str, Any]] = []
    timing = {"eval_s": 0.0}

    def record(step: int) -> None:
        t = time.perf_counter()
        if vec_normalize is not None:
            eval_env.obs_rms = copy.deepcopy(vec_normalize.obs_rms)
        returns, lengths = _evaluate(model, eval_env, spec.eval_episodes)
        timing["eval_s"] += time.perf_counter() - t
        evals.append({"step": int(step), "mean": sum(returns) / len(returns), "returns": returns, "lengths": lengths})

    class EvalCallback(BaseCallback):
        def _on_step(self) -> bool:
            # With n envs, num_timesteps grows by n per step: evaluate when it crosses a multiple of eval_every.
            n = self.training_env.num_envs if self.training_env is not None else 1
            if self.num_timesteps % spec.eval_every < n and self.num_timesteps < spec.total_steps:
                record(self.num_timesteps)
            return True

    record(0)
    t0 = time.perf_counter()
    model.learn(total_timesteps=spec.total_steps, callback=EvalCallback())
    record(model.num_timesteps)
    wall = time.perf_counter() - t0
    train_s = wall - timing["eval_s"]

    train_returns = [float(r) for monitor in monitors for r in monitor.get_episode_rewards()]
    train_lengths = [int(n) for monitor in monitors for n in monitor.get_episode_lengths()]
    n_updates = int(getattr(model, "_n_updates", 0))
    n_clipped = getattr(model, "n_clipped_targets", None)
    batch = int(getattr(model, "batch_size", 0) or 0)
    # Off-policy: batch_size targets per update; on-policy: the model counts every target of every minibatch.
    n_targets = getattr(model, "n_value_targets", n_updates * batch)
    clip_fraction = None if n_clipped is None or not n_targets else n_clipped / n_targets
    last = evals[-2:] if len(evals) > 2 else evals[-1:]
    final = [r for e in last for r in e["returns"]]
    result = {
        "spec": spec.to_dict(),
        "evals": evals,
        "final_return": sum(final) / len(final),
        "final_return_definition": "mean greedy return over the episodes of the last two evaluations",
        "critic": critic_diagnostics(model),
        "train_episode_returns": train_returns[-100:],
        "train_episode_lengths": train_lengths[-100:],
        "n_train_episodes": len(train_returns),
        "n_updates": n_updates,
        "clip_fraction": clip_fraction,
        "wall_time_s": wall,
        "eval_time_s": timing["eval_s"],
        "train_time_s": train_s,
        "steps_per_s": spec.total_steps / max(train_s, 1e-9),
        "started": started,
        "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": package_versions(),
        "git_commit": git_commit(),
        "source": source_fingerprint(),
        "machine": machine_info(),
        "torch_threads": th.get_num_threads(),
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, out_path)
    train_env.close()
    eval_env.close()
    return result


def _worker(spec_dict: dict[str, Any], out_path: str) -> tuple[str, float | None, str | None]:
    """Process-pool entry point: never raises, writes ``<result>.error.txt`` on failure."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    spec = RunSpec.from_dict(spec_dict)
    path = Path(out_path)
    try:
        result = execute(spec, path)
        err = path.with_suffix(".error.txt")
        if err.exists():
            err.unlink()
        return out_path, result["final_return"], None
    except Exception:  # noqa: BLE001 - one failed run must not stop the suite
        tb = traceback.format_exc()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.with_suffix(".error.txt").write_text(tb)
        return out_path, None, tb.strip().splitlines()[-1]


def _init_worker() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch as th

    th.set_num_threads(1)


# --------------------------------------------------------------------------- suite
def pending_runs(runs: list[RunSpec], results_dir: Path) -> tuple[list[RunSpec], list[RunSpec]]:
    """Split runs into (to do, already done)."""
    todo, done = [], []
    for spec in runs:
        (done if (results_dir / spec.relpath).exists() else todo).append(spec)
    return todo, done


def reuse_reference_run(spec: RunSpec, results_dir: Path) -> str | None:
    """Write ``spec``'s result as a copy of its reference run (:meth:`RunSpec.reference`) when that run is done
    with exactly the same settings; return the reference's path (relative to ``results_dir``), or None."""
    reference = spec.reference()
    if reference is None or not (results_dir / reference.relpath).exists():
        return None
    result = json.loads((results_dir / reference.relpath).read_text())
    if result["spec"] != reference.to_dict():
        return None
    result.update(spec=spec.to_dict(), reused_from=reference.relpath)
    out_path = results_dir / spec.relpath
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(f".tmp{os.getpid()}")  # as execute(): a half-written file never counts as done
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, out_path)
    return reference.relpath


def run_suite(
    suite: str | Path,
    jobs: int = 2,
    results_dir: Path = RESULTS_DIR,
    steps: int | None = None,
    budget_scale: float | None = None,
    seeds: list[int] | None = None,
    envs: list[str] | None = None,
    variants: list[str] | None = None,
    reward_noise: list[float] | None = None,
    shard: tuple[int, int] | None = None,
    max_runs: int | None = None,
    progress: bool = True,
    env_ids: list[str] | None = None,
) -> dict[str, Any]:
    """Run every pending run of a suite (a name or a suite file); return counts of done / skipped / failed runs."""
    runs = expand(suite, steps=steps, budget_scale=budget_scale, seeds=seeds, envs=envs, variants=variants,
                  reward_noise=reward_noise, env_ids=env_ids)
    suite = suite_groups(suite)[0]
    if shard is not None:
        index, count = shard
        runs = [r for i, r in enumerate(runs) if i % count == index]
    todo, done = pending_runs(runs, results_dir)
    # Runs that repeat a finished run of another suite are copied, not trained (RunSpec.reference).
    copied = [reuse_reference_run(spec, results_dir) is not None for spec in todo]
    todo = [spec for spec, was_copied in zip(todo, copied) if not was_copied]
    if max_runs is not None:
        todo = todo[:max_runs]
    summary = {"total": len(runs), "skipped": len(done), "reused": sum(copied), "done": 0, "failed": []}
    if not todo:
        return summary

    from tqdm.auto import tqdm

    bar = tqdm(total=len(todo), desc=f"{suite} ({len(done)} done before)", unit="run", disable=not progress, file=sys.stderr)

    def finished(path: str, final: float | None, error: str | None) -> None:
        name = str(Path(path).relative_to(results_dir))
        if error is None:
            summary["done"] += 1
            bar.set_postfix_str(f"{name}: {final:.2f}")
        else:
            summary["failed"].append(name)
            bar.write(f"FAILED {name}: {error}")
        bar.update(1)

    if jobs <= 0:  # in-process (debugging, tests)
        for spec in todo:
            finished(*_worker(spec.to_dict(), str(results_dir / spec.relpath)))
    else:
        import multiprocessing as mp

        os.environ["OMP_NUM_THREADS"] = "1"
        with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"), initializer=_init_worker) as pool:
            futures = [pool.submit(_worker, spec.to_dict(), str(results_dir / spec.relpath)) for spec in todo]
            for future in as_completed(futures):
                finished(*future.result())
    bar.close()
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", required=True, help="a suite name (benchmarks/suites/NAME.yml) or a suite file")
    parser.add_argument("--env", nargs="+", default=None, metavar="ENV_ID",
                        help="run the suite on these gymnasium env ids instead of its own")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once (default 2; 0: in this process)")
    parser.add_argument("--steps", type=int, default=None, help="env steps per run (overrides the suite's budget)")
    parser.add_argument("--budget-scale", type=float, default=None, help="multiply the suite's budget")
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--envs", nargs="+", default=None, help="games / env ids to keep (e.g. Breakout)")
    parser.add_argument("--variants", nargs="+", default=None, help="variants to keep (e.g. mse hl_gauss)")
    parser.add_argument("--reward-noise", type=float, nargs="+", default=None, metavar="ETA",
                        help="reward-noise levels to keep (Suite B, e.g. 0 1)")
    parser.add_argument("--shard", default=None, help="i/n: run every n-th pending run starting at i (several machines)")
    parser.add_argument("--max-runs", type=int, default=None, help="stop after this many new runs")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--list", action="store_true", help="list the runs and whether they are done; run nothing")
    args = parser.parse_args(argv)

    shard = tuple(int(x) for x in args.shard.split("/")) if args.shard else None
    if args.list:
        runs = expand(args.suite, args.steps, args.budget_scale, args.seeds, args.envs, args.variants, args.reward_noise,
                      args.env)
        for spec in runs:
            state = "done" if (args.results_dir / spec.relpath).exists() else "todo"
            print(f"{state}  {spec.relpath}")
        return 0
    summary = run_suite(
        args.suite, jobs=args.jobs, results_dir=args.results_dir, steps=args.steps, budget_scale=args.budget_scale,
        seeds=args.seeds, envs=args.envs, variants=args.variants, reward_noise=args.reward_noise, shard=shard,
        max_runs=args.max_runs, env_ids=args.env,
    )
    print(
        f"suite {args.suite}: {summary['total']} runs, {summary['skipped']} already done, "
        f"{summary['reused']} copied from a reference run, {summary['done']} run now, {len(summary['failed'])} failed"
    )
    for name in summary["failed"]:
        print(f"  failed: {name} (see its .error.txt)")
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())

"""Tuning throughput on one PostgreSQL study: trials per hour with 1, 2 and 3 workers, and the time
from a worker's SIGKILL to its trial being failed and re-queued (docs/zoo.md, "Measured").

Each worker is ``python -m sb3_hlgauss.zoo train --algo hlgauss_dqn --env CartPole-v1 -optimize`` with
small trials (``--steps`` CartPole steps, one evaluation), all on one fresh database, started together with
``--max-total-trials``; the wall time runs from the start to the last worker's exit. Repeats are
interleaved (1, 2, 3, 1, 2, 3, ...). The kill measurement starts two workers, SIGKILLs one 1 s into a
trial of its own, and polls the database for the trial's FAIL and its re-queued copy.

    eval "$(bash scripts/postgres.sh start)"     # or any server: $SB3_HLGAUSS_TEST_PG_URL (a role with CREATEDB)
    python -m benchmarks.tuning_throughput --out benchmarks/results/tuning

Writes ``tuning_throughput.csv``, ``tuning_kill.csv``, ``tuning.json``, ``summary.md`` and
``tuning_throughput.png``, and replaces the ``<!-- generated:tuning -->`` block of docs/zoo.md with
``summary.md`` (``--report`` redoes only that, from ``tuning.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse
import uuid
from pathlib import Path

import optuna
from optuna.trial import TrialState

from sb3_hlgauss.zoo import tuning


def _database(admin_url: str) -> tuple[str, str, str]:
    """A fresh database: (URL without password, password, name)."""
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    parts = urllib.parse.urlsplit(admin_url)
    url = f"postgresql://{parts.username}@{parts.hostname}:{parts.port}/{name}"
    return url, urllib.parse.unquote(parts.password or ""), name


def _drop(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _worker(url: str, password: str, total: int, steps: int, seed: int, workdir: Path, *extra: str) -> subprocess.Popen:
    args = [
        sys.executable, "-m", "sb3_hlgauss.zoo", "train", "--algo", "hlgauss_dqn", "--env", "CartPole-v1", "-optimize",
        "-n", str(steps), "--max-total-trials", str(total), "--sampler", "tpe", "--pruner", "none",
        "--n-evaluations", "1", "--eval-episodes", "5", "--storage", url, "--study-name", "bench", "--seed", str(seed),
        "--no-optim-plots", "-f", str(workdir / f"tune{seed}"), "-params", f"learning_starts:{steps // 4}", *extra,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PGPASSWORD": password, "MPLBACKEND": "Agg"}
    log = open(workdir / f"worker{seed}.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)


def throughput(admin_url: str, workers: int, total: int, steps: int, workdir: Path) -> dict:
    url, password, name = _database(admin_url)
    os.environ["PGPASSWORD"] = password
    try:
        started = time.monotonic()
        processes = [_worker(url, password, total, steps, seed, workdir) for seed in range(workers)]
        codes = [process.wait() for process in processes]
        wall = time.monotonic() - started
        study = tuning.load_study(url, "bench")
        counts = tuning.trial_counts(study)
    finally:
        _drop(admin_url, name)
    assert codes == [0] * workers, codes
    return {"workers": workers, "trials": counts.finished, "wall_s": wall, "trials_per_hour": 3600 * counts.finished / wall}


def kill_recovery(admin_url: str, interval: int, grace: int, steps: int, workdir: Path) -> dict:
    url, password, name = _database(admin_url)
    os.environ["PGPASSWORD"] = password
    flags = ("--heartbeat-interval", str(interval), "--grace-period", str(grace))
    try:
        survivor = _worker(url, password, 3, steps, 0, workdir, *flags)
        victim = _worker(url, password, 3, steps, 1, workdir, *flags)
        victim_trial = None
        while victim_trial is None:
            time.sleep(0.2)
            try:
                study = tuning.load_study(url, "bench")
            except Exception:  # noqa: BLE001 - not created yet
                continue
            for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                if trial.user_attrs.get(tuning.WORKER_ATTR, "").endswith(f":{victim.pid}"):
                    victim_trial = trial.number
        time.sleep(1.0)
        os.kill(victim.pid, signal.SIGKILL)
        killed = time.monotonic()
        failed_s = requeued_s = None
        while requeued_s is None and time.monotonic() - killed < 10 * (grace + interval) + 60:
            trials = tuning.load_study(url, "bench").get_trials(deepcopy=False)
            if failed_s is None and trials[victim_trial].state == TrialState.FAIL:
                failed_s = time.monotonic() - killed
            if any(trial.system_attrs.get("failed_trial") == victim_trial for trial in trials):
                requeued_s = time.monotonic() - killed
            time.sleep(0.1)
        survivor.wait()
        finished = tuning.trial_counts(tuning.load_study(url, "bench")).finished
    finally:
        _drop(admin_url, name)
    return {"heartbeat_interval": interval, "grace_period": grace, "failed_s": failed_s, "requeued_s": requeued_s, "finished": finished}


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_workers: dict[int, list[float]] = {}
    for row in rows:
        by_workers.setdefault(row["workers"], []).append(row["trials_per_hour"])
    xs = sorted(by_workers)
    medians = [statistics.median(by_workers[x]) for x in xs]
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    for x in xs:
        ax.scatter([x] * len(by_workers[x]), by_workers[x], color="tab:blue", alpha=0.5, s=15)
    ax.plot(xs, medians, "o-", color="tab:blue", label="median")
    ax.set_xticks(xs)
    ax.set_xlabel("workers on one PostgreSQL study")
    ax.set_ylabel("finished trials per hour")
    ax.set_title("hlgauss_dqn CartPole trials, 2-core machine", fontsize=9)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


DOCS = Path(__file__).resolve().parents[1] / "docs" / "zoo.md"


def markdown(summary: dict) -> str:
    rows = summary["throughput"]
    settings = summary["settings"]
    lines = [
        f"Trials of `hlgauss_dqn` on CartPole-v1 ({settings['steps']} steps, one 5-episode evaluation each), "
        f"{settings['total']} per study, on one fresh PostgreSQL database; workers started together; "
        f"{summary['machine']['cpus']} CPUs, one torch thread per worker; {settings['repeats']} repeats, interleaved.",
        "",
        "| workers | finished trials per hour, median | runs (trials/hour) | wall time per study, median |",
        "|---|---|---|---|",
    ]
    for workers in sorted({row["workers"] for row in rows}):
        mine = [row for row in rows if row["workers"] == workers]
        rates = [row["trials_per_hour"] for row in mine]
        walls = [row["wall_s"] for row in mine]
        lines.append(
            f"| {workers} | {statistics.median(rates):.0f} | {', '.join(f'{rate:.0f}' for rate in rates)} | "
            f"{statistics.median(walls):.0f} s |"
        )
    lines += [
        "",
        "From a worker's SIGKILL, 1 s into one of its trials, to that trial being FAIL and its parameters re-queued "
        "(a second worker alive; bound: grace + interval):",
        "",
        "| heartbeat interval | grace period | to FAIL | to re-queued | bound | trials finished |",
        "|---|---|---|---|---|---|",
    ]
    for kill in summary["kill"]:
        failed = f"{kill['failed_s']:.1f} s" if kill["failed_s"] is not None else "never"
        requeued = f"{kill['requeued_s']:.1f} s" if kill["requeued_s"] is not None else "never"
        lines.append(
            f"| {kill['heartbeat_interval']} s | {kill['grace_period']} s | {failed} | {requeued} | "
            f"{kill['heartbeat_interval'] + kill['grace_period']} s | {kill['finished']} of 3 |"
        )
    lines += ["", f"Command: `{summary['command']}` (commit {summary['git_commit'][:10]}, "
              f"sb3-hlgauss {summary['versions']['sb3_hlgauss']}, Optuna {summary['versions']['optuna']}). "
              "Results: `benchmarks/results/tuning/`.", ""]
    return "\n".join(lines)


def update_docs(summary_md: str) -> None:
    import re

    text = DOCS.read_text()
    pattern = re.compile(r"(<!-- generated:tuning -->\n).*?(<!-- /generated:tuning -->)", re.DOTALL)
    DOCS.write_text(pattern.sub(lambda match: match.group(1) + summary_md + match.group(2), text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/tuning"))
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--total", type=int, default=9, help="trials per study")
    parser.add_argument("--steps", type=int, default=2000, help="CartPole steps per trial")
    parser.add_argument("--kill", type=int, nargs=2, action="append", metavar=("INTERVAL", "GRACE"),
                        help="heartbeat interval and grace period of a kill measurement (repeatable)")
    parser.add_argument("--report", action="store_true", help="only rewrite summary.md and docs/zoo.md from tuning.json")
    args = parser.parse_args()
    if args.report:
        summary_md = markdown(json.loads((args.out / "tuning.json").read_text()))
        (args.out / "summary.md").write_text(summary_md)
        update_docs(summary_md)
        return
    admin_url = os.environ.get("SB3_HLGAUSS_TEST_PG_URL")
    if not admin_url:
        sys.exit('set SB3_HLGAUSS_TEST_PG_URL (eval "$(bash scripts/postgres.sh start)")')
    args.out.mkdir(parents=True, exist_ok=True)
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"tuning_bench_{uuid.uuid4().hex[:6]}"
    workdir.mkdir()
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    rows = []
    for repeat in range(args.repeats):
        for workers in args.workers:
            row = {"repeat": repeat, **throughput(admin_url, workers, args.total, args.steps, workdir)}
            print(row, flush=True)
            rows.append(row)
    kills = []
    for interval, grace in args.kill or [(2, 5), (2, 5), (2, 5), (60, 120)]:
        row = kill_recovery(admin_url, interval, grace, args.steps, workdir)
        print(row, flush=True)
        kills.append(row)

    import csv

    for name, table in (("tuning_throughput.csv", rows), ("tuning_kill.csv", kills)):
        with open(args.out / name, "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=list(table[0]))
            writer.writeheader()
            writer.writerows(table)
    import sb3_hlgauss

    summary = {
        "command": " ".join(tuning.redact_argv(sys.orig_argv)),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "versions": {"sb3_hlgauss": sb3_hlgauss.__version__, "optuna": optuna.__version__},
        "git_commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
        "settings": {"total": args.total, "steps": args.steps, "repeats": args.repeats},
        "trials_per_hour_median": {
            str(w): statistics.median(r["trials_per_hour"] for r in rows if r["workers"] == w) for w in args.workers
        },
        "throughput": rows,
        "kill": kills,
    }
    (args.out / "tuning.json").write_text(json.dumps(summary, indent=2))
    plot(rows, args.out / "tuning_throughput.png")
    summary_md = markdown(summary)
    (args.out / "summary.md").write_text(summary_md)
    update_docs(summary_md)
    print(summary_md)


if __name__ == "__main__":
    main()

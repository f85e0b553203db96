"""``python -m sb3_hlgauss.zoo study``: the state of a tuning study, while it runs or after.

::

    python -m sb3_hlgauss.zoo study --storage postgresql://tuner@db-host/optuna --study-name hlgauss_cartpole --plots plots/

prints the trials by state (telling apart trials lost with their worker, which were re-queued, from
trials that failed by their own error), the best value and parameters, and the trials per worker,
and saves Optuna's standard plots (optimisation history, parameter importances, timeline) as PNG
through ``optuna.visualization.matplotlib``. Without ``--study-name`` it lists the storage's studies.
``--storage`` may be left out when ``$OPTUNA_STORAGE`` holds the URL. For a live view in the browser,
``optuna-dashboard <storage URL>`` (``pip install optuna-dashboard``) reads the same storage.
"""

from __future__ import annotations

import argparse
import collections
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import optuna
from optuna.trial import TrialState

from sb3_hlgauss.zoo import tuning

#: Optuna's matplotlib plots saved by :func:`save_plots`: file suffix -> function name.
PLOTS = {
    "optimization_history": "plot_optimization_history",
    "param_importances": "plot_param_importances",
    "timeline": "plot_timeline",
}


def trial_kind(trial: optuna.trial.FrozenTrial) -> str:
    """The trial's state, with FAIL split by cause: ``FAIL`` (its own error), ``LOST`` (its worker died or
    was interrupted), ``NOT_RUN`` (created after the study was full)."""
    if trial.state != TrialState.FAIL:
        return trial.state.name
    if tuning.NOT_RUN_ATTR in trial.user_attrs:
        return "NOT_RUN"
    return "FAIL" if tuning.counts_towards_total(trial) else "LOST"


KIND_ORDER = ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING", "LOST", "NOT_RUN")


def summarize(study: optuna.Study) -> str:
    """The report printed by the ``study`` command."""
    trials = study.get_trials(deepcopy=False)
    kinds = collections.Counter(trial_kind(trial) for trial in trials)
    counts = tuning.trial_counts(study)
    lines = [f"Study {study.study_name!r}: {len(trials)} trials, {counts.finished} finished"]
    lines.append("  " + ", ".join(f"{kind} {kinds[kind]}" for kind in KIND_ORDER if kinds[kind]))
    if kinds["LOST"]:
        lines.append("  (LOST: the worker died or was stopped; with a heartbeat its parameters were re-queued)")
    command = study.user_attrs.get("command")
    if command:
        lines.append(f"Command of the first worker: {command}")
    try:
        best = study.best_trial
    except ValueError:
        lines.append("Best trial: none completed yet")
    else:
        lines.append(f"Best trial: {best.number}, value {best.value}")
        lines.extend(f"    {key}: {value}" for key, value in best.params.items())
    per_worker: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for trial in trials:
        per_worker[str(trial.user_attrs.get(tuning.WORKER_ATTR, "(unknown)"))][trial_kind(trial)] += 1
    lines.append("Trials per worker (host:pid):")
    for worker in sorted(per_worker):
        counter = per_worker[worker]
        detail = ", ".join(f"{kind} {counter[kind]}" for kind in KIND_ORDER if counter[kind])
        lines.append(f"    {worker}: {sum(counter.values())} ({detail})")
    return "\n".join(lines)


def save_plots(study: optuna.Study, prefix: str | Path) -> list[Path]:
    """Save Optuna's matplotlib plots of ``study`` as ``<prefix><name>.png``; return the files written.

    A plot Optuna cannot draw yet (e.g. parameter importances before two trials completed) is skipped
    with a note.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plots

    written = []
    for name, function_name in PLOTS.items():
        path = Path(f"{prefix}{name}.png")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with warnings.catch_warnings():
                # Experimental-API notes, and the importance evaluator's remarks on small studies.
                warnings.simplefilter("ignore")
                axes = getattr(optuna_plots, function_name)(study)
        except (ValueError, RuntimeError, ImportError, ZeroDivisionError) as error:
            print(f"Skipped the {name} plot: {error}")
            plt.close("all")
            continue
        figure = axes.figure if hasattr(axes, "figure") else plt.gcf()
        figure.savefig(path, bbox_inches="tight", dpi=100)
        plt.close(figure)
        written.append(path)
    return written


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sb3_hlgauss.zoo study",
        description="Show a tuning study: trials by state, the best trial, trials per worker; save Optuna's plots.",
    )
    parser.add_argument("--storage", help=f"the study's storage URL or journal file (default: ${tuning.STORAGE_ENV})")
    parser.add_argument("--study-name", help="the study (default: list the studies of the storage)")
    parser.add_argument("--plots", metavar="DIR", help="save optimization_history.png, param_importances.png, timeline.png here")
    args = parser.parse_args(list(argv))
    url = tuning.resolve_storage_url(args.storage)
    if url is None:
        print(f"sb3_hlgauss.zoo study: error: give --storage URL or set ${tuning.STORAGE_ENV}", file=sys.stderr)
        return 2
    if args.study_name is None:
        storage = tuning.open_storage(url, tuning.TuningOptions(heartbeat_interval=None))
        summaries = optuna.get_all_study_summaries(storage, include_best_trial=False)
        print(f"Studies in {tuning.redact_url(url)}:")
        for summary in summaries:
            print(f"    {summary.study_name}: {summary.n_trials} trials")
        return 0
    try:
        study = tuning.load_study(url, args.study_name)
    except LookupError as error:
        print(f"sb3_hlgauss.zoo study: error: {error}", file=sys.stderr)
        return 2
    print(f"Storage: {tuning.redact_url(url)}")
    print(summarize(study))
    if args.plots:
        for path in save_plots(study, f"{args.plots.rstrip('/')}/"):
            print(f"Saved {path}")
    print("Live view in a browser: optuna-dashboard <the storage URL> (pip install optuna-dashboard)")
    return 0

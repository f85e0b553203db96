"""Turn result files into tables and plots: ``python -m benchmarks.analyze --suite minatar [--steps 100000]``.

Writes, under ``benchmarks/results/<suite>/<steps>/summary/``:

- ``summary.md``: per-game final returns (mean over seeds, and the lowest and highest seed), aggregate IQM
  and mean of normalised scores with 95% stratified-bootstrap CIs (rliable),
  probability of improvement of HL-Gauss over MSE and Huber (rliable), learning rates, budgets,
  wall time; for the reward-noise suite, final return relative to eta = 0.
- ``final_returns.csv``: one row per run.
- ``learning_curves.png``, ``aggregate.png`` (and ``noise.png`` for the reward-noise suite).

Normalisation: ``(R - R_random) / (R_reference - R_random)`` per task, with ``R_random`` the uniform-random
policy's measured return and ``R_reference`` a named score from outside the compared runs (both from
:mod:`benchmarks.anchors`): the same affine map for every variant and every analysis, so that each task
weighs alike in the aggregate and a run's score does not depend on the runs it is analysed with. Without
anchors for every task the IQM aggregate is not computed (the summary says which are missing).

Verdicts: each classification variant against its regression baseline, and each tagged variant against the
untagged one, per task (:func:`benchmarks.compare.compare_task`) and over tasks
(:func:`benchmarks.compare.compare_aggregate`, probability of improvement): permutation tests whose
false-alarm rate is at most 5%, "too few seeds to tell" where no outcome could reach p <= 0.05.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import zlib
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.anchors import algo_family, normalisation, reference
from benchmarks.run import RESULTS_DIR
from benchmarks.suites import _steps_label, declared_comparisons

#: Order and display names of the variants in tables and plots.
VARIANT_ORDER = ["mse", "huber", "hl_gauss", "two_hot", "c51", "categorical_mse", "sac", "sac_hl_gauss", "ppo", "ppo_hl_gauss"]
NAMES = {
    "mse": "MSE",
    "huber": "Huber (SB3)",
    "hl_gauss": "HL-Gauss",
    "two_hot": "Two-Hot",
    "c51": "C51",
    "categorical_mse": "Categorical + MSE",
    "sac": "SAC",
    "sac_hl_gauss": "HLGaussSAC",
    "ppo": "PPO",
    "ppo_hl_gauss": "HLGaussPPO",
}


def display(label: str) -> str:
    base, _, opt = label.partition("@")
    opt = ", ".join({"clslr": "lr x4", "reglr": "lr /4", "asym": "support [-5, 105]", "defaults": "0.4.0 default",
                     "default050": "0.5.0 default", "default050_sigma3": "0.5.0 default, sigma_ratio 3",
                     "default050_bins51": "0.5.0 default, 51 bins",
                     "default050_sigma15": "0.5.0 default, sigma_ratio 1.5"}.get(o, o) for o in opt.split("+") if o)
    return NAMES.get(base, base) + (f" ({opt})" if opt else "")


def _order(labels) -> list[str]:
    def key(label: str):
        base = label.split("@")[0]
        return (VARIANT_ORDER.index(base) if base in VARIANT_ORDER else len(VARIANT_ORDER), label)

    return sorted(set(labels), key=key)


# --------------------------------------------------------------------------- loading
def load_results(results_dir: Path, suite: str, steps: int | None = None) -> tuple[list[dict[str, Any]], str]:
    """Result files of a suite at one budget (the budget with most results when ``steps`` is None)."""
    root = Path(results_dir) / suite
    by_budget: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path in sorted(root.glob("*/*/*/seed*.json")):
        by_budget[path.relative_to(root).parts[0]].append(json.loads(path.read_text()))
    if not by_budget:
        raise FileNotFoundError(f"No result files under {root}")
    budget = _steps_label(steps) if steps is not None else max(by_budget, key=lambda b: len(by_budget[b]))
    if budget not in by_budget:
        raise FileNotFoundError(f"No result files under {root / budget} (budgets: {sorted(by_budget)})")
    return by_budget[budget], budget


def _parse_budget(label: str) -> int:
    for suffix, factor in (("M", 1_000_000), ("k", 1_000)):
        if label.endswith(suffix):
            return int(label[:-1]) * factor
    return int(label)


def _group_key(result: dict[str, Any]) -> str:
    spec = result["spec"]
    return spec["game"] if not spec["suite"].startswith("noise") else f"{spec['game']}|{spec['reward_noise']:g}"


def final_table(results: list[dict[str, Any]]) -> dict[str, dict[str, dict[int, float]]]:
    """game -> label -> seed -> final return."""
    table: dict[str, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for r in results:
        table[_group_key(r)][r["spec"]["label"]][r["spec"]["seed"]] = float(r["final_return"])
    return table


# --------------------------------------------------------------------------- statistics
def bootstrap_mean_ci(values, reps: int = 2000, seed: int = 0, alpha: float = 0.05) -> tuple[float, float, float]:
    """Mean and percentile-bootstrap CI of the mean (degenerate with one value)."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, mean, mean
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(reps, len(values)))].mean(axis=1)
    return mean, float(np.quantile(means, alpha / 2)), float(np.quantile(means, 1 - alpha / 2))


def score_matrices(table, labels, games, norm) -> dict[str, np.ndarray]:
    """label -> (runs x games) normalised scores, using the seeds every game has for that label."""
    out = {}
    for label in labels:
        common = sorted(set.intersection(*(set(table[g][label]) for g in games)))
        if not common:
            continue
        out[label] = np.array(
            [[(table[g][label][s] - norm[g][0]) / (norm[g][1] - norm[g][0]) for g in games] for s in common]
        )
    return out


@contextlib.contextmanager
def _seeded_numpy(seed: int):
    """Seed NumPy's global generator for the block, then restore its state.

    rliable's stratified bootstraps draw their resamples from ``np.random`` and ignore their
    ``random_state`` argument; seeding here makes the same result files give the same CIs, so
    regenerated tables do not change by bootstrap noise alone.
    """
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def aggregate(matrices: dict[str, np.ndarray], reps: int = 2000, seed: int = 0) -> dict[str, dict[str, tuple[float, float, float]]]:
    """IQM and mean of normalised scores with 95% stratified-bootstrap CIs (rliable)."""
    from benchmarks._rliable import metrics, rly

    def fn(scores):
        return np.array([metrics.aggregate_iqm(scores), metrics.aggregate_mean(scores)])

    with _seeded_numpy(seed):
        points, cis = rly.get_interval_estimates(matrices, fn, reps=reps)
    return {
        label: {
            "IQM": (float(points[label][0]), float(cis[label][0, 0]), float(cis[label][1, 0])),
            "mean": (float(points[label][1]), float(cis[label][0, 1]), float(cis[label][1, 1])),
        }
        for label in matrices
    }


def probability_of_improvement(matrices, pairs, reps: int = 2000, seed: int = 0) -> dict[tuple[str, str], tuple[float, float, float]]:
    """P(X > Y) averaged over games (rliable), with a 95% stratified-bootstrap CI."""
    from benchmarks._rliable import metrics, rly

    pairs = [(x, y) for x, y in pairs if x in matrices and y in matrices]
    if not pairs:
        return {}
    data = {f"{x},{y}": (matrices[x], matrices[y]) for x, y in pairs}
    with _seeded_numpy(seed):
        points, cis = rly.get_interval_estimates(data, metrics.probability_of_improvement, reps=reps)
    out = {}
    for x, y in pairs:
        lo, hi = np.ravel(cis[f"{x},{y}"])[:2]
        out[(x, y)] = (float(np.ravel(points[f"{x},{y}"])[0]), float(lo), float(hi))
    return out


# --------------------------------------------------------------------------- plots
def plot_learning_curves(results, path: Path, reps: int = 500) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    curves: dict[str, dict[str, list[tuple[list[int], list[float]]]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        steps = [e["step"] for e in r["evals"]]
        means = [e["mean"] for e in r["evals"]]
        curves[_group_key(r)][r["spec"]["label"]].append((steps, means))
    games = sorted(curves)
    cols = min(len(games), 3)
    rows = int(np.ceil(len(games) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows), squeeze=False)
    colours = {}
    for ax, game in zip(axes.flat, games):
        for label in _order(curves[game]):
            runs = curves[game][label]
            n = min(len(s) for s, _ in runs)
            steps = np.array(runs[0][0][:n])
            values = np.array([m[:n] for _, m in runs])
            stats = np.array([bootstrap_mean_ci(values[:, i], reps=reps) for i in range(n)])
            colour = colours.setdefault(label, f"C{len(colours)}")
            ax.plot(steps, stats[:, 0], color=colour, label=f"{display(label)} (n={len(runs)})")
            ax.fill_between(steps, stats[:, 1], stats[:, 2], color=colour, alpha=0.2)
        ax.set_title(game.replace("|", ", eta="), fontsize=10)
        ax.set_xlabel("env steps")
        # "1.25M" rather than "1250k": at 1M steps and more, labels in thousands run into each other.
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(
            lambda x, _: f"{x / 1e6:g}M" if abs(x) >= 1e6 else f"{x / 1000:g}k"))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(games):]:
        ax.axis("off")
    axes[0, 0].set_ylabel("greedy eval return")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_aggregate(agg, poi, path: Path, title: str, n_runs: dict[str, int] | None = None) -> None:
    """IQM, mean and probability-of-improvement panels; ``n_runs`` (label -> runs per game) marks single runs.

    A single run per game has no spread to resample: it is drawn as an open marker without an interval.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = _order(agg)
    n_runs = n_runs or {}

    def single(*lbs):
        return min(n_runs.get(lb, 2) for lb in lbs) < 2

    def draw(ax, point, lo, hi, y, color, single):
        if single:
            ax.plot(point, y, "o", mfc="none", color=color)
        else:
            ax.errorbar(point, y, xerr=[[point - lo], [hi - point]], fmt="o", color=color, capsize=4)

    ncols = 3 if poi else 2
    fig, axes = plt.subplots(1, ncols, figsize=(4.4 * ncols, 1.3 + 0.45 * max(len(labels), len(poi), 2)))
    for ax, metric in zip(axes, ["IQM", "mean"]):
        for i, label in enumerate(labels):
            draw(ax, *agg[label][metric], i, f"C{i}", single(label))
        ax.set_yticks(range(len(labels)), [display(lb) + (" (1 run)" if single(lb) else "") for lb in labels])
        ax.set_xlabel(f"{metric} normalised score")
        ax.grid(alpha=0.3, axis="x")
    if poi:
        ax = axes[2]
        for i, ((x, y), (point, lo, hi)) in enumerate(poi.items()):
            draw(ax, point, lo, hi, i, "k", single(x, y))
        ax.axvline(0.5, color="grey", ls="--")
        ax.set_yticks(range(len(poi)), [f"P({display(x)} > {display(y)})" for x, y in poi])
        ax.set_xlim(0, 1)
        ax.set_xlabel("probability of improvement")
        ax.grid(alpha=0.3, axis="x")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def noise_table(table, reps: int = 2000, seed: int = 0) -> dict[tuple[str, str], dict[float, tuple[float, float, float, int]]]:
    """(game, label) -> eta -> (relative final return, CI low, CI high, n): mean(eta) / mean(eta=0), both means
    over the ``n`` seeds run at both levels (where one level has run more seeds, as a copied reference has,
    the ratio would otherwise divide by other seeds' returns); a ratio with ``n == 1`` has no interval.
    Each cell draws from its own generator, keyed by its name, so a run added to one cell leaves the
    intervals of the others as they were.
    """
    out: dict[tuple[str, str], dict[float, tuple[float, float, float, int]]] = defaultdict(dict)
    for key, by_label in table.items():
        game, _, eta = key.partition("|")
        for label, seeds in by_label.items():
            base = table.get(f"{game}|0", {}).get(label)
            if not base:
                continue
            common = sorted(set(seeds) & set(base))
            if not common:
                continue
            x, b = np.array([seeds[k] for k in common]), np.array([base[k] for k in common])
            denom = b.mean()
            if denom == 0:
                continue
            rng = np.random.default_rng([seed, zlib.crc32(f"{key}|{label}".encode())])
            ratios = x[rng.integers(0, len(x), (reps, len(x)))].mean(1) / b[rng.integers(0, len(b), (reps, len(b)))].mean(1)
            lo, hi = np.quantile(ratios, [0.025, 0.975])
            # n: the seeds of both means; with one there is nothing to resample.
            out[(game, label)][float(eta)] = (float(x.mean() / denom), float(lo), float(hi), len(common))
    return out


def plot_noise(ntable, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    games = sorted({g for g, _ in ntable})
    fig, axes = plt.subplots(1, len(games), figsize=(4.0 * len(games), 3.2), squeeze=False)
    for ax, game in zip(axes.flat, games):
        for i, label in enumerate(_order(lb for g, lb in ntable if g == game)):
            rows = sorted(ntable[(game, label)].items())
            etas = [e for e, _ in rows]
            vals = np.array([v[:3] for _, v in rows])
            ax.errorbar(etas, vals[:, 0], yerr=[vals[:, 0] - vals[:, 1], vals[:, 2] - vals[:, 0]], marker="o",
                        capsize=3, label=display(label), color=f"C{i}")
        ax.axhline(1.0, color="grey", ls="--")
        ax.set_title(game)
        ax.set_xlabel("reward noise eta (eps ~ U(0, eta))")
        ax.set_ylabel("final return / final return at eta = 0")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- verdicts
#: The regression baselines each classification loss is compared with (same tag, e.g. "@x4", on both sides).
BASELINES = {
    "hl_gauss": ["mse", "huber", "categorical_mse"],  # the last: the ablation (same head, MSE on its mean)
    "two_hot": ["mse", "huber"],
    "c51": ["mse", "huber"],
    "categorical_mse": ["mse"],
    "sac_hl_gauss": ["sac"],
    "ppo_hl_gauss": ["ppo"],
}


def comparison_pairs(labels, declared=()) -> list[tuple[str, str]]:
    """(ours, baseline) pairs among ``labels``: each loss against its baselines with the same tag, each
    tagged variant (``hl_gauss@x4``) against its untagged self (``hl_gauss``), then the ``declared`` pairs of the
    suites (their ``compare`` key, :func:`benchmarks.suites.declared_comparisons`) whose two labels have runs."""
    labels = set(labels)
    pairs = []
    for label in _order(labels):
        base, _, tag = label.partition("@")
        suffix = f"@{tag}" if tag else ""
        pairs += [(label, y + suffix) for y in BASELINES.get(base, []) if y + suffix in labels]
        if tag and base in labels:
            pairs.append((label, base))
    pairs += [(x, y) for x, y in declared if x in labels and y in labels and (x, y) not in pairs]
    return pairs


def verdicts(table, pairs, aggregate_over: list[str] | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """(ours, baseline) -> {"tasks": {task: Verdict}, "aggregate": Verdict or None}, by the calibrated rule of
    :mod:`benchmarks.compare`; the aggregate spans the tasks of ``aggregate_over`` where both have runs (>= 2)."""
    from benchmarks.compare import compare_aggregate, compare_task

    out = {}
    for x, y in pairs:
        tasks = [g for g in sorted(table) if table[g].get(x) and table[g].get(y)]
        if not tasks:
            continue
        row: dict[str, Any] = {"tasks": {g: compare_task(list(table[g][x].values()), list(table[g][y].values()))
                                         for g in tasks}, "aggregate": None}
        shared = [g for g in tasks if aggregate_over is not None and g in aggregate_over]
        if len(shared) >= 2:
            row["aggregate"] = compare_aggregate({g: list(table[g][x].values()) for g in shared},
                                                 {g: list(table[g][y].values()) for g in shared})
        out[(x, y)] = row
    return out


def _cell(verdict) -> str:
    label = "too few seeds" if verdict.label == "too few seeds to tell" else verdict.label
    return f"{label} (p={verdict.p_value:.2g})"


def _verdict_json(verdict) -> dict[str, Any] | None:
    if verdict is None:
        return None
    return {"label": verdict.label, "p_value": verdict.p_value, "difference": verdict.difference,
            "n_ours": verdict.n_ours, "n_baseline": verdict.n_baseline, "n_tasks": verdict.n_tasks}


def verdict_lines(found) -> list[str]:
    """The verdict table: one row per comparison, one column per task and one for the aggregate."""
    tasks = sorted({g for row in found.values() for g in row["tasks"]})
    with_aggregate = any(row["aggregate"] is not None for row in found.values())
    head = [g.replace("|", ", eta=") for g in tasks] + (["all tasks (P(ours > baseline))"] if with_aggregate else [])
    lines = ["## Verdicts (calibrated rule: permutation test, 5% false-alarm rate; `benchmarks/compare.py`)", "",
             ("Per task: difference of mean final returns; over tasks: probability of improvement, stratified "
             "permutation test. \"too few seeds\": no outcome at these seed counts could reach p <= 0.05. "
             "\"level\": no difference detected, not shown equal."), "",
             "| ours vs baseline | " + " | ".join(head) + " |", "|---" * (len(head) + 1) + "|"]
    for (x, y), row in found.items():
        cells = [_cell(row["tasks"][g]) if g in row["tasks"] else "-" for g in tasks]
        if with_aggregate:
            agg = row["aggregate"]
            cells.append(f"{_cell(agg)}, P = {agg.difference:.2f}" if agg is not None else "-")
        lines.append(f"| {display(x)} vs {display(y)} | " + " | ".join(cells) + " |")
    return lines + [""]


# --------------------------------------------------------------------------- report
def _fmt_lr(learning_rate: float | str) -> str:
    """A learning rate, or the zoo's schedule string (``lin_2.5e-4``) as it is."""
    return f"{learning_rate:g}" if isinstance(learning_rate, (int, float)) else str(learning_rate)


def _fmt(x: tuple[float, float, float], digits: int = 2, n: int | None = None) -> str:
    """``point [lo, hi]``; a single run (``n == 1``) has no spread to resample, so no interval is shown."""
    point, lo, hi = x[:3]
    if n is not None and n < 2:
        return f"{point:.{digits}f} (1 run: no CI)"
    return f"{point:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def _fmt_ratio(x: tuple[float, float, float, int]) -> str:
    """A noise-table cell, ``ratio [lo, hi] (n=k)``; with one run on either side, no interval (as per game)."""
    return f"{x[0]:.2f} (n={x[3]})" if x[3] < 2 else f"{_fmt(x)} (n={x[3]})"


def analyze(suite: str | list[str], results_dir: Path = RESULTS_DIR, steps: int | None = None, out_dir: Path | None = None,
            reps: int = 2000) -> dict[str, Any]:
    """Write the tables and plots of a suite; return the numbers (also saved as ``summary.json``)."""
    suites = [suite] if isinstance(suite, str) else list(suite)
    results, budget = load_results(results_dir, suites[0], steps)
    for other in suites[1:]:
        results += load_results(results_dir, other, int(_parse_budget(budget)))[0]
    declared = [pair for name in suites for pair in declared_comparisons(name)]
    suite = "+".join(suites)
    out_dir = Path(out_dir) if out_dir is not None else Path(results_dir) / suite / budget / "summary"
    out_dir.mkdir(parents=True, exist_ok=True)
    table = final_table(results)
    games = sorted(table)
    labels = _order(lb for g in games for lb in table[g])
    noisy = any("|" in g for g in games)
    lines = [f"# Suite `{suite}`, {budget} env steps per run", ""]

    # Settings
    lrs: dict[str, set] = defaultdict(set)
    for r in results:
        lrs[r["spec"]["label"]].add(r["spec"]["algo_kwargs"].get("learning_rate"))
    machines = sorted({f"{r['machine']['cpu']} ({r['machine']['cpu_count']} cores)" for r in results})
    sps = defaultdict(list)
    clip = defaultdict(list)
    for r in results:
        sps[r["spec"]["label"]].append(r["steps_per_s"])
        if r.get("clip_fraction") is not None:
            clip[r["spec"]["label"]].append(r["clip_fraction"])
    lines += ["| variant | learning rate | runs | train steps/s (median) | clipped targets |", "|---|---|---|---|---|"]
    for label in labels:
        n = sum(len(table[g].get(label, {})) for g in games)
        c = f"{100 * max(clip[label]):.3f}% (max)" if clip[label] else "n/a"
        lines.append(f"| {display(label)} | {', '.join(_fmt_lr(x) for x in sorted(lrs[label], key=str) if x is not None)} | {n} "
                     f"| {np.median(sps[label]):.0f} | {c} |")
    lines += ["", f"Machine: {'; '.join(machines)}. Final return: {results[0].get('final_return_definition', '')}.", ""]

    # Per-game final returns
    # The seeds' range, not a bootstrap CI: at 3-5 seeds a percentile bootstrap of the mean is about the seed range
    # and covers the true mean far less often than its nominal 95%. Verdicts come from benchmarks.compare.
    lines += ["## Final return per game (mean over seeds [lowest, highest seed], n seeds)", ""]
    lines += ["| game | " + " | ".join(display(lb) for lb in labels) + " |", "|---" * (len(labels) + 1) + "|"]
    per_game: dict[str, dict[str, Any]] = {}
    for g in games:
        cells = []
        for label in labels:
            seeds = table[g].get(label)
            if not seeds:
                cells.append("-")
                continue
            values = list(seeds.values())
            spread = (float(np.mean(values)), float(min(values)), float(max(values)))
            per_game.setdefault(g, {})[label] = {"mean": spread[0], "range": spread[1:], "seeds": seeds}
            cells.append(f"{_fmt(spread)} (n={len(seeds)})" if len(seeds) > 1 else f"{spread[0]:.2f} (n=1)")
        lines.append(f"| {g.replace('|', ', eta=')} | " + " | ".join(cells) + " |")
    lines.append("")
    summary: dict[str, Any] = {"suite": suite, "budget": budget, "per_game": per_game, "n_results": len(results)}
    # The table's "clipped targets" column, for readers of summary.json (benchmarks/evidence.py).
    summary["clip_fraction_max"] = {label: max(clip[label]) for label in labels if clip[label]}

    plot_learning_curves(results, out_dir / "learning_curves.png", reps=min(reps, 500))

    if noisy:
        ntable = noise_table(table, reps=reps)
        if ntable:
            lines += ["## Final return relative to eta = 0 (ratio of means [95% bootstrap CI])", ""]
            etas = sorted({e for v in ntable.values() for e in v})
            lines += ["| game | variant | " + " | ".join(f"eta={e:g}" for e in etas) + " |", "|---" * (len(etas) + 2) + "|"]
            for (game, label), row in sorted(ntable.items()):
                lines.append(f"| {game} | {display(label)} | " + " | ".join(
                    _fmt_ratio(row[e]) if e in row else "-" for e in etas) + " |")
            lines.append("")
            plot_noise(ntable, out_dir / "noise.png")
            summary["noise"] = {f"{g}|{lb}": v for (g, lb), v in ntable.items()}
    else:
        # The games of the best-covered variant, and the variants that have all of them.
        coverage = {lb: {g for g in games if table[g].get(lb)} for lb in labels}
        best = max(labels, key=lambda lb: len(coverage[lb]))
        complete = sorted(coverage[best])
        agg_labels = [lb for lb in labels if coverage[lb] >= coverage[best]]
        families = {algo_family(r["spec"]["algo"]) for r in results}
        family = families.pop() if len(families) == 1 else None
        norm, missing = normalisation(complete, family)
        matrices = score_matrices(table, agg_labels, complete, norm) if not missing else {}
        if missing:
            lines += ["Aggregate IQM: not computed: no normalisation anchors for " + "; ".join(
                f"{g} ({why})" for g, why in missing.items()) + " (`python -m benchmarks.anchors --tasks ...` measures "
                "the random policy; `benchmarks.anchors.REFERENCES` names the reference scores).", ""]
            (out_dir / "aggregate.png").unlink(missing_ok=True)  # a plot of an earlier analysis would outlive its numbers
        elif matrices:
            agg = aggregate(matrices, reps=reps)
            poi = probability_of_improvement(matrices, comparison_pairs(agg_labels, declared), reps=reps)
            lines += [
                f"## Aggregate over {len(complete)} game(s): normalised score (R - R_random) / (R_reference - R_random)",
                "",
                "Stratified bootstrap 95% CIs (rliable); runs: seeds present in every game.",
                "",
                "| variant | runs x games | IQM | mean |",
                "|---|---|---|---|",
            ]
            for label in _order(agg):
                m = matrices[label]
                n = m.shape[0]
                lines.append(f"| {display(label)} | {n} x {m.shape[1]} | {_fmt(agg[label]['IQM'], n=n)} | {_fmt(agg[label]['mean'], n=n)} |")
            lines.append("")
            if poi:
                lines += ["| probability of improvement | estimate [95% CI] |", "|---|---|"]
                for (x, y), v in poi.items():
                    n = min(matrices[x].shape[0], matrices[y].shape[0])
                    lines.append(f"| P({display(x)} > {display(y)}) | {_fmt(v, n=n)} |")
                lines.append("")
            lines += ["Normalisation anchors (R_random, R_reference): " + ", ".join(
                f"{g} ({lo:.2f}, {hi:.2f})" for g, (lo, hi) in norm.items()) + "; R_reference: " + "; ".join(
                sorted({reference(g, family).source for g in complete})) + " (`benchmarks/anchors.py`).", ""]
            plot_aggregate(agg, poi, out_dir / "aggregate.png", f"Suite {suite}, {budget} steps: {len(complete)} games",
                           n_runs={label: m.shape[0] for label, m in matrices.items()})
            summary["aggregate"] = agg
            summary["probability_of_improvement"] = {f"{x}>{y}": v for (x, y), v in poi.items()}
            summary["normalisation"] = norm

    found = verdicts(table, comparison_pairs(labels, declared), aggregate_over=None if noisy else games)
    if found:
        lines += verdict_lines(found)
        summary["verdicts"] = {f"{x}>{y}": {"tasks": {g: _verdict_json(v) for g, v in row["tasks"].items()},
                                            "aggregate": _verdict_json(row["aggregate"])}
                               for (x, y), row in found.items()}

    # CSV of every run
    rows = ["suite,budget,game,reward_noise,variant,label,learning_rate,seed,final_return,wall_time_s,steps_per_s,clip_fraction"]
    for r in sorted(results, key=lambda r: (r["spec"]["game"], r["spec"]["reward_noise"], r["spec"]["label"], r["spec"]["seed"])):
        s = r["spec"]
        rows.append(",".join(str(x) for x in (
            suite, budget, s["game"], s["reward_noise"], s["variant"], s["label"], s["algo_kwargs"].get("learning_rate"),
            s["seed"], f"{r['final_return']:.4f}", f"{r['wall_time_s']:.1f}", f"{r['steps_per_s']:.1f}", r.get("clip_fraction"))))
    (out_dir / "final_returns.csv").write_text("\n".join(rows) + "\n")
    text = "\n".join(lines)
    (out_dir / "summary.md").write_text(text)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=list))
    summary["markdown"] = text
    summary["out_dir"] = str(out_dir)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", required=True, nargs="+", help="one suite, or several to analyse together")
    parser.add_argument("--steps", type=int, default=None, help="budget to analyse (default: the one with most results)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--out-dir", type=Path, default=None)
    parser.add_argument("--reps", type=int, default=2000, help="bootstrap resamples")
    args = parser.parse_args(argv)
    summary = analyze(args.suite, args.results_dir, args.steps, args.out_dir, args.reps)
    print(summary["markdown"])
    print(f"\nwritten to {summary['out_dir']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

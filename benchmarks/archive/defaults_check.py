"""The defaults check (suite ``minatar_defaults``, docs/benchmarks.md "Defaults check"): HL-Gauss with no loss
settings at all (the package defaults: 101 bins, symlog, [-1e4, 1e4]) against Suite A's hand-set HL-Gauss
(420 bins on [-105, 105], identity), MinAtar at 500k steps, and the verdict of the rule fixed before the runs.

    python -m benchmarks.defaults_check   # writes benchmarks/results/minatar_defaults/500k/summary/, updates the docs block

The rule (docs/benchmarks.md): the defaults do as well if the IQM of their normalised scores lies inside the
95% stratified-bootstrap CI of Suite A's HL-Gauss IQM, or above it; they do worse if it lies below. It is
applied once every game has 3 seeds of the defaults.

Normalisation is Suite A's at 500k (the random score, and the best final return of any Suite A run on the
game), so Suite A's HL-Gauss IQM and CI are the ones of the Suite A table on the same page. Beside the rule
(not part of it), the summary gives the defaults' own CI and the difference of IQMs with a bootstrap CI.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.analyze import _order, aggregate, final_table, load_results, normalisers, score_matrices
from benchmarks.capacity import difference_ci
from benchmarks.run import RESULTS_DIR
from benchmarks.suites import MINATAR_GAMES, MINATAR_RANDOM_SCORES, _steps_label

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
DEFAULTS = "hl_gauss@defaults"
HAND_SET = "hl_gauss"
#: The rule is applied once every game has this many seeds of the defaults.
SEEDS_FOR_RULE = 3


def verdict(point: float, reference_ci: tuple[float, float], complete: bool) -> str:
    """The rule's reading of the defaults' IQM ``point`` against Suite A's HL-Gauss IQM CI."""
    lo, hi = reference_ci
    where = "above" if point > hi else "inside" if point >= lo else "below"
    if not complete:
        return f"No reading yet (the rule is applied at {SEEDS_FOR_RULE} seeds per game); so far the IQM lies {where} the CI."
    if where == "below":
        return (f"**The defaults do worse:** their IQM ({point:.2f}) lies below the 95% CI of Suite A's hand-set "
                f"HL-Gauss IQM [{lo:.2f}, {hi:.2f}].")
    return (f"**The defaults do as well:** their IQM ({point:.2f}) lies {where} the 95% CI of Suite A's hand-set "
            f"HL-Gauss IQM [{lo:.2f}, {hi:.2f}].")


def analyze_defaults(results_dir: Path = RESULTS_DIR, steps: int = 500_000, reps: int = 2000) -> dict[str, Any]:
    """Write ``summary.md``, ``summary.json`` and ``defaults.png`` and return the summary."""
    suite_a, budget = load_results(results_dir, "minatar", steps)
    defaults, _ = load_results(results_dir, "minatar_defaults", steps)
    norm = normalisers(final_table(suite_a), MINATAR_RANDOM_SCORES)
    table = final_table([r for r in suite_a if r["spec"]["label"] == HAND_SET] + defaults)
    games = [g for g in MINATAR_GAMES if table.get(g, {}).get(DEFAULTS) and table[g].get(HAND_SET)]
    n_runs = sum(len(table[g].get(DEFAULTS, {})) for g in table)
    complete = len(games) == len(MINATAR_GAMES) and all(len(table[g][DEFAULTS]) >= SEEDS_FOR_RULE for g in games)
    clip = [r.get("clip_fraction") for r in defaults if r.get("clip_fraction") is not None]
    out_dir = Path(results_dir) / "minatar_defaults" / budget / "summary"
    out_dir.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"budget": budget, "games": games, "runs": n_runs, "complete": complete,
                               "clip_fraction_max": max(clip) if clip else None,
                               "finals": {g: {lb: table[g].get(lb, {}) for lb in (DEFAULTS, HAND_SET)} for g in MINATAR_GAMES}}
    lines = [f"Final return (greedy evaluation at {budget} steps) per seed, {n_runs} of "
             f"{SEEDS_FOR_RULE * len(MINATAR_GAMES)} runs of the defaults in:", ""]
    lines += ["| game | defaults (101 bins, symlog, +-1e4) | hand-set (Suite A: 420 bins, identity, +-105) |", "|---|---|---|"]
    for g in MINATAR_GAMES:
        cells = [", ".join(f"{v:.1f}" for _, v in sorted(table.get(g, {}).get(lb, {}).items())) or "-" for lb in (DEFAULTS, HAND_SET)]
        lines.append(f"| {g} | " + " | ".join(cells) + " |")
    lines += ["", f"Largest fraction of clipped targets in a run of the defaults: "
              f"{'%.3f%%' % (100 * max(clip)) if clip else 'n/a'}.", ""]
    matrices = score_matrices(table, [DEFAULTS, HAND_SET], games, norm) if games else {}
    if len(matrices) == 2:
        agg = aggregate({DEFAULTS: matrices[DEFAULTS]}, reps=reps)
        # Suite A's HL-Gauss IQM and CI exactly as its own table has them: the bootstrap over all its variants.
        agg[HAND_SET] = _suite_a_aggregate(suite_a, norm, reps)[HAND_SET]
        point = agg[DEFAULTS]["IQM"][0]
        ref = agg[HAND_SET]["IQM"]
        diff = difference_ci([(matrices[DEFAULTS], matrices[HAND_SET], 1.0)], reps)
        summary.update(iqm={DEFAULTS: agg[DEFAULTS]["IQM"], HAND_SET: ref}, difference=diff,
                       verdict=verdict(point, ref[1:], complete),
                       reading=None if not complete else "worse" if point < ref[1] else "as well")
        lines += [f"IQM of normalised scores over {len(games)} games (Suite A's normalisation), 95% stratified-bootstrap CIs:", "",
                  "| variant | runs x games | IQM |", "|---|---|---|"]
        for label, name in ((DEFAULTS, "HL-Gauss, defaults"), (HAND_SET, "HL-Gauss, hand-set (Suite A)")):
            p, lo, hi = agg[label]["IQM"]
            lines.append(f"| {name} | {matrices[label].shape[0]} x {len(games)} | {p:.2f} [{lo:.2f}, {hi:.2f}] |")
        lines += ["", f"Beside the rule: IQM(defaults) - IQM(hand-set) = {diff[0]:+.2f} [{diff[1]:+.2f}, {diff[2]:+.2f}].", "",
                  summary["verdict"], ""]
        _plot(table, norm, agg, out_dir / "defaults.png", budget)
    else:
        summary.update(verdict=verdict(float("nan"), (float("nan"), float("nan")), False), reading=None)
        lines += ["No game has runs of both variants yet.", ""]
    text = "\n".join(lines)
    (out_dir / "summary.md").write_text(text)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    summary["markdown"] = text
    return summary


def _suite_a_aggregate(suite_a: list[dict[str, Any]], norm, reps: int) -> dict[str, Any]:
    """The aggregate of ``benchmarks.analyze`` for Suite A (same variants, games and bootstrap seed)."""
    table = final_table(suite_a)
    labels = _order(lb for g in table for lb in table[g])
    coverage = {lb: {g for g in table if table[g].get(lb)} for lb in labels}
    best = max(labels, key=lambda lb: len(coverage[lb]))
    complete = sorted(coverage[best])
    return aggregate(score_matrices(table, [lb for lb in labels if coverage[lb] >= coverage[best]], complete, norm), reps=reps)


def _plot(table, norm, agg, path: Path, budget: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5), gridspec_kw={"width_ratios": [3, 1]})
    for offset, (label, name) in zip((-0.15, 0.15), ((DEFAULTS, "defaults"), (HAND_SET, "hand-set (Suite A)"))):
        xs, ys = [], []
        for i, g in enumerate(MINATAR_GAMES):
            low, high = norm[g]
            for value in table.get(g, {}).get(label, {}).values():
                xs.append(i + offset)
                ys.append((value - low) / (high - low))
        left.scatter(xs, ys, label=name, alpha=0.8)
        p, lo, hi = agg[label]["IQM"]
        right.errorbar([offset], [p], yerr=[[p - lo], [hi - p]], marker="o", capsize=4, label=name)
    left.set_xticks(range(len(MINATAR_GAMES)), MINATAR_GAMES, rotation=20)
    left.set_ylabel("normalised final return")
    left.set_title(f"HL-Gauss, {budget} steps: per run")
    left.legend(fontsize=8)
    right.set_xticks([])
    right.set_xlim(-0.6, 0.6)
    right.set_title("IQM, 95% CI")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=500_000)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args(argv)
    summary = analyze_defaults(args.results_dir, args.steps, args.reps)
    if not args.no_docs:
        docs = DOCS.read_text()
        pattern = re.compile(r"(<!-- generated:minatar_defaults -->\n).*?(<!-- /generated:minatar_defaults -->)", re.DOTALL)
        DOCS.write_text(pattern.sub(lambda match: match.group(1) + summary["markdown"] + match.group(2), docs))
    print(summary["markdown"])
    print(f"written to {Path(args.results_dir) / 'minatar_defaults' / _steps_label(args.steps) / 'summary'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Suite S (capacity): does HL-Gauss's gain over MSE grow with the network's width?

``python -m benchmarks.capacity [--steps 500000]`` reads Suite A's MSE and HL-Gauss runs (the x1 network,
``benchmarks/results/minatar/``) and Suite S's (the x4 network, ``benchmarks/results/capacity/``), and
writes under ``benchmarks/results/capacity/<budget>/summary/``:

- ``capacity.md`` / ``capacity.json``: IQM of normalised scores per (loss, width) with 95% stratified
  bootstrap CIs (rliable), and the HL-Gauss - MSE difference of IQMs per width with a 95% stratified
  bootstrap CI (seeds resampled within each game, independently for each loss), plus the change of that
  difference from x1 to x4;
- ``capacity.png``: IQM against the network's parameter count, one line per loss.

Normalisation as ``benchmarks.analyze`` (random score, best final return of any run in the analysed set).
Only games with runs of all four (loss, width) cells enter the aggregate; the table says how many.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.analyze import _fmt, aggregate, final_table, load_results, normalisers, score_matrices
from benchmarks.run import RESULTS_DIR
from benchmarks.suites import MINATAR_RANDOM_SCORES, SUITES, _steps_label

LOSSES = {"mse": "MSE", "hl_gauss": "HL-Gauss"}
WIDTHS = {"x1": "", "x4": "@x4"}  # width -> label suffix (x1: Suite A's labels)
#: Seeds every cell needs before the rule fixed before the runs is read: the seeds Suite S plans.
RULE_SEEDS = len(SUITES["capacity"][0].seeds)


def iqm(values: np.ndarray) -> float:
    from scipy.stats import trim_mean

    return float(trim_mean(np.asarray(values).ravel(), 0.25))


def _resample(m: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Runs resampled with replacement within each game (column): the stratified bootstrap."""
    return np.take_along_axis(m, rng.integers(0, m.shape[0], size=m.shape), axis=0)


def difference_ci(
    pairs: list[tuple[np.ndarray, np.ndarray, float]], reps: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """``sum_k w_k (IQM(a_k) - IQM(b_k))`` over ``pairs`` of (a, b, w) and its 95% CI, every matrix
    resampled independently (one pair: HL-Gauss - MSE at one width; two with w = +1, -1: its change)."""
    rng = np.random.default_rng(seed)

    def statistic(draw) -> float:
        return sum(w * (iqm(draw(a)) - iqm(draw(b))) for a, b, w in pairs)

    draws = [statistic(lambda m: _resample(m, rng)) for _ in range(reps)]
    return statistic(lambda m: m), float(np.quantile(draws, 0.025)), float(np.quantile(draws, 0.975))


def rule_verdict(change: tuple[float, float, float]) -> str:
    """The rule fixed before the runs (docs/benchmarks.md, Suite S) on the change of HL-Gauss - MSE from x1 to
    x4 and its 95% CI: the claim holds if the CI lies above 0, is contradicted if it lies below 0."""
    if change[1] > 0:
        return "holds"
    if change[2] < 0:
        return "contradicted"
    return "not resolved at this scale"


def gain_phrase(gain: tuple[float, float, float]) -> str:
    """How one loss's IQM moves from x1 to x4, by the 95% CI of the move."""
    return "improves" if gain[1] > 0 else "gets worse" if gain[2] < 0 else "does not change measurably"


def parameter_counts() -> dict[str, dict[str, float]]:
    """Mean parameter count over the five games of each (loss, width) network (None if MinAtar is missing)."""
    import copy

    from benchmarks.algos import algorithm_class, make_env, resolve_policy_kwargs
    from benchmarks.suites import MINATAR_DQN, MINATAR_DQN_X4, MINATAR_GAMES, MINATAR_SUPPORT

    counts: dict[str, dict[str, float]] = {}
    try:
        envs = [make_env(f"MinAtar/{game}-v1", 0) for game in MINATAR_GAMES]
    except Exception:  # noqa: BLE001 - MinAtar not installed
        return {}
    for width, config in (("x1", MINATAR_DQN), ("x4", MINATAR_DQN_X4)):
        for loss in LOSSES:
            kwargs = copy.deepcopy(config)
            policy = kwargs.pop("policy")
            kwargs["policy_kwargs"] = resolve_policy_kwargs(kwargs["policy_kwargs"])
            algo = "mse_dqn" if loss == "mse" else "hlgauss_dqn"
            if loss != "mse":
                kwargs.update(loss=loss, **MINATAR_SUPPORT)
            kwargs["buffer_size"] = 10
            sizes = [
                sum(p.numel() for p in algorithm_class(algo)(policy, env, device="cpu", **kwargs).q_net.parameters())
                for env in envs
            ]
            counts.setdefault(loss, {})[width] = float(np.mean(sizes))
    return counts


def analyze_capacity(results_dir: Path = RESULTS_DIR, steps: int = 500_000, reps: int = 2000) -> dict[str, Any]:
    base, budget = load_results(results_dir, "minatar", steps)
    wide, _ = load_results(results_dir, "capacity", steps)
    labels = [loss + suffix for suffix in WIDTHS.values() for loss in LOSSES]
    results = [r for r in base + wide if r["spec"]["label"] in labels]
    table = final_table(results)
    games = sorted(g for g in table if all(table[g].get(label) for label in labels))
    out_dir = Path(results_dir) / "capacity" / budget / "summary"
    out_dir.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"budget": budget, "games": games, "runs": {l: sum(len(table[g].get(l, {})) for g in table) for l in labels},
                               "reading": None}
    lines = [f"# Suite S (capacity), {budget} env steps per run", ""]
    if not games:
        lines.append("No game has runs of every (loss, width) cell yet.")
    else:
        norm = normalisers(table, MINATAR_RANDOM_SCORES)
        matrices = score_matrices(table, labels, games, norm)
        agg = aggregate(matrices, reps=reps)
        params = parameter_counts()
        summary.update(iqm={l: agg[l]["IQM"] for l in labels}, parameters=params)
        differences = {w: difference_ci([(matrices["hl_gauss" + s], matrices["mse" + s], 1.0)], reps) for w, s in WIDTHS.items()}
        change = difference_ci(
            [(matrices["hl_gauss@x4"], matrices["mse@x4"], 1.0), (matrices["hl_gauss"], matrices["mse"], -1.0)], reps, seed=1
        )
        # The rule's other question: does each loss improve from x1 to x4 at all (the paper: MSE stops improving)?
        gains = {loss: difference_ci([(matrices[loss + "@x4"], matrices[loss], 1.0)], reps, seed=2 + i)
                 for i, loss in enumerate(LOSSES)}
        summary.update(difference=differences, change_x1_to_x4=change, gain_x1_to_x4=gains)
        lines += [f"Games with every cell: {len(games)} ({', '.join(games)}). IQM of normalised scores, 95% stratified-bootstrap CIs.", ""]
        lines += ["| loss | width | runs x games | parameters | IQM |", "|---|---|---|---|---|"]
        for width, suffix in WIDTHS.items():
            for loss, name in LOSSES.items():
                label = loss + suffix
                n_params = params.get(loss, {}).get(width)
                lines.append(f"| {name} | {width} | {matrices[label].shape[0]} x {len(games)} | "
                             f"{'%.0f' % n_params if n_params else '-'} | {_fmt(agg[label]['IQM'], n=matrices[label].shape[0])} |")
        # A cell of one seed has no spread to resample: its bootstrap "CI" would be a point, so none is given.
        single = {w for w, s in WIDTHS.items() if min(matrices[loss + s].shape[0] for loss in LOSSES) < 2}

        def fmt(value: tuple[float, float, float], one_seed: bool) -> str:
            return f"{value[0]:+.2f} (one seed in a cell: no CI)" if one_seed else f"{value[0]:+.2f} [{value[1]:+.2f}, {value[2]:+.2f}]"

        lines += ["", "| width | IQM(HL-Gauss) - IQM(MSE) |", "|---|---|"]
        for width, value in differences.items():
            lines.append(f"| {width} | {fmt(value, width in single)} |")
        lines += ["", f"Change of the difference from x1 to x4: {fmt(change, bool(single))}.", "",
                  "Gain from x1 to x4 (IQM at x4 - IQM at x1): "
                  + ", ".join(f"{LOSSES[loss]} {fmt(gain, bool(single))}" for loss, gain in gains.items()) + "."]
        if single:
            summary.update(difference={w: (v if w not in single else (v[0], None, None)) for w, v in differences.items()},
                           change_x1_to_x4=(change[0], None, None),
                           gain_x1_to_x4={loss: (g[0], None, None) for loss, g in gains.items()})
        # Two seeds give a CI, but the rule waits for every planned seed: say so until then.
        if min(m.shape[0] for m in matrices.values()) < RULE_SEEDS:
            lines += ["", f"The rule (above) is read once every cell has {RULE_SEEDS} seeds."]
        else:
            verdict = rule_verdict(change)
            where = {"holds": "lies above 0", "contradicted": "lies below 0"}.get(verdict, "contains 0")
            mse_moves = gain_phrase(gains["mse"])
            lines += ["", f"**Reading, by the rule (above), with {RULE_SEEDS} or more seeds in every cell: the claim "
                      f"{'is ' if verdict != 'holds' else ''}{verdict}.** The CI of the change {where}. MSE "
                      f"{mse_moves} from x1 to x4 ({fmt(gains['mse'], False)})"
                      + (", so it has not stopped improving at this width." if mse_moves == "improves" else ".")]
            summary["reading"] = {"verdict": verdict, "mse_from_x1_to_x4": mse_moves,
                                  "hl_gauss_from_x1_to_x4": gain_phrase(gains["hl_gauss"])}
        _plot(agg, params, out_dir / "capacity.png", budget, len(games))
    (out_dir / "capacity.md").write_text("\n".join(lines) + "\n")
    (out_dir / "capacity.json").write_text(json.dumps(summary, indent=1))
    return summary


def _plot(agg, params, path: Path, budget: str, n_games: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for loss, name in LOSSES.items():
        xs = [params.get(loss, {}).get(w, i + 1) for i, w in enumerate(WIDTHS)]
        points = [agg[loss + s]["IQM"] for s in WIDTHS.values()]
        y = [p[0] for p in points]
        err = [[p[0] - p[1] for p in points], [p[2] - p[0] for p in points]]
        ax.errorbar(xs, y, yerr=err, marker="o", capsize=3, label=name)
        for x, value, width in zip(xs, y, WIDTHS):
            ax.annotate(width, (x, value), textcoords="offset points", xytext=(6, -10), fontsize=8)
    ax.set_xscale("log")
    # Label the decades only: the minor ticks' labels (2x10^5, 3x10^5, ...) overlap on a narrow plot.
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("Q-network parameters" if params else "width (x1, x4)")
    ax.set_ylabel("IQM normalised score")
    ax.set_title(f"Suite S: capacity, {budget} steps, {n_games} games")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=SUITES["capacity"][0].total_steps)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--reps", type=int, default=2000)
    args = parser.parse_args(argv)
    analyze_capacity(args.results_dir, args.steps, args.reps)
    print((Path(args.results_dir) / "capacity" / _steps_label(args.steps) / "summary" / "capacity.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

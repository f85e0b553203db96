"""The numbers-bearing prose of README.md ("Evidence so far"), of docs/benchmarks.md (headlines, readings,
what remains) and of docs/ppo.md (Suite E's runs).

Each sentence is a template filled from the committed analysis outputs (``summary.json`` of
``benchmarks.analyze``, ``plasticity/results.json``, the SAC and throughput JSON files); the
interpretive words are decided by the rules below, never by hand. ``python -m benchmarks.update_docs``
writes the result between ``<!-- generated:evidence -->`` markers in README.md and
``<!-- generated:headline_500k -->`` / ``<!-- generated:headline_100k -->`` markers in
docs/benchmarks.md; ``python -m benchmarks.evidence`` prints it. Nothing here runs a bootstrap: the
intervals are the ones the analyses stored.

Rules (stated once, used everywhere):

- **ahead / behind**: each estimate lies outside the other's 95% CI; **slightly ahead / behind**:
  only one of them does; **level**: neither does (:func:`compare`).
- A probability of improvement "separates" two agents when its 95% CI excludes 0.5.
- A MinAtar game is **near random** at a budget when no run of the analysis got more than one reward
  above the random policy (its normalisation was clamped to the minimum scale).
- A run is **near 0** on a game when its normalised score is below 0.05.

A block whose main summary is missing raises :class:`MissingResults`; a bullet whose own source is
missing is left out of its block.
"""

from __future__ import annotations

import itertools
import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.run import RESULTS_DIR

COMMAND = "python -m benchmarks.update_docs"

#: source name -> path under the results folder.
SOURCES = {
    "minatar_500k": "minatar/500k/summary/summary.json",
    "minatar_100k": "minatar+minatar_lr+minatar_asym+minatar_ablation/100k/summary/summary.json",
    "noise": "noise/100k/summary/summary.json",
    "noise_500k": "noise/500k/summary/summary.json",
    "continuous": "continuous/30k/summary/summary.json",
    "continuous_300k": "continuous/300k/summary/summary.json",
    "minatar_defaults": "minatar_defaults/500k/summary/summary.json",
    "plasticity": "plasticity/results.json",
    "sac_pendulum": "sac/summary.json",
    "dqn_throughput": "throughput/dqn_throughput.json",
    "sac_throughput": "sac/throughput_HalfCheetah-v5.json",
    # benchmarks.ppo_throughput, two runs on the 2-core Xeon with a core to itself (docs/ppo.md)
    "ppo_throughput": "throughput/ppo_throughput_xeon.json",
    "ppo_throughput_2": "throughput/ppo_throughput_xeon_2.json",
    # Suite E (docs/benchmarks.md): MuJoCo at 1M, MinAtar at 2M, Hopper-v5 with reward noise
    "ppo": "ppo/1M/summary/summary.json",
    "ppo_minatar": "ppo/2M/summary/summary.json",
    "noise_ppo": "noise_ppo/1M/summary/summary.json",
    # Suite S (benchmarks/capacity.py): Suite A's x1 runs with the x4 runs
    "capacity": "capacity/500k/summary/capacity.json",
}

NAMES = {"mse": "MSE", "huber": "Huber", "hl_gauss": "HL-Gauss", "two_hot": "Two-Hot", "c51": "C51",
         "categorical_mse": "Categorical + MSE", "hl_gauss@asym": "HL-Gauss on [-5, 105]",
         "sac": "SAC", "sac_hl_gauss": "HLGaussSAC", "ppo": "PPO", "ppo_hl_gauss": "HLGaussPPO"}
ORDER = ["mse", "huber", "hl_gauss", "two_hot", "c51", "categorical_mse", "hl_gauss@asym"]
WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
FRACTIONS = {2: "half", 3: "a third", 4: "a quarter", 5: "a fifth", 10: "a tenth"}
#: Normalised score under which a run counts as "near 0".
NEAR_ZERO = 0.05


class MissingResults(FileNotFoundError):
    """A result file a block needs is not there."""


# --------------------------------------------------------------------------- loading
class Sources:
    """The result files, read lazily; ``needs`` raises :class:`MissingResults` for a missing one."""

    def __init__(self, results_dir: Path = RESULTS_DIR):
        self.root = Path(results_dir)
        self._cache: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._cache:
            path = self.root / SOURCES[name]
            if not path.exists():
                raise MissingResults(f"{name}: no {path}")
            self._cache[name] = json.loads(path.read_text())
        return self._cache[name]

    def has(self, name: str) -> bool:
        try:
            self[name]
        except MissingResults:
            return False
        return True

    def raw(self, relpath: str) -> dict[str, Any] | None:
        path = self.root / relpath
        return json.loads(path.read_text()) if path.exists() else None


# --------------------------------------------------------------------------- rules and formats
def compare(a, b) -> str:
    """``a`` against ``b`` (each ``(point, lo, hi)``): ahead, slightly ahead, level, slightly behind, behind."""
    a_out = not (b[1] <= a[0] <= b[2])
    b_out = not (a[1] <= b[0] <= a[2])
    if not (a_out or b_out) or a[0] == b[0]:
        return "level"
    side = "ahead" if a[0] > b[0] else "behind"
    return side if a_out and b_out else f"slightly {side}"


def separates(poi) -> bool:
    return not (poi[1] <= 0.5 <= poi[2])


def overlap(a, b) -> bool:
    return a[1] <= b[2] and b[1] <= a[2]


def ci(x, digits: int = 2) -> str:
    return f"{x[0]:.{digits}f} [{x[1]:.{digits}f}, {x[2]:.{digits}f}]"


def num(x: float, digits: int) -> str:
    return f"{x:.{digits}f}"


def join(items: list[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def plural(n: int, noun: str) -> str:
    """"1 seed", "3 seeds"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def words(n: int) -> str:
    return WORDS.get(n, str(n))


def bullet(text: str) -> str:
    return textwrap.fill(" ".join(text.split()), width=100, initial_indent="- ", subsequent_indent="  ",
                         break_long_words=False, break_on_hyphens=False)


def wrap(text: str) -> str:
    return textwrap.fill(" ".join(text.split()), width=100, break_long_words=False, break_on_hyphens=False)


class Summary:
    """Accessors on one ``benchmarks.analyze`` summary."""

    def __init__(self, data: dict[str, Any]):
        self.data = data
        self.per_game = data["per_game"]
        self.agg = data.get("aggregate", {})
        self.poi = data.get("probability_of_improvement", {})
        self.norm = data.get("normalisation", {})
        self.games = sorted(self.norm) if self.norm else sorted(self.per_game)

    def mean(self, game: str, label: str) -> float:
        return self.per_game[game][label]["mean"]

    def game_ci(self, game: str, label: str) -> tuple[float, float, float]:
        cell = self.per_game[game][label]
        return (cell["mean"], *cell["ci"])

    def seeds(self, game: str, label: str) -> dict[int, float]:
        return {int(s): v for s, v in self.per_game[game][label]["seeds"].items()}

    def runs(self, label: str) -> int:
        """Seeds present in every game (the rows of the aggregate's score matrix)."""
        return len(set.intersection(*(set(self.seeds(g, label)) for g in self.games)))

    def iqm(self, label: str):
        return self.agg[label]["IQM"]

    def digits(self, game: str) -> int:
        """Decimals for a game's returns: 2 below 10, 1 below 100, else 0."""
        top = max(abs(c["mean"]) for c in self.per_game[game].values())
        return 2 if top < 10 else 1 if top < 100 else 0

    def ret(self, game: str, label: str) -> str:
        return num(self.mean(game, label), self.digits(game))

    def normalised(self, game: str, value: float) -> float:
        lo, hi = self.norm[game]
        return (value - lo) / (hi - lo)

    def near_random(self, game: str) -> bool:
        lo, hi = self.norm[game]
        return abs(hi - (lo + 1.0)) < 1e-9

    def seeds_phrase(self, labels: list[str]) -> str:
        """"4 seeds x 5 games for MSE and HL-Gauss, 3 for Huber, 1 for Two-Hot and C51"."""
        groups: dict[int, list[str]] = {}
        for label in labels:
            groups.setdefault(self.runs(label), []).append(NAMES[label])
        parts = []
        for i, (n, names) in enumerate(sorted(groups.items(), reverse=True)):
            head = f"{n} seeds x {len(self.games)} games" if i == 0 else str(n)
            parts.append(f"{head} for {join(names)}")
        return ", ".join(parts)


def _labels(s: Summary, candidates=ORDER) -> list[str]:
    return [lb for lb in candidates if lb in s.agg]


def _by_verdict(s: Summary, x: str, y: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for g in s.games:
        out.setdefault(compare(s.game_ci(g, x), s.game_ci(g, y)), []).append(g)
    return out


def _three_seed_history(s: Summary) -> dict[str, Any] | None:
    """IQMs (point estimates) and P(HL-Gauss > MSE) with seeds 0-2 only, renormalised on them."""
    if max(s.runs(lb) for lb in ("mse", "hl_gauss")) <= 3:
        return None
    from benchmarks._rliable import metrics
    from benchmarks.analyze import normalisers, score_matrices
    from benchmarks.suites import MINATAR_RANDOM_SCORES

    table = {g: {lb: {k: v for k, v in s.seeds(g, lb).items() if k < 3} for lb in s.per_game[g]} for g in s.per_game}
    norm = normalisers(table, MINATAR_RANDOM_SCORES)
    m = score_matrices(table, ["mse", "huber", "hl_gauss"], s.games, norm)
    return {"iqm": {lb: float(metrics.aggregate_iqm(v)) for lb, v in m.items()},
            "poi": float(metrics.probability_of_improvement(m["hl_gauss"], m["mse"]))}


# --------------------------------------------------------------------------- shared findings
def _aggregate_reading(s: Summary) -> dict[str, Any]:
    hl, mse, hub = s.iqm("hl_gauss"), s.iqm("mse"), s.iqm("huber")
    poi = s.poi["hl_gauss>mse"]
    verdict = compare(hl, mse)
    if separates(poi):
        phrase = "ahead of" if poi[0] > 0.5 else "behind"
    elif hl[0] > mse[0]:
        phrase = "at best slightly ahead of"
    elif hl[0] < mse[0]:
        phrase = "at best level with"
    else:
        phrase = "level with"
    vs_huber = {lb: compare(s.iqm(lb), hub) for lb in ("hl_gauss", "mse")}
    return {"verdict": verdict, "phrase": phrase, "poi": poi, "gap_shows": separates(poi) and poi[0] > 0.5,
            "vs_huber": vs_huber}


def _huber_phrase(vs_huber: dict[str, str]) -> str:
    v = set(vs_huber.values())
    if v == {"ahead"}:
        return "both are clearly ahead of"
    if v <= {"ahead", "slightly ahead"}:
        return "both are ahead of"
    return f"HL-Gauss is {vs_huber['hl_gauss']} and MSE {vs_huber['mse']} compared with"


def _game_list(s: Summary, games: list[str], labels: list[str], first: bool) -> list[str]:
    """"Breakout (11.9 vs MSE 6.5, Huber 7.2)", the others named only in the first entry."""
    out = []
    for i, g in enumerate(games):
        head, *rest = labels
        others = [(f"{NAMES[lb]} " if first and i == 0 else "") + s.ret(g, lb) for lb in rest]
        out.append(f"{g} ({s.ret(g, head)} vs {', '.join(others)})")
    return out


def _seeds_note(s: Summary, label: str) -> str:
    """"3 seeds", or "1 seed, so no interval" (a one-run cell has no CI)."""
    n = s.runs(label)
    return plural(n, "seed") + (", so no interval" if n == 1 else "")


def _ci_if_seeds(s: Summary, label: str, value) -> str:
    """An estimate with its CI, or the point alone where the variant has one run (its "CI" is the point)."""
    return ci(value) if s.runs(label) > 1 else num(value[0], 2)


# --------------------------------------------------------------------------- docs: headline at 500k
def headline_500k(src: Sources) -> str:
    s = Summary(src["minatar_500k"])
    labels = _labels(s)
    r = _aggregate_reading(s)
    budget = s.data["budget"]
    lines = [wrap(f"**Headline at {budget} steps (Suite A's own budget; {s.seeds_phrase(labels)}).**")]

    text = (f"IQM normalised score **HL-Gauss {ci(s.iqm('hl_gauss'))}, MSE {ci(s.iqm('mse'))}, Huber (SB3 DQN) "
            f"{ci(s.iqm('huber'))}** (95% stratified-bootstrap CIs). P(HL-Gauss > MSE) {ci(s.poi['hl_gauss>mse'])}, "
            f"P(HL-Gauss > Huber) {ci(s.poi['hl_gauss>huber'])}.")
    hist = _three_seed_history(s)
    if hist:
        moved = max(abs(hist["iqm"][lb] - s.iqm(lb)[0]) for lb in hist["iqm"])
        text += (f" With 3 seeds of each the IQMs were {' / '.join(num(hist['iqm'][lb], 2) for lb in ('hl_gauss', 'mse', 'huber'))}"
                 f" and P(HL-Gauss > MSE) {num(hist['poi'], 2)}: the fourth seed "
                 + ("moved little." if moved <= 0.05 else f"moved the IQMs by up to {moved:.2f}."))
    lines.append(bullet(text))

    v = _by_verdict(s, "hl_gauss", "mse")
    parts, first = [], True
    for verdict, template in [("ahead", "ahead on {}"), ("slightly ahead", "slightly ahead of MSE on {}"),
                              ("level", "level with MSE on {}"), ("slightly behind", "slightly behind MSE on {}"),
                              ("behind", "behind MSE on {}")]:
        if v.get(verdict):
            parts.append(template.format(join(_game_list(s, v[verdict], ["hl_gauss", "mse", "huber"], first))))
            first = False
    lines.append(bullet("Per game (mean final return), HL-Gauss was " + ", ".join(parts[:-1])
                        + (", and " if len(parts) > 1 else "") + parts[-1] + "."))

    singles = [lb for lb in ("two_hot", "c51") if lb in s.agg]
    if singles:
        head = join([f"{NAMES[lb]} ({_seeds_note(s, lb)})" for lb in singles])
        below = all(compare(s.iqm(lb), s.iqm(ref)) == "behind" for lb in singles for ref in ("mse", "hl_gauss"))
        text = (f"{head}: IQM {join([_ci_if_seeds(s, lb, s.iqm(lb)) for lb in singles])}"
                + (", below both MSE and HL-Gauss" if below else "") + "; "
                + ", ".join(f"P({NAMES[lb]} > MSE) {_ci_if_seeds(s, lb, s.poi[f'{lb}>mse'])}" for lb in singles) + ".")
        if "two_hot" in singles:
            wins = [g for g in s.games if s.mean(g, "two_hot") > s.mean(g, "mse")]
            where = ("on no game" if not wins else f"only on {wins[0]} ({s.ret(wins[0], 'two_hot')})" if len(wins) == 1
                     else "on " + join([f"{g} ({s.ret(g, 'two_hot')})" for g in wins]))
            text += f" Two-Hot was ahead of MSE {where}."
        if "c51" in singles:
            text += _c51_500k(src, s)
        lines.append(bullet(text))

    cat = [lb for lb in ("hl_gauss", "two_hot", "c51") if lb in s.agg]
    text = (f"Reading: **HL-Gauss is {r['phrase']} MSE in aggregate** (IQM {num(s.iqm('hl_gauss')[0], 2)} vs "
            f"{num(s.iqm('mse')[0], 2)}, CIs {'overlapping' if overlap(s.iqm('hl_gauss'), s.iqm('mse')) else 'disjoint'}, "
            f"P(HL-Gauss > MSE) {num(r['poi'][0], 2)} with a CI that {'excludes' if separates(r['poi']) else 'includes'} 0.5), "
            f"and {_huber_phrase(r['vs_huber'])} SB3's Huber DQN. ")
    wins, losses = v.get("ahead", []), v.get("behind", [])
    level = v.get("level", []) + v.get("slightly ahead", []) + v.get("slightly behind", [])
    if r["gap_shows"]:
        text += "The paper's HL-Gauss > MSE gap shows at this scale."
    else:
        text += (f"The paper's clear HL-Gauss > MSE gap does not show at this scale: HL-Gauss wins "
                 f"{words(len(wins))} game{'s' if len(wins) != 1 else ''}"
                 + (f", loses {join(losses)}" if losses else "")
                 + f", and is level on {words(len(level))}.")
    if "two_hot" in s.agg:
        shows = compare(s.iqm("two_hot"), s.iqm("mse")) == "behind"
        text += (f" The paper's other expectation, Two-Hot below MSE, {'does' if shows else 'does not'} show"
                 f" ({plural(s.runs('two_hot'), 'seed')}).")
    if max(cat, key=lambda lb: s.iqm(lb)[0]) == "hl_gauss" and len(cat) > 1:
        text += f" HL-Gauss is the best of the {words(len(cat))} categorical losses here, as in the paper."
    lines.append(bullet(text))
    capacity = _capacity(src)
    if capacity is not None:
        lines.append(bullet(capacity))
    return "\n".join(lines)


#: benchmarks.capacity's word for how a loss's IQM moves from x1 to x4 -> the verb for "widening ... <loss>".
WIDENING = {"improves": "improved", "gets worse": "worsened", "does not change measurably": "did not measurably change"}


def signed_ci(x) -> str:
    return f"{x[0]:+.2f} [{x[1]:+.2f}, {x[2]:+.2f}]"


def _capacity(src: Sources) -> str | None:
    """Suite S's reading in one paragraph; None until its rule has been applied (every cell at its planned seeds)."""
    if not src.has("capacity"):
        return None
    c = src["capacity"]
    if c.get("reading") is None:
        return None
    iqm, diff, gain, reading = c["iqm"], c["difference"], c["gain_x1_to_x4"], c["reading"]
    seeds = min(c["runs"].values()) // len(c["games"])
    verdict = reading["verdict"]
    return (f"**Capacity (Suite S, MinAtar at {c['budget']} steps, {words(seeds)} or more seeds x "
            f"{words(len(c['games']))} games, the MinAtar network (x1) and one 4x wider (x4)):** IQM(HL-Gauss) - "
            f"IQM(MSE) was {signed_ci(diff['x1'])} at x1 and {signed_ci(diff['x4'])} at x4, a change of "
            f"{signed_ci(c['change_x1_to_x4'])}: the paper's claim that HL-Gauss's gain over MSE grows with capacity "
            f"{'' if verdict == 'holds' else 'is '}**{verdict}**, by the rule fixed before the runs. Widening "
            f"{WIDENING[reading['mse_from_x1_to_x4']]} MSE ({num(iqm['mse'][0], 2)} to {num(iqm['mse@x4'][0], 2)}, "
            f"{signed_ci(gain['mse'])}) and {WIDENING[reading['hl_gauss_from_x1_to_x4']]} HL-Gauss "
            f"({num(iqm['hl_gauss'][0], 2)} to {num(iqm['hl_gauss@x4'][0], 2)}, {signed_ci(gain['hl_gauss'])}).")


def _c51_500k(src: Sources, s: Summary) -> str:
    """C51's unsteady games (second-half evaluations below half their best) and its zero scores."""
    out = ""
    budget = s.data["budget"]
    for g in s.games:
        runs = [src.raw(f"minatar/{budget}/{g}/c51/seed{k}.json") for k in sorted(s.seeds(g, "c51"))]
        if not runs or None in runs:
            continue
        # Unsteady: in every seed, the second-half evaluations fall below half their best.
        halves = [[e["mean"] for e in run["evals"] if e["step"] >= run["spec"]["total_steps"] / 2] for run in runs]
        unsteady = all(h and max(h) > 0 and min(h) < 0.5 * max(h) for h in halves)
        others = [s.mean(g, lb) for lb in s.per_game[g] if lb != "c51"]
        if unsteady and s.mean(g, "c51") < min(others):
            d = s.digits(g)
            lo, hi = min(min(h) for h in halves), max(max(h) for h in halves)
            where = "its evaluations" if len(runs) == 1 else f"in each of its {words(len(runs))} seeds, evaluations"
            out += (f" C51 never learned {g} steadily ({where} swing between {lo:.0f} and {hi:.0f}; "
                    f"final {num(s.mean(g, 'c51'), d)} against {min(others):.0f}-{max(others):.0f}"
                    " for the other losses)")
    zeros = [g for g in s.games if s.mean(g, "c51") < 0.005]
    if zeros:
        s100 = Summary(src["minatar_100k"]) if src.has("minatar_100k") else None
        as_before = s100 is not None and all(g in s100.per_game and "c51" in s100.per_game[g]
                                             and s100.mean(g, "c51") < 0.05 for g in zeros)
        out += (" and" if out else " C51") + f" scored 0 on {join(zeros)}" + (f", as at {s100.data['budget']}" if as_before else "")
    return out + "." if out else ""


# --------------------------------------------------------------------------- docs: headline at 100k
def headline_100k(src: Sources) -> str:
    s = Summary(src["minatar_100k"])
    labels = _labels(s)
    main = ["mse", "huber", "hl_gauss"]
    budget = s.data["budget"]
    lines = []
    from benchmarks.analyze import _parse_budget
    from benchmarks.suites import SUITES

    ratio = SUITES["minatar"][0].total_steps / _parse_budget(budget)
    frac = FRACTIONS.get(round(ratio), f"1/{ratio:g}") if ratio > 1 else "all"
    head = f"**Headline at {budget} steps ({frac} of Suite A's budget; {s.seeds_phrase(labels)})."
    if overlap(s.iqm("hl_gauss"), s.iqm("mse")):
        head += " The confidence intervals overlap: this is a first look, not a reproduction."
    lines.append(wrap(head + "**"))

    # Suite A, paper settings
    poi = s.poi
    text = ("**Suite A, paper settings** (classification lr = 4x MSE's, symmetric support [-105, 105]): "
            f"IQM normalised score **HL-Gauss {ci(s.iqm('hl_gauss'))}, MSE {ci(s.iqm('mse'))}, Huber (SB3 DQN) "
            f"{ci(s.iqm('huber'))}** (95% stratified-bootstrap CIs). Probability of improvement "
            f"HL-Gauss > MSE {ci(poi['hl_gauss>mse'])}, HL-Gauss > Huber {ci(poi['hl_gauss>huber'])}.")
    led = [g for g in s.games if not s.near_random(g) and max(main, key=lambda lb: s.mean(g, lb)) == "hl_gauss"]
    if led:
        text += (f" HL-Gauss had the highest mean final return of the three on "
                 f"{join(_game_list(s, led, ['hl_gauss', 'mse', 'huber'], True))}.")
    near = [g for g in s.games if s.near_random(g)]
    if near:
        text += f" On {join(near)} every agent is still near random at {budget} steps."
    for g in s.games:
        if g not in led and g not in near:
            text += (f" On {g} HL-Gauss scored {s.ret(g, 'hl_gauss')} (MSE {s.ret(g, 'mse')}, Huber {s.ret(g, 'huber')}, "
                     f"random {num(s.norm[g][0], s.digits(g))}).")
    hl, mse, hub = (s.iqm(lb)[0] for lb in ("hl_gauss", "mse", "huber"))
    if hl > mse > hub:
        text += " The direction agrees with the paper: HL-Gauss > MSE in aggregate, and both above SB3's Huber DQN."
    elif hl > mse:
        text += " HL-Gauss > MSE in aggregate, as in the paper."
    else:
        text += " The direction does not agree with the paper: MSE >= HL-Gauss in aggregate."
    text += (" The evidence at this budget does not separate HL-Gauss from MSE." if not separates(poi["hl_gauss>mse"])
             else " The probability of improvement separates HL-Gauss from MSE at this budget.")
    lines.append(bullet(text))

    # Two-Hot and C51
    others = [lb for lb in ("two_hot", "c51") if lb in s.agg]
    if others:
        n = min(s.runs(lb) for lb in others)
        text = (f"**{join([NAMES[lb] for lb in others])}** ({n} seeds each): IQM "
                + ", ".join(f"{NAMES[lb]} {ci(s.iqm(lb))}" for lb in others) + ". "
                + ", ".join(f"P({NAMES[lb]} > MSE) {ci(poi[f'{lb}>mse'])}" for lb in others) + ".")
        if "two_hot" in others:
            matched, close = [], []
            for g in led:
                verdict = compare(s.game_ci(g, "two_hot"), s.game_ci(g, "hl_gauss"))
                if verdict in ("level", "ahead", "slightly ahead"):
                    (matched if s.mean(g, "two_hot") >= s.mean(g, "hl_gauss") else close).append(g)
            bits = []
            if matched:
                bits.append("matched HL-Gauss on " + join([f"{g} ({s.ret(g, 'two_hot')})" for g in matched]))
            if close:
                bits.append(("came close" if matched else "came close to HL-Gauss") + " on "
                            + join([f"{g} ({s.ret(g, 'two_hot')})" for g in close]))
            if bits:
                text += " Two-Hot " + " and ".join(bits) + "."
        if "c51" in others:
            zero = [g for g in s.games if not s.near_random(g)
                    and s.normalised(g, s.mean(g, "hl_gauss")) > 0.5
                    and all(s.normalised(g, v) < NEAR_ZERO for v in s.seeds(g, "c51").values())]
            cat = [lb for lb in ("hl_gauss", "two_hot", "c51", "categorical_mse") if lb in s.agg]
            weakest = min(cat, key=lambda lb: s.iqm(lb)[0]) == "c51"
            bits = []
            if zero:
                k = len(s.seeds(zero[0], "c51"))
                bits.append(f"scored near 0 on {join(zero)} in all {words(k)} seeds")
            if weakest:
                bits.append("was the weakest categorical loss")
            if bits:
                text += " C51 " + " and ".join(bits) + "."
        if "two_hot" in others:
            v = compare(s.iqm("two_hot"), s.iqm("mse"))
            text += (" The paper expects Two-Hot may fall below MSE; here it is "
                     + {"level": "level with MSE.", "behind": "below MSE, as expected."}.get(v, f"{v} of MSE."))
        lines.append(bullet(text))

    lr = _lr_check(s)
    if lr:
        lines.append(bullet(lr))
    if "categorical_mse" in s.agg:
        lines.append(bullet(_ablation(src, s)))
    if "hl_gauss@asym" in s.agg:
        lines.append(bullet(_asym(s)))
    for name, fn in (("noise", _suite_b), ("plasticity", _suite_c), ("continuous", _suite_d)):
        if src.has(name):
            lines.append(bullet(fn(src)))
    return "\n".join(lines)


def _lr_check(s: Summary) -> str | None:
    game = "Breakout"
    need = ["mse@clslr", "huber@clslr", "hl_gauss@reglr", "mse", "huber", "hl_gauss"]
    if game not in s.per_game or not all(lb in s.per_game[game] for lb in need):
        return None
    common = sorted(set.intersection(*(set(s.seeds(game, lb)) for lb in need)))
    d = s.digits(game)

    def mean(label):
        vals = [s.seeds(game, label)[k] for k in common]
        return sum(vals) / len(vals)

    cls = {"hl_gauss": mean("hl_gauss"), "mse": mean("mse@clslr"), "huber": mean("huber@clslr")}
    reg = {"hl_gauss": mean("hl_gauss@reglr"), "mse": mean("mse"), "huber": mean("huber")}
    diffs = [t["hl_gauss"] - t[lb] for t in (cls, reg) for lb in ("mse", "huber")]
    gains = [cls[lb] - reg[lb] for lb in cls]
    gain = sum(gains) / len(gains)
    # "within the CIs": HL-Gauss's mean inside the other losses' CIs at the classification lr, and the
    # other losses' means inside HL-Gauss's CI at the regression lr (the lr-check runs' stored CIs).
    within = (all(s.game_ci(game, f"{lb}@clslr")[1] <= cls["hl_gauss"] <= s.game_ci(game, f"{lb}@clslr")[2] for lb in ("mse", "huber"))
              and all(s.game_ci(game, "hl_gauss@reglr")[1] <= reg[lb] <= s.game_ci(game, "hl_gauss@reglr")[2] for lb in ("mse", "huber")))
    order = ("hl_gauss", "mse", "huber")
    more = gain > max(abs(x) for x in diffs)
    text = (f"**The learning rate matters {'more' if more else 'less'} than the loss on {game}** (the learning-rate check, "
            f"{len(common)} seeds): at the classification lr (2.5e-4, eps 3.125e-4) HL-Gauss / MSE / Huber reached "
            f"{' / '.join(num(cls[lb], d) for lb in order)}; at the regression lr (6.25e-5, eps 1.5e-4) "
            f"{' / '.join(num(reg[lb], d) for lb in order)}. ")
    if min(diffs) > 0:
        text += f"At either learning rate HL-Gauss is ahead by {min(diffs):.1f}-{max(diffs):.1f} points"
    else:
        text += f"Across the learning rates HL-Gauss's lead ranges from {min(diffs):.1f} to {max(diffs):.1f} points"
    text += (", within the CIs; " if within else ", not within the CIs; ")
    text += f"the larger learning rate adds about {gain:.0f} points to every loss." if min(gains) > 0 else \
        f"the larger learning rate changes the return by {min(gains):.1f} to {max(gains):.1f} points."
    if more:
        text += (" Suite A's headline comparison therefore measures the paper's recipe (loss + its learning rate), "
                 "not the loss alone.")
    return text


def _ablation(src: Sources, s: Summary) -> str:
    best = max(s.agg, key=lambda lb: s.iqm(lb)[0]) == "categorical_mse"
    n = s.runs("categorical_mse")
    p_hl, p_mse = s.poi["hl_gauss>categorical_mse"], s.poi["categorical_mse>mse"]
    text = (f"**Ablation, the categorical head trained with MSE on its expected value** (same head, same "
            f"classification lr, {n} seeds): IQM **{ci(s.iqm('categorical_mse'))}**"
            + (f", the best of every variant at {s.data['budget']}" if best else "")
            + f"; P(HL-Gauss > Categorical + MSE) {ci(p_hl)}, P(Categorical + MSE > MSE) {ci(p_mse)}.")
    considered = [lb for lb in ORDER[:6] if lb in s.agg]
    leads = [g for g in s.games if not s.near_random(g)
             and max(considered, key=lambda lb: s.mean(g, lb)) == "categorical_mse"]
    if leads:
        text += " It leads on " + join(_game_list(s, leads, ["categorical_mse", "hl_gauss"], True)) + "."
    if separates(p_hl) and p_hl[0] < 0.5:
        text += (" **This goes against the paper's ablation**, where the cross-entropy loss, not the categorical "
                 "parameterisation, carried the gain. Here, early in training on MinAtar, the bounded "
                 "softmax-expectation head with the larger learning rate learns fastest.")
    elif separates(p_hl):
        text += " This agrees with the paper's ablation: the cross-entropy loss, not the categorical parameterisation, carries the gain."
    else:
        text += " The probability of improvement does not separate it from HL-Gauss: the paper's ablation is neither confirmed nor contradicted."
    if src.has("plasticity"):
        finals = _plasticity(src)
        last = max(next(iter(finals.values())))
        if max(finals, key=lambda v: finals[v][last]) == "categorical_mse":
            text += (" Suite C (regression under moving targets) still shows the paper's ordering: the same head "
                     "trained with MSE loses the most plasticity.")
    if src.has("minatar_500k") and "categorical_mse" in src["minatar_500k"].get("aggregate", {}):
        s5 = Summary(src["minatar_500k"])
        text += (f" At {s5.data['budget']} it is {compare(s5.iqm('categorical_mse'), s5.iqm('hl_gauss'))}"
                 f" of HL-Gauss (IQM {ci(s5.iqm('categorical_mse'))}).").replace("level of", "level with")
    else:
        text += " Whether the MinAtar lead holds at 500k is not measured yet."
    return text


def _asym(s: Summary) -> str:
    iqm = s.iqm("hl_gauss@asym")
    ranked = sorted(s.agg, key=lambda lb: -s.iqm(lb)[0])
    text = ("**The support's midpoint matters**: a freshly initialised categorical head predicts the midpoint. "
            "HL-Gauss on [-5, 105] (initial Q-values ~50, true values a few units) was "
            + ("the worst agent" if ranked[-1] == "hl_gauss@asym" else "not the worst agent")
            + f" (IQM {num(iqm[0], 2)}, {s.runs('hl_gauss@asym')} seed x {len(s.games)} games"
            + (": below random)." if iqm[0] < 0 else ").") + " The same agent on [-105, 105] was ")
    rank = ranked.index("hl_gauss") + 1
    return text + ("the best." if rank == 1 else "among the best." if rank <= 3 else f"ranked {rank} of {len(ranked)}.")


# --------------------------------------------------------------------------- Suites B, C, D
def _noise(src: Sources) -> dict[str, Any]:
    data = src["noise"]["noise"]
    games = sorted({k.split("|")[0] for k in data})
    out = {}
    for g in games:
        hl, mse = data[f"{g}|hl_gauss"], data[f"{g}|mse"]
        eta = max(hl, key=float)
        degrades = {lb: v[eta][2] < 1.0 for lb, v in (("hl_gauss", hl), ("mse", mse))}
        out[g] = {"eta": float(eta), "hl": hl[eta], "mse": mse[eta], "degrades": degrades,
                  "verdict": compare(hl[eta], mse[eta]), "seeds": hl[eta][3]}
    return out


def _suite_b(src: Sources) -> str:
    res = _noise(src)
    seeds = min(r["seeds"] for r in res.values())
    graceful = any(r["verdict"] == "ahead" for r in res.values())
    text = (f"**Suite B (reward noise, {seeds} seeds)**: "
            + ("the paper's effect shows at this budget." if graceful else "not the paper's effect at this budget."))
    budget = src["noise"]["budget"]
    # Games where both losses degrade first, then the others.
    for g, r in sorted(res.items(), key=lambda kv: (not all(kv[1]["degrades"].values()), kv[0])):
        eta = f"{r['eta']:g}"
        if all(r["degrades"].values()):
            rate = {"level": "at about the same rate", "ahead": "but HL-Gauss less", "behind": "but HL-Gauss more",
                    "slightly ahead": "HL-Gauss slightly less", "slightly behind": "HL-Gauss slightly more"}[r["verdict"]]
            text += (f" On {g} both losses lose return with the noise {rate} (eta = {eta}: {r['hl'][0]:.2f}x vs "
                     f"{r['mse'][0]:.2f}x of the noiseless return).")
        elif not any(r["degrades"].values()):
            text += f" On {g} neither degrades within {budget} steps."
        else:
            who = "HL-Gauss" if r["degrades"]["hl_gauss"] else "MSE"
            text += (f" On {g} only {who} degrades (eta = {eta}: HL-Gauss {r['hl'][0]:.2f}x, MSE {r['mse'][0]:.2f}x "
                     "of the noiseless return).")
    return text


#: Seeds per loss at eta 0 and at the top eta before Suite B at 500k is read on a game (docs/benchmarks.md).
NOISE_500K_SEEDS = 3


def _noise_500k(src: Sources) -> dict[str, dict[str, Any]]:
    """Suite B at 500k, per game: the ratios at the top eta and, once each side has enough seeds, the rule's
    verdict: "shown" (HL-Gauss's CI above MSE's), "reversed" (below) or "not shown" (the CIs overlap)."""
    summary = src["noise_500k"]
    data, per_game = summary.get("noise", {}), summary["per_game"]
    out: dict[str, dict[str, Any]] = {}
    for game in sorted({k.split("|")[0] for k in data}):
        hl, mse = data.get(f"{game}|hl_gauss", {}), data.get(f"{game}|mse", {})
        etas = sorted(set(hl) & set(mse), key=float)
        if len(etas) < 2:
            continue
        eta = etas[-1]
        noisy = per_game.get(f"{game}|{float(eta):g}", {})
        seeds = min(hl[eta][3], mse[eta][3])
        verdict = None
        if seeds >= NOISE_500K_SEEDS:
            verdict = ("not shown" if overlap(hl[eta], mse[eta]) else
                       "shown" if hl[eta][1] > mse[eta][2] else "reversed")
        out[game] = {"eta": float(eta), "hl": hl[eta], "mse": mse[eta], "seeds": seeds, "verdict": verdict,
                     "returns": {lb: noisy[lb]["mean"] for lb in ("hl_gauss", "mse") if lb in noisy}}
    return out


def _with_ci(x, runs: int, digits: int = 2) -> str:
    """An estimate ``(point, lo, hi, ...)`` with its CI, or the point alone for one run (no zero-width CI)."""
    return ci(x, digits) if runs > 1 else f"{x[0]:.{digits}f} (1 run)"


def _ratio(x) -> str:
    """A ratio ``(point, lo, hi, n)`` with its CI, or the point alone for one run."""
    return _with_ci(x, x[3])


def noise_500k(src: Sources) -> str:
    """The reading of Suite B at 500k (docs/benchmarks.md), by the rule written before its eta = 1 runs."""
    res = _noise_500k(src)
    if not res:
        raise MissingResults("Suite B at 500k has no game with both losses at two noise levels")
    lines = []
    for game, r in res.items():
        eta = f"{r['eta']:g}"
        rets = r["returns"]
        text = (f"**{game}** ({plural(r['seeds'], 'seed')} at eta = 0 and {eta}): at eta = {eta} HL-Gauss kept "
                f"{_ratio(r['hl'])} of its noiseless final return, MSE {_ratio(r['mse'])} "
                f"(final return {rets['hl_gauss']:.2f} vs {rets['mse']:.2f}). ")
        if r["verdict"] is None:
            text += f"No reading yet: the rule waits for {words(NOISE_500K_SEEDS)} seeds of both losses."
        else:
            text += {"shown": "The paper's effect is **shown**: HL-Gauss's CI lies above MSE's.",
                     "reversed": "The paper's effect is **reversed**: MSE's CI lies above HL-Gauss's.",
                     "not shown": "The paper's effect is **not shown**: the two CIs overlap."}[r["verdict"]]
        lines.append(bullet(text))
    return "\n".join(lines)


def _plasticity(src: Sources) -> dict[str, dict[float, float]]:
    """variant -> offset -> final-phase training error, mean over seeds."""
    acc: dict[str, dict[float, list[float]]] = {}
    for run in src["plasticity"]["results"]:
        for phase in run["phases"]:
            acc.setdefault(run["variant"], {}).setdefault(float(phase["offset"]), []).append(phase["final_mse"])
    return {v: {b: sum(x) / len(x) for b, x in sorted(by.items())} for v, by in acc.items()}


def _suite_c(src: Sources) -> str:
    f = _plasticity(src)
    seeds = len(src["plasticity"]["config"]["seeds"])
    offsets = sorted(f["mse"])
    later = offsets[1:]
    mse_later = [f["mse"][b] for b in later]
    factor = (sum(mse_later) / len(mse_later)) / f["mse"][offsets[0]]
    text = (f"**Suite C ({seeds} seeds)**: after the targets move, the MSE-trained scalar head ends every later phase "
            f"at a training error of ~{min(mse_later):.2f}-{max(mse_later):.2f}, about {float(f'{factor:.1g}'):g}x its "
            "first-phase error.")
    hl = [f["hl_gauss"][b] for b in later]
    improves = all(x > y for x, y in itertools.pairwise(hl))
    lowest = []
    for b in reversed(offsets):
        if min(f, key=lambda v: f[v][b]) != "hl_gauss":
            break
        lowest.insert(0, b)
    text += " HL-Gauss " + ("improves from phase to phase" if improves else "does not improve steadily from phase to phase")
    if lowest:
        bs = join([f"{b:g}" for b in lowest])
        hl_low = join([f"{f['hl_gauss'][b]:.3f}" for b in lowest])
        mse_low = join([f"{f['mse'][b]:.3f}" for b in lowest])
        text += f" and ends lowest at b = {bs} ({hl_low} vs MSE {mse_low})"
    text += "."
    last = offsets[-1]
    worst = max(f, key=lambda v: f[v][last])
    if worst == "categorical_mse":
        text += f" The same categorical head trained with MSE loses the most plasticity ({f[worst][last]:.2f} at b = {last:g})."
    return text


def _sac_games(s: Summary) -> list[dict[str, Any]]:
    out = []
    for g in s.games:
        hl, sac = s.game_ci(g, "sac_hl_gauss"), s.game_ci(g, "sac")
        a, b = s.seeds(g, "sac_hl_gauss"), s.seeds(g, "sac")
        common = sorted(set(a) & set(b))
        out.append({"game": g, "verdict": compare(hl, sac), "hl": s.ret(g, "sac_hl_gauss"), "sac": s.ret(g, "sac"),
                    "wins": sum(a[k] > b[k] for k in common), "n": len(common)})
    return out


def _sac_sentence(games: list[dict[str, Any]], readme: bool) -> str:
    parts = []
    for r in games:
        v = r["verdict"]
        nums = f"{r['hl']} vs {r['sac']}"
        if v == "level":
            parts.append(f"level on {r['game']}" + ("" if readme else f" ({nums})"))
            continue
        if r["wins"] == r["n"] and v.endswith("ahead"):
            note = "every seed" if readme else "ahead on every seed, paired by seed"
        elif v.startswith("slightly"):
            note = "within the spread" if readme else ("one seed driving it" if r["wins"] == 1 else f"ahead on {r['wins']} of {r['n']} seeds")
        else:
            note = f"{r['wins']} of {r['n']} seeds"
        vs = " of SB3's SAC" if not parts else ""
        parts.append(f"{v}{vs} on {r['game']} ({nums}{', ' if readme else '; ' if 'every' in note else ', '}{note})")
    return ", ".join(parts[:-1]) + (" and " if readme else ", and ") + parts[-1] if len(parts) > 1 else parts[0]


def _suite_d(src: Sources) -> str:
    s = Summary(src["continuous"])
    n = min(s.runs(lb) for lb in ("sac", "sac_hl_gauss"))
    text = (f"**Suite D (SAC, {n} seeds, {s.data['budget']} steps)**: `HLGaussSAC` with the default support (no "
            f"hand-set range) ended {_sac_sentence(_sac_games(s), readme=False)}. IQM normalised score "
            f"{ci(s.iqm('sac_hl_gauss'))} vs {ci(s.iqm('sac'))}, P(HLGaussSAC > SAC) {ci(s.poi['sac_hl_gauss>sac'])}.")
    clip = s.data.get("clip_fraction_max", {}).get("sac_hl_gauss")
    if clip is not None:
        text += " No target was clipped." if clip == 0 else f" At most {100 * clip:.3f}% of targets were clipped."
    return text


#: Seeds of both agents on a task before Suite D at 300k is read on it (docs/benchmarks.md).
SUITE_D_300K_SEEDS = 3
#: HLGaussSAC's reading at 300k -> what became of a lead it had at 30k.
LEAD_AT_300K = {"ahead": "holds", "level": "is gone", "behind": "is reversed"}


def _ahead_level_behind(a, b) -> str:
    """:func:`compare` without its "slightly": only each estimate outside the other's CI counts."""
    verdict = compare(a, b)
    return verdict if verdict in ("ahead", "behind") else "level"


def _suite_d_300k(src: Sources) -> dict[str, dict[str, Any]]:
    """Suite D at 300k, per task with both agents: the final returns, the 30k reading and, at
    :data:`SUITE_D_300K_SEEDS` seeds of both, the 300k reading (ahead / level / behind)."""
    s = Summary(src["continuous_300k"])
    early = Summary(src["continuous"]) if src.has("continuous") else None
    out: dict[str, dict[str, Any]] = {}
    for game in sorted(s.per_game):
        cells = s.per_game[game]
        if "sac" not in cells or "sac_hl_gauss" not in cells:
            continue
        hl, sac = s.game_ci(game, "sac_hl_gauss"), s.game_ci(game, "sac")
        n_hl, n_sac = len(s.seeds(game, "sac_hl_gauss")), len(s.seeds(game, "sac"))
        seeds = min(n_hl, n_sac)
        at_30k = None
        if early is not None and {"sac", "sac_hl_gauss"} <= set(early.per_game.get(game, {})):
            at_30k = _ahead_level_behind(early.game_ci(game, "sac_hl_gauss"), early.game_ci(game, "sac"))
        verdict = _ahead_level_behind(hl, sac) if seeds >= SUITE_D_300K_SEEDS else None
        out[game] = {"hl": hl, "sac": sac, "seeds": seeds, "n_hl": n_hl, "n_sac": n_sac, "at_30k": at_30k,
                     "verdict": verdict, "digits": s.digits(game)}
    return out


def _lead_phrase(r: dict[str, Any]) -> str:
    """", so its 30k lead **holds**" / " (it was level at 30k)"."""
    if r["at_30k"] == "ahead":
        return f", so its 30k lead **{LEAD_AT_300K[r['verdict']]}**"
    return f" (it was {r['at_30k']} at 30k)" if r["at_30k"] else " (no 30k reading)"


def suite_d_300k(src: Sources) -> str:
    """The reading of Suite D at 300k (docs/benchmarks.md), by the rule written before its runs finished."""
    res = _suite_d_300k(src)
    if not res:
        raise MissingResults("Suite D at 300k has no task with both SAC and HLGaussSAC")
    lines = []
    for game, r in res.items():
        d = r["digits"]
        runs = (f"{plural(r['n_hl'], 'seed')} of each" if r["n_hl"] == r["n_sac"]
                else f"{plural(r['n_hl'], 'seed')} of HLGaussSAC, {r['n_sac']} of SAC")
        text = (f"**{game}** ({runs}): final return HLGaussSAC {_with_ci(r['hl'], r['n_hl'], d)} vs SAC "
                f"{_with_ci(r['sac'], r['n_sac'], d)}. ")
        if r["verdict"] is None:
            at_30k = f"At 30k HLGaussSAC was {r['at_30k']}. " if r["at_30k"] else ""
            text += f"{at_30k}No reading yet: the rule waits for {words(SUITE_D_300K_SEEDS)} seeds of both."
        else:
            text += f"HLGaussSAC is **{r['verdict']}**{_lead_phrase(r)}."
        lines.append(bullet(text))
    return "\n".join(lines)


#: Seeds of both agents on every task of a group before Suite E is read on it (docs/benchmarks.md).
SUITE_E_SEEDS = 3
#: Suite E's groups: (source, what they are).
SUITE_E_GROUPS = (("ppo", "MuJoCo"), ("ppo_minatar", "MinAtar"))


def _seed_counts(s: Summary, labels: tuple[str, ...]) -> dict[str, int]:
    """game -> seeds of the least-run of ``labels`` on it (0 where one has no run)."""
    return {g: min(len(s.per_game[g].get(lb, {}).get("seeds", {})) for lb in labels) for g in sorted(s.per_game)}


def _suite_e(src: Sources) -> dict[str, dict[str, Any]]:
    """Suite E per group (MuJoCo, MinAtar) that has runs: seeds per task and, at :data:`SUITE_E_SEEDS` seeds of
    both agents on every task, the rule's verdict on P(HLGaussPPO > PPO): "better" (CI above 0.5), "worse"
    (below) or "as well" (the CI holds 0.5), with the IQMs."""
    out: dict[str, dict[str, Any]] = {}
    for name, group in SUITE_E_GROUPS:
        if not src.has(name):
            continue
        s = Summary(src[name])
        seeds = _seed_counts(s, ("ppo", "ppo_hl_gauss"))
        r: dict[str, Any] = {"budget": s.data["budget"], "seeds": seeds, "verdict": None}
        if min(seeds.values()) >= SUITE_E_SEEDS and "ppo_hl_gauss>ppo" in s.poi:
            poi = s.poi["ppo_hl_gauss>ppo"]
            r.update(poi=poi, iqm={lb: s.iqm(lb) for lb in ("ppo_hl_gauss", "ppo")}, runs=s.runs("ppo_hl_gauss"),
                     verdict="as well" if not separates(poi) else "better" if poi[0] > 0.5 else "worse")
        out[group] = r
    return out


def _suite_e_noise(src: Sources) -> dict[str, Any] | None:
    """Suite E's reward-noise check (Hopper-v5, eta = 1 against 0): each agent's ratio of means and, at
    :data:`SUITE_E_SEEDS` seeds, "holds" (HLGaussPPO's CI above PPO's), "contradicted" (below) or "not resolved"."""
    if not src.has("noise_ppo"):
        return None
    data = src["noise_ppo"].get("noise", {})
    cells = {lb: data.get(f"Hopper-v5|{lb}", {}) for lb in ("ppo_hl_gauss", "ppo")}
    etas = sorted(set(cells["ppo_hl_gauss"]) & set(cells["ppo"]), key=float)
    if len(etas) < 2:
        return None
    eta = etas[-1]
    hl, ppo = cells["ppo_hl_gauss"][eta], cells["ppo"][eta]
    seeds = min(hl[3], ppo[3])
    verdict = None
    if seeds >= SUITE_E_SEEDS:
        verdict = "not resolved" if overlap(hl, ppo) else "holds" if hl[1] > ppo[2] else "contradicted"
    return {"eta": float(eta), "hl": hl, "ppo": ppo, "seeds": seeds, "verdict": verdict}


def _noise_verdict(verdict: str) -> str:
    """"holds" / "is contradicted" / "is not resolved", the verdict in bold."""
    return f"**{verdict}**" if verdict == "holds" else f"is **{verdict}**"


def suite_e(src: Sources) -> str:
    """The reading of Suite E (docs/benchmarks.md), by the rule written before its HLGaussPPO runs finished."""
    res = _suite_e(src)
    if not res:
        raise MissingResults("Suite E has no analysed runs")
    lines = []
    for _, group in SUITE_E_GROUPS:
        if group not in res:
            lines.append(bullet(f"**{group}**: not run yet."))
            continue
        r = res[group]
        counts = join([f"{g} {n}" for g, n in r["seeds"].items()])
        text = f"**{group}** ({r['budget']} steps; seeds of both agents per task: {counts}): "
        if r["verdict"] is None:
            text += f"no reading yet: the rule waits for {words(SUITE_E_SEEDS)} seeds of both on every task."
        else:
            iqm = r["iqm"]
            text += (f"P(HLGaussPPO > PPO) {ci(r['poi'])}, IQM {ci(iqm['ppo_hl_gauss'])} vs {ci(iqm['ppo'])} "
                     f"({r['runs']} seeds per task): HLGaussPPO does **{r['verdict']}**"
                     + (" as SB3's PPO (not separated at this number of seeds)." if r["verdict"] == "as well"
                        else " than SB3's PPO."))
        lines.append(bullet(text))
    noise = _suite_e_noise(src)
    if noise is None:
        lines.append(bullet("**Reward noise** (Hopper-v5, eta = 1): not run yet."))
    else:
        n, eta = noise["seeds"], f"{noise['eta']:g}"
        text = (f"**Reward noise** (Hopper-v5, {plural(n, 'seed')} at eta = 0 and {eta}): HLGaussPPO kept "
                f"{_ratio(noise['hl'])} of its noiseless final return, PPO {_ratio(noise['ppo'])}. ")
        text += (f"No reading yet: the rule waits for {words(SUITE_E_SEEDS)} seeds of both." if noise["verdict"] is None
                 else f"The paper's noise claim, for a lambda-return critic, {_noise_verdict(noise['verdict'])}.")
        lines.append(bullet(text))
    return "\n".join(lines)


def suite_e_runs(src: Sources) -> str:
    """Suite E's runs per task and seed (docs/ppo.md): final return of SB3's PPO and of HLGaussPPO, and on
    how many of the seeds both ran HLGaussPPO ended ahead. A record; the reading is :func:`suite_e`'s."""
    lines = []
    for name, group in SUITE_E_GROUPS:
        if not src.has(name):
            continue
        s = Summary(src[name])
        tasks = 0
        for game in sorted(s.per_game):
            cells = s.per_game[game]
            if not {"ppo", "ppo_hl_gauss"} <= set(cells):
                continue
            ppo, hl = s.seeds(game, "ppo"), s.seeds(game, "ppo_hl_gauss")
            both = sorted(set(ppo) & set(hl))
            d = s.digits(game)
            pairs = "; ".join(f"seed {seed} {num(ppo[seed], d)} / {num(hl[seed], d)}" for seed in both)
            ahead = sum(hl[seed] > ppo[seed] for seed in both)
            text = f"**{game}** ({group}, {s.data['budget']} steps), final return PPO / HLGaussPPO: {pairs}"
            if len(both) > 1:
                text += (f"; means {s.ret(game, 'ppo')} / {s.ret(game, 'ppo_hl_gauss')}, HLGaussPPO ahead on "
                         f"{ahead} of {len(both)} seeds")
            lines.append(bullet(text + "."))
            tasks += 1
        clipped = s.data.get("clip_fraction_max", {}).get("ppo_hl_gauss")
        if tasks and clipped is not None:
            lines.append(bullet(f"Targets clipped to HLGaussPPO's support ({group}): at most {clipped:.3%} of a "
                                "run's value targets."))
    if not lines:
        raise MissingResults("Suite E has no task with runs of both agents")
    return "\n".join(lines)


# --------------------------------------------------------------------------- what remains
#: The suites still running (docs/benchmarks.md, "What remains"): (name, suite, budget in env steps).
RUNNING = (
    ("Suite S (capacity, the x4 runs)", "capacity", 500_000),
    ("Suite B, reward noise", "noise", 500_000),
    ("Suite D, SAC on MuJoCo", "continuous", 300_000),
    ("Suite E, MuJoCo", "ppo", 1_000_000),
    ("Suite E, MinAtar", "ppo", 2_000_000),
    ("Suite E, reward noise", "noise_ppo", 1_000_000),
    ("C51's initial distribution", "c51_init", 500_000),
)


def _seed_list(seeds: list[int]) -> str:
    """[0, 1, 2] -> "seeds 0-2", [0] -> "seed 0", [0, 2] -> "seeds 0 and 2"."""
    if len(seeds) == 1:
        return f"seed {seeds[0]}"
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"seeds {seeds[0]}-{seeds[-1]}"
    return "seeds " + join([str(s) for s in seeds])


def _suite_progress(root: Path, suite: str, budget: int) -> dict[str, Any]:
    """The runs of ``suite`` at ``budget`` (its groups' own budgets): which result files exist, per cell
    (task, and reward-noise level in the noise suites) and agent, and the wall minutes of the finished ones."""
    from benchmarks.run import pending_runs
    from benchmarks.suites import NOISELESS_REFERENCE, expand

    def cell(r) -> tuple[str, float | None]:
        return r.game, r.reward_noise if r.suite_uses_noise else None

    every = expand(suite)
    runs = [r for r in every if r.total_steps == budget]
    _, done = pending_runs(runs, root)
    cells: dict[tuple[str, float | None], dict[str, list[int]]] = {}
    for r in runs:
        cells.setdefault(cell(r), {}).setdefault(r.label, [])
    minutes, copied = [], 0
    for r in done:
        cells[cell(r)][r.label].append(r.seed)
        result = json.loads((root / r.relpath).read_text())
        # A copy of a reference run (benchmarks.run.reuse_reference_run) did not run here: no wall time of its own.
        if "reused_from" in result:
            copied += 1
        else:
            minutes.append(result["wall_time_s"] / 60)
    envs = sorted({r.game for r in runs}) if len(runs) < len(every) else []
    command = f"python -m benchmarks.run --suite {suite}" + (f" --envs {' '.join(envs)}" if envs else "") + " --jobs 2"
    return {"planned": len(runs), "done": len(done), "copied": copied, "reference": NOISELESS_REFERENCE.get(suite),
            "cells": cells, "minutes": minutes, "command": command}


def _cell_phrase(seeds: dict[str, list[int]]) -> str:
    """What has run in one cell: "seeds 0-2 of both", or per agent where they differ."""
    done = {label: sorted(s) for label, s in seeds.items() if s}
    if not done:
        return "not started"
    if len(done) == len(seeds) and len({tuple(s) for s in done.values()}) == 1:
        return f"{_seed_list(next(iter(done.values())))} of {'both' if len(seeds) == 2 else 'each'}"
    return join([f"{_seed_list(s)} of {NAMES.get(label.split('@')[0], label)}" for label, s in done.items()])


def _task_levels(task: str, etas: list[float | None]) -> str:
    """"Breakout", or "Breakout (eta 0 and 1)" in a noise suite."""
    return task if etas == [None] else f"{task} (eta {join([f'{eta:g}' for eta in etas])})"


def progress(src: Sources) -> str:
    """The running suites, counted from the result files (docs/benchmarks.md, "What remains"): runs done of
    planned, what has run per task, the wall minutes per finished run and the command that resumes them."""
    from benchmarks.suites import _steps_label

    lines = []
    suites = [(name, _suite_progress(src.root, suite, budget), budget) for name, suite, budget in RUNNING]
    if not any(p["done"] for _, p, _ in suites):
        raise MissingResults(f"no result file of the running suites under {src.root}")
    for name, p, budget in suites:
        # phrase -> task -> its reward-noise levels with that phrase ([None] outside the noise suites)
        by_phrase: dict[str, dict[str, list[float | None]]] = {}
        for (task, eta), seeds in p["cells"].items():
            by_phrase.setdefault(_cell_phrase(seeds), {}).setdefault(task, []).append(eta)
        text = f"**{name}** ({_steps_label(budget)} steps): {p['done']} of {p['planned']} runs"
        if p["copied"]:
            text += f" ({p['copied']} of them copies of the same runs of suite `{p['reference']}`)"
        if p["done"]:
            text += "; " + "; ".join(f"{join([_task_levels(task, etas) for task, etas in tasks.items()])}: {phrase}"
                                     for phrase, tasks in by_phrase.items())
        if p["minutes"]:
            lo, hi = (f"{m:.0f}" for m in (min(p["minutes"]), max(p["minutes"])))
            text += f". Wall time per finished run: {lo if lo == hi else f'{lo}-{hi}'} minutes"
        # A finished suite has nothing to resume: say so rather than give a command that runs nothing.
        text += ". All done." if p["done"] == p["planned"] else f". Resume: `{p['command']}`."
        lines.append(bullet(text))
    return "\n".join(lines)


# --------------------------------------------------------------------------- README: evidence so far
def evidence(src: Sources) -> str:
    bullets: list[str] = []
    for name, fn in (("minatar_500k", _ev_500k), ("minatar_defaults", _ev_defaults), ("minatar_100k", _ev_100k), ("noise", _ev_noise), ("noise_500k", _ev_noise_500k),
                     ("plasticity", _ev_plasticity), ("continuous", _ev_sac), ("continuous_300k", _ev_suite_d_300k),
                     ("ppo", _ev_suite_e), ("capacity", _capacity), ("dqn_throughput", _ev_throughput)):
        text = fn(src) if src.has(name) else None
        if text is not None:
            bullets.append(bullet(text))
    if not bullets:
        raise MissingResults(f"no result summaries under {src.root}")
    head = (f"<!-- Generated by `{COMMAND}` from benchmarks/results/ (benchmarks/evidence.py): do not edit by hand. -->\n"
            "Measured on 2-core CPUs; details, plots and commands in [docs/benchmarks.md](docs/benchmarks.md).\n"
            "IQM of normalised scores with 95% stratified-bootstrap CIs. \"Ahead\"/\"behind\": each estimate lies\n"
            "outside the other's 95% CI (\"slightly\": only one does; \"level\": neither does).")
    return head + "\n\n" + "\n".join(bullets)


def _ev_500k(src: Sources) -> str:
    s = Summary(src["minatar_500k"])
    r = _aggregate_reading(s)
    n = s.runs("hl_gauss")
    text = (f"**MinAtar, {s.data['budget']} steps (Suite A's own budget, {n} seeds x {len(s.games)} games):** "
            f"HL-Gauss DQN is {r['phrase']} MSE DQN, IQM {ci(s.iqm('hl_gauss'))} vs {ci(s.iqm('mse'))}, "
            f"P(HL-Gauss > MSE) {ci(r['poi'])}. ")
    huber = _huber_phrase(r["vs_huber"]).replace("clearly ", "")
    text += f"{huber[0].upper() + huber[1:]} SB3's Huber DQN ({ci(s.iqm('huber'))}, {s.runs('huber')} seeds)."
    v = _by_verdict(s, "hl_gauss", "mse")
    level = v.get("level", []) + v.get("slightly ahead", []) + v.get("slightly behind", [])
    parts = []
    if v.get("ahead"):
        parts.append(f"won {join(v['ahead'])}")
    if level:
        parts.append(f"was level on {join(level)}")
    if v.get("behind"):
        parts.append(f"lost {join(v['behind'])}")
    text += " HL-Gauss " + (", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]) + "."
    singles = [lb for lb in ("two_hot", "c51") if lb in s.agg]
    if singles:
        below = all(compare(s.iqm(lb), s.iqm("mse")) == "behind" for lb in singles)
        named = join([f"{NAMES[lb]} ({plural(s.runs(lb), 'seed')})" for lb in singles])
        text += (f" {named} scored "
                 f"{'below' if below else 'not clearly below'} MSE (IQM {join([num(s.iqm(lb)[0], 2) for lb in singles])}).")
    text += (" The paper's HL-Gauss > MSE gap shows at this scale." if r["gap_shows"]
             else " The paper's clear HL-Gauss > MSE gap does not show at this scale.")
    return text


def _ev_defaults(src: Sources) -> str | None:
    """The defaults check (benchmarks/defaults_check.py); no bullet until its rule has been applied (3 seeds)."""
    s = src["minatar_defaults"]
    if s.get("reading") is None:
        return None
    iqm = s["iqm"]
    seeds = s["runs"] // len(s["games"])
    return (f"**Default loss settings (MinAtar DQN, {s['budget']} steps, {words(seeds)} seeds x {words(len(s['games']))} games):** "
            f"HL-Gauss with no support chosen by hand (101 bins, symlog, [-1e4, 1e4]) scored IQM "
            f"{ci(iqm['hl_gauss@defaults'])} against {ci(iqm['hl_gauss'])} on Suite A's hand-set support: "
            + ("as well, by the rule fixed before the runs (inside or above the hand-set CI)."
               if s["reading"] == "as well" else "worse, by the rule fixed before the runs (below the hand-set CI)."))


def _ev_100k(src: Sources) -> str:
    s = Summary(src["minatar_100k"])
    n = min(s.runs(lb) for lb in ("mse", "huber", "hl_gauss"))
    text = (f"**MinAtar, {s.data['budget']} steps ({n} seeds):** HL-Gauss {ci(s.iqm('hl_gauss'))}, MSE {ci(s.iqm('mse'))}, "
            f"Huber {ci(s.iqm('huber'))}: ")
    hl, mse, hub = (s.iqm(lb)[0] for lb in ("hl_gauss", "mse", "huber"))
    direction = hl > mse > hub
    if separates(s.poi["hl_gauss>mse"]):
        text += "the paper's direction, and P(HL-Gauss > MSE) separates them." if direction else "P(HL-Gauss > MSE) separates them."
    else:
        text += ("the paper's direction, but the CIs do not separate HL-Gauss from MSE." if direction
                 else "the CIs do not separate HL-Gauss from MSE.")
    if "categorical_mse" in s.agg and max(s.agg, key=lambda lb: s.iqm(lb)[0]) == "categorical_mse":
        p = s.poi["hl_gauss>categorical_mse"]
        text += (f" {'Unlike in' if separates(p) and p[0] < 0.5 else 'Not settling'} the paper's ablation, the categorical head trained with MSE on its "
                 f"expectation did best at this budget (IQM {ci(s.iqm('categorical_mse'))}, {s.runs('categorical_mse')} seeds).")
    return text


def _ev_noise(src: Sources) -> str:
    res = _noise(src)
    graceful = any(r["verdict"] == "ahead" for r in res.values())
    return (f"**Reward noise (Suite B, {src['noise']['budget']} steps):** HL-Gauss "
            + ("degraded more gracefully than MSE." if graceful else "did not degrade more gracefully than MSE."))


def _ev_noise_500k(src: Sources) -> str | None:
    """Suite B at 500k: a bullet only for games the rule has read (3 seeds of both losses at eta 0 and 1)."""
    read = {g: r for g, r in _noise_500k(src).items() if r["verdict"] is not None}
    if not read:
        return None
    parts = [f"on {g} ({words(r['seeds'])} seeds) HL-Gauss kept {ci(r['hl'])} of its noiseless return at eta = "
             f"{r['eta']:g}, MSE {ci(r['mse'])} (final return {r['returns']['hl_gauss']:.1f} vs {r['returns']['mse']:.1f}): "
             f"the paper's effect is {r['verdict']}" for g, r in read.items()]
    return "**Reward noise at 500k (Suite B's own budget):** " + "; ".join(parts) + ", by the rule fixed before the runs."


def _ev_plasticity(src: Sources) -> str:
    f = _plasticity(src)
    last = max(f["mse"])
    kept = f["hl_gauss"][last] < f["mse"][last]
    return (f"**Non-stationary regression (Suite C):** HL-Gauss {'kept' if kept else 'did not keep'} fitting moving "
            f"targets (final-phase error {f['hl_gauss'][last]:.3f} vs MSE {f['mse'][last]:.3f}).")


def _ev_sac(src: Sources) -> str:
    s = Summary(src["continuous"])
    n = min(s.runs(lb) for lb in ("sac", "sac_hl_gauss"))
    text = (f"**SAC (Suite D, {s.data['budget']} steps, {n} seeds):** HLGaussSAC finished "
            f"{_sac_sentence(_sac_games(s), readme=True)}.")
    if src.has("sac_pendulum"):
        from benchmarks.sac_benchmark import BUDGETS

        p = src["sac_pendulum"]["Pendulum-v1"]
        steps = BUDGETS["Pendulum-v1"][0]
        text += (f" On Pendulum at {steps // 1000}k steps it reached {p['hlgauss_sac']['mean']:.0f} ± {p['hlgauss_sac']['std']:.0f} "
                 f"against {p['sac']['mean']:.0f} ± {p['sac']['std']:.0f} ([docs/sac.md](docs/sac.md)).")
    return text


def _ev_suite_d_300k(src: Sources) -> str | None:
    """Suite D at 300k: a bullet only for tasks the rule has read (3 seeds of both agents)."""
    read = {g: r for g, r in _suite_d_300k(src).items() if r["verdict"] is not None}
    if not read:
        return None
    parts = [f"on {g} HLGaussSAC ended {r['verdict']} ({ci(r['hl'], r['digits'])} vs {ci(r['sac'], r['digits'])}"
             + (f"; its 30k lead {LEAD_AT_300K[r['verdict']]})" if r["at_30k"] == "ahead" else ")")
             for g, r in read.items()]
    n = min(r["seeds"] for r in read.values())
    return f"**SAC at 300k (Suite D's own budget, {n} seeds):** " + "; ".join(parts) + ", by the rule fixed before the runs."


def _ev_suite_e(src: Sources) -> str | None:
    """Suite E: a bullet only for groups the rule has read (3 seeds of both agents on every task)."""
    read = {g: r for g, r in _suite_e(src).items() if r["verdict"] is not None}
    noise = _suite_e_noise(src)
    noise = noise if noise and noise["verdict"] else None  # only a read noise check gets a clause
    if not read and not noise:
        return None
    parts = [f"on {group} ({r['budget']} steps, {r['runs']} seeds x {words(len(r['seeds']))} tasks) HLGaussPPO did "
             f"{r['verdict']}{' as' if r['verdict'] == 'as well' else ' than'} PPO, P(HLGaussPPO > PPO) {ci(r['poi'])}"
             for group, r in read.items()]
    if noise:
        parts.append(f"with reward noise eta = {noise['eta']:g} on Hopper-v5 ({noise['seeds']} seeds) HLGaussPPO kept "
                     f"{_ratio(noise['hl'])} of its noiseless return and PPO {_ratio(noise['ppo'])}: the paper's noise "
                     f"claim, for a lambda-return critic, {_noise_verdict(noise['verdict'])}")
    return ("**PPO (Suite E, the zoo's tuned PPO settings, [docs/ppo.md](docs/ppo.md)):** " + "; ".join(parts)
            + ", by the rule fixed before the runs.")


def _ev_throughput(src: Sources) -> str:
    rows = src["dqn_throughput"]["rows"]

    def span(variant):
        r = [row["ratio_vs_sb3"] for row in rows if row["variant"] == variant]
        return f"{min(r):.2f}-{max(r):.2f}x"

    text = (f"**Throughput on one CPU thread** ([docs/throughput.md](docs/throughput.md)): HLGaussDQN runs at "
            f"{span('hl_gauss_default')} SB3 DQN's env-steps/s with the default 101 bins "
            f"({span('hl_gauss_51_identity')} with the paper's 51)")
    if src.has("sac_throughput"):
        text += f", HLGaussSAC at {src['sac_throughput']['ratio_of_medians']['hlgauss_sac']:.2f}x SB3 SAC on HalfCheetah"
    runs = [src[name]["rows"] for name in ("ppo_throughput", "ppo_throughput_2") if src.has(name)]
    if runs:
        def ppo_span(env):
            r = [row["ratio_vs_sb3"] for rows_ in runs for row in rows_ if row["env"] == env and row["variant"] == "hl_gauss_default"]
            lo, hi = f"{min(r):.3f}", f"{max(r):.3f}"  # three decimals: CartPole sits at the 0.95 target
            return f"{lo}-{hi}x" if lo != hi else f"{lo}x"

        text += (f", and HLGaussPPO at {ppo_span('HalfCheetah-v5')} SB3 PPO on HalfCheetah, {ppo_span('CartPole-v1')} on "
                 f"CartPole ({plural(len(runs), 'run')}, [docs/ppo.md](docs/ppo.md))")
    return text + "."


# --------------------------------------------------------------------------- blocks
#: block name -> (file, generator)
BLOCKS: dict[str, tuple[str, Callable[[Sources], str]]] = {
    "evidence": ("README.md", evidence),
    "headline_500k": ("docs/benchmarks.md", headline_500k),
    "headline_100k": ("docs/benchmarks.md", headline_100k),
    "noise_500k_reading": ("docs/benchmarks.md", noise_500k),
    "continuous_300k_reading": ("docs/benchmarks.md", suite_d_300k),
    "ppo_reading": ("docs/benchmarks.md", suite_e),
    "progress": ("docs/benchmarks.md", progress),
    "ppo_runs": ("docs/ppo.md", suite_e_runs),
    # The same reading on the algorithm's own page, so that neither page carries a hand-copied, ageing number.
    "ppo_page_reading": ("docs/ppo.md", suite_e),
}
ROOT = Path(__file__).resolve().parents[1]


def generate(results_dir: Path = RESULTS_DIR) -> dict[str, str | MissingResults]:
    """block name -> its text, or the :class:`MissingResults` that stopped it."""
    src = Sources(results_dir)
    out: dict[str, str | MissingResults] = {}
    for name, (_, fn) in BLOCKS.items():
        try:
            out[name] = fn(src)
        except MissingResults as exc:
            out[name] = exc
    return out


def block_pattern(name: str):
    import re

    return re.compile(rf"(<!-- generated:{name} -->\n)(.*?)(<!-- /generated:{name} -->)", re.DOTALL)


def read_block(text: str, name: str) -> str | None:
    m = block_pattern(name).search(text)
    return m.group(2) if m else None


def replace_block(text: str, name: str, content: str) -> str:
    pattern = block_pattern(name)
    if not pattern.search(text):
        raise KeyError(f"no <!-- generated:{name} --> block")
    return pattern.sub(lambda m: m.group(1) + content.rstrip("\n") + "\n" + m.group(3), text)


def main() -> int:
    for name, text in generate().items():
        print(f"<!-- {name} ({BLOCKS[name][0]}) -->\n{text}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

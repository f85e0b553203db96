"""Behaviour of the calibrated comparison rule (benchmarks/compare.py, issue 37): exact p-values, labels,
bad input, and the false-alarm rate under the null measured by simulation."""

from __future__ import annotations

import itertools
import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the benchmarks/ package lives at the repo root

from benchmarks.compare import (
    Verdict,
    compare_aggregate,
    compare_task,
    false_alarm_rate,
    old_ci_overlap_rule,
    simulate_verdicts,
)

N_SIMS = 4_000
# One-sided binomial bound: a rule whose true rate is 0.05 exceeds it with probability ~1e-4.
TOLERANCE = 3.72 * math.sqrt(0.05 * 0.95 / N_SIMS)


def brute_force_p(ours, baseline) -> float:
    """Two-sided permutation p-value by direct enumeration, written independently of the module."""
    pooled, n = np.array(list(ours) + list(baseline), dtype=float), len(ours)
    observed = abs(np.mean(ours) - np.mean(baseline))
    splits = [np.isin(np.arange(len(pooled)), idx) for idx in itertools.combinations(range(len(pooled)), n)]
    diffs = [abs(pooled[s].mean() - pooled[~s].mean()) for s in splits]
    return sum(d >= observed - 1e-12 for d in diffs) / len(splits)


def test_three_versus_three_cannot_decide():
    v = compare_task([1, 2, 3], [4, 5, 6])
    assert v.p_value == pytest.approx(2 / 20) and v.min_p_value == pytest.approx(0.1)
    assert v.label == "too few seeds to tell" and v.difference == -3.0
    assert (v.n_ours, v.n_baseline) == (3, 3) and v.exact
    assert "too few seeds to tell" in str(v) and "\n" not in str(v)
    # Whatever the data: no 3 v 3 comparison is ever ahead or behind.
    assert compare_task([100, 101, 102], [0, 0.1, 0.2]).label == "too few seeds to tell"


def test_five_versus_five_fully_separated_is_ahead_with_exact_p():
    v = compare_task([6, 7, 8, 9, 10], [1, 2, 3, 4, 5])
    assert v.label == "ahead" and v.p_value == pytest.approx(2 / 252) and v.difference == 5.0
    assert v.ci[0] <= 5.0 <= v.ci[1]
    assert compare_task([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]).label == "behind"
    assert isinstance(v, Verdict) and "ahead" in str(v)
    with pytest.raises(AttributeError):
        v.label = "level"  # frozen


@pytest.mark.parametrize("ours, baseline", [
    ([1.0, 4.0, 2.0], [3.0, 5.0]),
    ([0.5, 0.1, 0.9, 0.3], [0.2, 0.8, 0.7]),
    ([10, 10, 20, 30], [10, 20, 20, 40]),  # ties
    ([3.0], [1.0, 2.0, 5.0, 4.0]),
])
def test_p_value_matches_brute_force(ours, baseline):
    assert compare_task(ours, baseline).p_value == pytest.approx(brute_force_p(ours, baseline))


def test_unequal_sizes_can_reach_one_over_splits():
    # 2 v 20 seeds: 231 splits; when n != m the most extreme split is unique, so p = 1/231 is reachable.
    v = compare_task([1000, 1001], list(range(20)))
    assert v.p_value == pytest.approx(1 / 231) and v.label == "ahead"
    assert v.min_p_value == pytest.approx(1 / 231)


def test_identical_values_are_level_with_p_one():
    v = compare_task([500.0] * 5, [500.0] * 5)
    assert v.label == "level" and v.p_value == 1.0 and v.difference == 0.0
    assert "no difference detected" in str(v)
    assert compare_aggregate({"CartPole": [500] * 4}, {"CartPole": [500] * 4}).p_value == 1.0


def test_monte_carlo_beyond_the_exact_limit_is_seeded_and_valid():
    rng = np.random.default_rng(3)
    ours, base = rng.normal(1.5, 1, 12), rng.normal(0, 1, 12)  # C(24, 12) = 2.7M splits
    v = compare_task(ours, base, n_permutations=1999, seed=4)
    assert not v.exact and v.p_value >= 1 / 2000 and v.label == "ahead"
    assert v == compare_task(ours, base, n_permutations=1999, seed=4)


def test_aggregate_probability_of_improvement_and_normalised_difference():
    ours = {"a": [7, 8, 9], "b": [3, 4, 5]}
    base = {"a": [4, 5, 6], "b": [0, 1, 2]}
    v = compare_aggregate(ours, base)
    # 20 x 20 joint splits; only "ours all on top" and "ours all below" give PoI 1 and 0.
    assert v.difference == 1.0 and v.p_value == pytest.approx(2 / 400) and v.label == "ahead"
    assert v.n_tasks == 2 and (v.n_ours, v.n_baseline) == (6, 6) and v.null_value == 0.5
    d = compare_aggregate(ours, base, normalise={"a": (0, 10), "b": (0, 5)}, statistic="mean_normalised_difference")
    assert d.difference == pytest.approx((0.3 + 0.6) / 2) and d.label == "ahead"
    same = compare_aggregate(ours, base, normalise=lambda task, x: x / 10, statistic="mean_normalised_difference")
    assert same.difference == pytest.approx(0.3)
    assert compare_aggregate({"a": [1, 2, 3]}, {"a": [4, 5, 6]}).label == "too few seeds to tell"
    mixed = compare_aggregate({"a": [1, 2, 3], "b": [3, 4, 5]}, {"a": [4, 5, 6], "b": [0, 1, 2]})
    assert mixed.difference == 0.5 and mixed.label == "level"


@pytest.mark.parametrize("call, match", [
    (lambda: compare_task([], [1.0]), "ours is empty"),
    (lambda: compare_task([1.0, 2.0], [1.0, float("nan")]), "baseline contains NaN"),
    (lambda: compare_task([1.0], [2.0], alpha=1.5), "alpha=1.5"),
    (lambda: compare_task([1.0], [2.0], alpha=0.0), "alpha=0.0"),
    (lambda: compare_aggregate({"a": [1], "b": [2]}, {"a": [1], "c": [2]}), r"task keys differ.*'b'.*'c'"),
    (lambda: compare_aggregate({"a": [1.0]}, {"a": []}), r"baseline\['a'\] is empty"),
    (lambda: compare_aggregate({"a": [1.0]}, {"a": [2.0]}, statistic="iqm"), "statistic='iqm'"),
    (lambda: compare_aggregate({"a": [1.0]}, {"a": [2.0]}, normalise={"b": (0, 1)}), "anchors for task 'a'"),
    (lambda: compare_aggregate({}, {}), "no tasks"),
])
def test_bad_input_raises_value_error_naming_it(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("n, tasks", [(3, 1), (5, 1), (10, 1), (3, 3), (5, 3), (10, 3)])
def test_false_alarm_rate_under_the_null_is_at_most_alpha(n, tasks):
    rates = simulate_verdicts(n, n, tasks, n_sims=N_SIMS, n_permutations=1999)
    assert rates["ahead"] + rates["behind"] <= 0.05 + TOLERANCE, rates
    if (n, tasks) == (3, 1):
        assert rates["too few seeds to tell"] == 1.0


def test_false_alarm_rate_with_tied_bimodal_returns_and_the_old_rule_fails():
    assert false_alarm_rate(5, 5, distribution="bimodal", n_sims=N_SIMS) <= 0.05 + TOLERANCE
    assert false_alarm_rate(5, 5, 3, distribution="bimodal", n_sims=1000, n_permutations=999,
                            statistic="mean_normalised_difference") <= 0.05 + 3.72 * math.sqrt(0.05 * 0.95 / 1000)
    # The simulation can see miscalibration: the old rule is far above 5% at 3 v 3.
    assert false_alarm_rate(3, 3, n_sims=1000, rule="old") > 0.15
    assert old_ci_overlap_rule([6, 7, 8, 9, 10], [1, 2, 3, 4, 5]) == "ahead"


def test_power_against_a_large_shift():
    assert simulate_verdicts(5, 5, n_sims=500, shift=3.0)["ahead"] >= 0.8
    assert simulate_verdicts(5, 5, 3, n_sims=500, shift=2.0, n_permutations=999)["ahead"] >= 0.8

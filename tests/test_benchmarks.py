"""Fast tests of the benchmark runner and analysis (tiny budgets; the suites themselves are not tests)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the benchmarks/ package lives at the repo root

from benchmarks import analyze, run
from benchmarks.algos import MSEDQN, UniformRewardNoise
from benchmarks.suites import SUITES, RunSpec, expand


def test_suites_expand_with_overrides():
    runs = expand("minatar", steps=1_000, seeds=[0, 1], envs=["Breakout"], variants=["mse", "hl_gauss"])
    assert [(r.seed, r.variant) for r in runs] == [(0, "mse"), (0, "hl_gauss"), (1, "mse"), (1, "hl_gauss")]
    assert all(r.total_steps == 1_000 and r.env_id == "MinAtar/Breakout-v1" for r in runs)
    mse, hl = runs[0], runs[1]
    # The paper's learning rates: classification 4x regression; the support only for categorical critics.
    assert hl.algo_kwargs["learning_rate"] == 4 * mse.algo_kwargs["learning_rate"]
    assert hl.algo_kwargs["loss"] == "hl_gauss" and "loss" not in mse.algo_kwargs
    assert len({r.relpath for r in expand("minatar")}) == len(expand("minatar"))
    assert {r.label for r in expand("minatar_lr")} == {"mse@clslr", "huber@clslr", "hl_gauss@reglr"}
    noise = expand("noise", seeds=[0], envs=["Breakout"], variants=["mse"])
    assert [r.reward_noise for r in noise] == [0.0, 0.1, 0.3, 1.0]
    assert len({r.relpath for r in noise}) == 4
    extremes = expand("noise", seeds=[0], envs=["Breakout"], reward_noise=[0.0, 1.0])
    assert [(r.variant, r.reward_noise) for r in extremes] == [("mse", 0.0), ("mse", 1.0), ("hl_gauss", 0.0), ("hl_gauss", 1.0)]
    with pytest.raises(ValueError, match=r"reward_noise=\[0.5\] not in suite 'noise'"):
        expand("noise", reward_noise=[0.5])
    with pytest.raises(ValueError, match=r"envs=\['Breakot'\]"):
        expand("minatar", envs=["Breakot"])
    assert expand("minatar", budget_scale=0.5)[0].total_steps == SUITES["minatar"][0].total_steps // 2
    spec = runs[0]
    assert RunSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_reward_noise_wrapper():
    import gymnasium as gym

    env = UniformRewardNoise(gym.make("CartPole-v1"), eta=0.3, seed=0)
    env.reset(seed=0)
    rewards = [env.step(0)[1] for _ in range(8)]
    assert all(1.0 <= r <= 1.3 for r in rewards) and len(set(rewards)) > 1


def test_mse_dqn_trains():
    model = MSEDQN("MlpPolicy", "CartPole-v1", learning_starts=16, batch_size=8, train_freq=4,
                   policy_kwargs=dict(net_arch=[8]), seed=0, device="cpu")
    model.learn(64)
    assert model._n_updates > 0 and np.isfinite(model.logger.name_to_value["train/loss"])


def test_runner_writes_results_and_resumes(tmp_path: Path):
    summary = run.run_suite("tiny", jobs=0, results_dir=tmp_path, variants=["mse", "hl_gauss"], progress=False)
    assert summary["done"] == 2 and not summary["failed"]
    files = sorted(tmp_path.rglob("seed*.json"))
    assert [f.parent.name for f in files] == ["hl_gauss", "mse"]
    result = json.loads(files[0].read_text())
    assert result["spec"]["variant"] == "hl_gauss" and result["spec"]["total_steps"] == 400
    assert [e["step"] for e in result["evals"]] == [0, 200, 400]
    assert {"torch", "stable-baselines3", "gymnasium"} <= set(result["versions"])
    assert result["machine"]["torch_cpu_capability"] in {"DEFAULT", "NO AVX", "AVX2", "AVX512", "ZVECTOR", "VSX"}
    assert result["steps_per_s"] > 0 and result["wall_time_s"] > 0 and result["clip_fraction"] is not None
    # Episode lengths beside the returns: CartPole pays 1 per step, so each return is its episode's length.
    for e in result["evals"]:
        assert len(e["lengths"]) == len(e["returns"]) == result["spec"]["eval_episodes"]
        assert e["returns"] == [float(n) for n in e["lengths"]]
    assert result["train_episode_returns"] == [float(n) for n in result["train_episode_lengths"]]
    assert result["train_episode_lengths"]
    mtime = files[0].stat().st_mtime
    # A second invocation skips the finished runs and only runs the new one.
    summary = run.run_suite("tiny", jobs=0, results_dir=tmp_path, progress=False)
    assert summary["skipped"] == 2 and summary["done"] == 1
    assert files[0].stat().st_mtime == mtime
    assert run.main(["--suite", "tiny", "--results-dir", str(tmp_path), "--jobs", "0"]) == 0


def test_noiseless_runs_are_copied_from_their_reference_run(tmp_path: Path):
    """``noise_ppo``'s eta = 0 runs repeat Suite E's Hopper-v5 runs setting for setting: the runner copies a finished
    reference (marked ``reused_from``) and trains nothing; a reference with other settings is not copied."""
    noiseless = expand("noise_ppo", seeds=[0], reward_noise=[0.0])
    assert [(r.variant, r.reward_noise) for r in noiseless] == [("ppo", 0.0), ("ppo_hl_gauss", 0.0)]
    reference = {r.variant: r for r in expand("ppo", seeds=[0], envs=["Hopper-v5"])}
    for spec in noiseless:
        assert spec.reference() == reference[spec.variant]
    assert all(r.reference() is None for r in expand("noise_ppo", seeds=[0], reward_noise=[1.0]))
    assert all(r.reference() is None for r in expand("noise", seeds=[0], envs=["Breakout"], reward_noise=[0.0]))

    ppo, hl = (dict(spec=reference[v].to_dict(), final_return=final)
               for v, final in (("ppo", 900.0), ("ppo_hl_gauss", 1.0)))
    hl["spec"]["algo_kwargs"] = {**hl["spec"]["algo_kwargs"], "vf_coef": 0.123}  # not the same settings
    for result in (ppo, hl):
        _write(tmp_path, result)
    summary = run.run_suite("noise_ppo", jobs=0, results_dir=tmp_path, seeds=[0], reward_noise=[0.0], max_runs=0,
                            progress=False)
    assert summary["reused"] == 1 and summary["done"] == 0
    copied = json.loads((tmp_path / noiseless[0].relpath).read_text())
    assert copied["final_return"] == 900.0 and copied["reused_from"] == reference["ppo"].relpath
    assert RunSpec.from_dict(copied["spec"]) == noiseless[0]
    assert not (tmp_path / noiseless[1].relpath).exists()


def _fake_result(suite, game, label, seed, final, steps=1000, eta=0.0):
    variant = label.split("@")[0]
    spec = dict(suite=suite, env_id=game, game=game, variant=variant, label=label, algo="x", seed=seed,
                total_steps=steps, reward_noise=eta, eval_every=steps // 2, eval_episodes=1,
                eval_max_episode_steps=None, algo_kwargs={"learning_rate": 1e-4})
    evals = [{"step": s, "mean": final * s / steps, "returns": [final * s / steps]} for s in (0, steps // 2, steps)]
    return {"spec": spec, "evals": evals, "final_return": final, "wall_time_s": 1.0, "steps_per_s": 100.0,
            "clip_fraction": None, "machine": {"cpu": "test", "cpu_count": 1}}


def _write(root: Path, result):
    spec = RunSpec.from_dict(result["spec"])
    path = root / spec.relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result))


def test_analysis_tables_and_plots(tmp_path: Path):
    rng = np.random.default_rng(0)
    for game, base in [("Breakout", 5.0), ("Asterix", 3.0), ("Freeway", 20.0)]:
        for seed in range(3):
            for label, gain in [("mse", 1.0), ("huber", 1.0), ("hl_gauss", 1.5)]:
                _write(tmp_path, _fake_result("minatar", game, label, seed, base * gain + rng.normal()))
        _write(tmp_path, _fake_result("minatar", game, "two_hot", 0, base))  # one seed: a point, no interval
    summary = analyze.analyze("minatar", tmp_path, reps=50)
    out = Path(summary["out_dir"])
    for name in ("summary.md", "summary.json", "final_returns.csv", "learning_curves.png", "aggregate.png"):
        assert (out / name).stat().st_size > 0
    assert set(summary["aggregate"]) == {"mse", "huber", "two_hot", "hl_gauss"}
    poi = summary["probability_of_improvement"]["hl_gauss>mse"]
    assert poi[0] > 0.8 and poi[1] <= poi[0] <= poi[2]
    assert summary["aggregate"]["hl_gauss"]["IQM"][0] > summary["aggregate"]["mse"]["IQM"][0]
    text = (out / "summary.md").read_text()
    assert "| Breakout |" in text and "P(HL-Gauss > MSE)" in text
    rows = {line.split(" |")[0]: line for line in text.splitlines() if line.startswith("| ")}
    # One seed per game has no spread to resample: a point estimate, never a zero-width interval.
    assert rows["| Two-Hot"].startswith("| Two-Hot | 1 x 3 |") and rows["| Two-Hot"].count("(1 run: no CI)") == 2
    assert "no CI" not in rows["| HL-Gauss"] and "[" in rows["| HL-Gauss"]
    assert "(1 run: no CI)" in rows["| P(Two-Hot > MSE)"] and "[" in rows["| P(HL-Gauss > MSE)"]
    assert len((out / "final_returns.csv").read_text().splitlines()) == 1 + 3 * 10
    # Several suites together: the learning-rate check shows up in its game's row only.
    for seed in range(2):
        _write(tmp_path, _fake_result("minatar_lr", "Breakout", "mse@clslr", seed, 9.0))
    both = analyze.analyze(["minatar", "minatar_lr"], tmp_path, reps=50)
    assert "mse@clslr" in both["per_game"]["Breakout"] and "mse@clslr" not in both["aggregate"]
    assert Path(both["out_dir"]).parts[-3] == "minatar+minatar_lr"


def test_analysis_with_one_run_per_variant_reports_no_aggregate(tmp_path: Path):
    """Two runs, one per variant, anchored at their own scores would read as 0 and 1: no aggregate until 2 seeds."""
    _write(tmp_path, _fake_result("ppo", "HalfCheetah-v5", "ppo", 0, 6901.0))
    _write(tmp_path, _fake_result("ppo", "HalfCheetah-v5", "ppo_hl_gauss", 0, 6909.0))
    summary = analyze.analyze("ppo", tmp_path, reps=50)
    assert "aggregate" not in summary and "Aggregate: not computed" in summary["markdown"]
    assert not (Path(summary["out_dir"]) / "aggregate.png").exists()
    assert summary["per_game"]["HalfCheetah-v5"]["ppo_hl_gauss"]["mean"] == pytest.approx(6909.0)
    _write(tmp_path, _fake_result("ppo", "HalfCheetah-v5", "ppo", 1, 6000.0))
    _write(tmp_path, _fake_result("ppo", "HalfCheetah-v5", "ppo_hl_gauss", 1, 7000.0))
    summary = analyze.analyze("ppo", tmp_path, reps=50)
    assert set(summary["aggregate"]) == {"ppo", "ppo_hl_gauss"} and "ppo_hl_gauss>ppo" in summary["probability_of_improvement"]


def test_analysis_is_reproducible_and_reports_the_ablation(tmp_path: Path):
    rng = np.random.default_rng(1)
    for game in ("Breakout", "Freeway"):
        for seed in range(3):
            for label, mean in [("mse", 3.0), ("hl_gauss", 5.0), ("categorical_mse", 4.0)]:
                _write(tmp_path, _fake_result("minatar", game, label, seed, mean + rng.normal()))
    np.random.seed(123)
    first = analyze.analyze("minatar", tmp_path, reps=100)
    np.random.seed(456)  # the bootstraps must not depend on the caller's global NumPy state
    second = analyze.analyze("minatar", tmp_path, reps=100)
    assert first["aggregate"] == second["aggregate"]
    assert first["probability_of_improvement"] == second["probability_of_improvement"]
    assert {"hl_gauss>categorical_mse", "categorical_mse>mse"} <= set(first["probability_of_improvement"])
    assert "P(HL-Gauss > Categorical + MSE)" in (Path(first["out_dir"]) / "summary.md").read_text()
    assert np.random.random() == np.random.RandomState(456).random()  # the caller's state is restored


def test_analysis_reward_noise(tmp_path: Path):
    for eta, factor in [(0.0, 1.0), (0.3, 0.8), (1.0, 0.5)]:
        for seed in range(2):
            for label, f in [("mse", factor), ("hl_gauss", 1.0)]:
                _write(tmp_path, _fake_result("noise", "Breakout", label, seed, 10.0 * f + seed, eta=eta))
    summary = analyze.analyze("noise", tmp_path, reps=50)
    assert (Path(summary["out_dir"]) / "noise.png").stat().st_size > 0
    rel = summary["noise"]["Breakout|mse"]
    assert rel[0.0][0] == pytest.approx(1.0) and rel[1.0][0] == pytest.approx(5.5 / 10.5)
    # One seed per eta (the 500k suite as it starts): a ratio with no interval, never "[x, x]".
    _write(tmp_path, _fake_result("noise", "Breakout", "mse", 0, 8.0, steps=2000))
    _write(tmp_path, _fake_result("noise", "Breakout", "mse", 0, 4.0, steps=2000, eta=1.0))
    one = analyze.analyze("noise", tmp_path, steps=2000, reps=50)
    assert one["noise"]["Breakout|mse"][1.0][0] == pytest.approx(0.5)
    row = next(line for line in one["markdown"].splitlines() if line.startswith("| Breakout | MSE |"))
    assert row == "| Breakout | MSE | 1.00 (n=1) | 0.50 (n=1) |"


def test_noise_table_cells_resample_independently():
    """A run added to one cell leaves every other cell's interval as it was, so a regenerated page changes
    only where results did."""
    table = {
        "Breakout|0": {"mse": {0: 6.0, 1: 7.0, 2: 5.0}, "hl_gauss": {0: 10.0, 1: 12.0, 2: 9.0}},
        # HL-Gauss first: with one generator for the whole table its new run would shift MSE's draws.
        "Breakout|1": {"hl_gauss": {0: 9.0, 1: 8.0}, "mse": {0: 5.0, 1: 4.0, 2: 5.5}},
    }
    before = analyze.noise_table(table, reps=300)
    table["Breakout|1"]["hl_gauss"][2] = 10.0
    after = analyze.noise_table(table, reps=300)
    assert after[("Breakout", "mse")] == before[("Breakout", "mse")]
    assert after[("Breakout", "hl_gauss")][1.0] != before[("Breakout", "hl_gauss")][1.0]


def test_noise_ratio_compares_the_same_seeds():
    """A level with more seeds than eta = 0 (or fewer) is divided by the noiseless runs of the same seeds only."""
    table = {"Hopper|0": {"ppo": {0: 1000.0, 1: 1000.0, 2: 100.0}}, "Hopper|1": {"ppo": {0: 900.0, 1: 800.0}}}
    ratio, lo, hi, n = analyze.noise_table(table, reps=300)[("Hopper", "ppo")][1.0]
    assert ratio == pytest.approx(0.85) and n == 2 and lo <= ratio <= hi
    table["Hopper|1"]["ppo"] = {5: 900.0}  # no seed in common: no ratio
    assert 1.0 not in analyze.noise_table(table, reps=300)[("Hopper", "ppo")]


def test_bootstrap_ci():
    mean, lo, hi = analyze.bootstrap_mean_ci([1.0, 2.0, 3.0, 4.0], reps=200)
    assert mean == 2.5 and lo < mean < hi
    assert analyze.bootstrap_mean_ci([3.0]) == (3.0, 3.0, 3.0)


def _write_capacity_runs(tmp_path: Path, finals: dict[tuple[str, str], float], spread: float = 1.0) -> None:
    """Seeds 0-2 of each (loss, width suffix) cell on two games, final return ``final + spread * seed``; the x1
    cells go where Suite A's runs are, the x4 cells where Suite S's are."""
    for game in ("Breakout", "Freeway"):
        for (loss, suffix), final in finals.items():
            suite = "capacity" if suffix else "minatar"
            for seed in (0, 1, 2):
                path = tmp_path / suite / "500k" / game / f"{loss}{suffix}" / f"seed{seed}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(_fake_result(suite, game, loss + suffix, seed, final + spread * seed, steps=500_000)))


def test_capacity_analysis_reads_suite_a_and_suite_s(tmp_path: Path):
    """Suite S's x1 cells are Suite A's runs; the difference HL-Gauss - MSE is reported per width with CIs."""
    from benchmarks import capacity

    _write_capacity_runs(tmp_path, {("mse", ""): 10.0, ("hl_gauss", ""): 12.0, ("mse", "@x4"): 11.0, ("hl_gauss", "@x4"): 20.0})
    summary = capacity.analyze_capacity(tmp_path, 500_000, reps=200)
    assert summary["games"] == ["Breakout", "Freeway"]
    (d1, lo1, hi1), (d4, lo4, hi4) = summary["difference"]["x1"], summary["difference"]["x4"]
    assert 0 < d1 < d4 and lo1 <= d1 <= hi1 and lo4 <= d4 <= hi4
    assert summary["change_x1_to_x4"][0] == pytest.approx(d4 - d1)
    params = summary["parameters"]
    if params:  # MinAtar installed: the x4 network is at least 4x larger for both losses
        assert all(params[loss]["x4"] >= 4 * params[loss]["x1"] for loss in ("mse", "hl_gauss"))
    out = tmp_path / "capacity" / "500k" / "summary"
    assert (out / "capacity.png").stat().st_size > 0 and "IQM(HL-Gauss) - IQM(MSE)" in (out / "capacity.md").read_text()

    assert "The rule (above) is read" not in (out / "capacity.md").read_text()  # 3 seeds everywhere: read
    # HL-Gauss's lead grows from +2 to +9 returns on tight seeds: the change's CI lies above 0, the claim holds.
    assert summary["change_x1_to_x4"][1] > 0 and summary["reading"]["verdict"] == "holds"
    # MSE moves by 1 return against a seed spread of 2 (CI contains 0); HL-Gauss by 8 (CI above 0).
    reading, gains = summary["reading"], summary["gain_x1_to_x4"]
    assert reading["mse_from_x1_to_x4"] == "does not change measurably" and gains["mse"][1] <= 0 <= gains["mse"][2]
    assert reading["hl_gauss_from_x1_to_x4"] == "improves" and gains["hl_gauss"][1] > 0
    assert "the claim holds.**" in (out / "capacity.md").read_text()
    from benchmarks import evidence

    sentence = " ".join(evidence._capacity(evidence.Sources(tmp_path)).split())
    assert "grows with capacity **holds**, by the rule" in sentence and "Widening did not measurably change MSE" in sentence
    assert "improved HL-Gauss" in sentence
    assert f"{summary['change_x1_to_x4'][0]:+.2f}" in sentence

    # Two seeds in the x4 cells: CIs are given, but the rule still waits for the third seed.
    for path in (tmp_path / "capacity").rglob("seed2.json"):
        path.unlink()
    summary = capacity.analyze_capacity(tmp_path, 500_000, reps=200)
    assert summary["change_x1_to_x4"][1] is not None
    assert "read once every cell has 3 seeds" in (out / "capacity.md").read_text()
    assert summary["reading"] is None and evidence._capacity(evidence.Sources(tmp_path)) is None  # no README bullet yet

    # One seed in the x4 cells: its bootstrap would be a point, so no CI is reported for x4 or the change.
    for path in (tmp_path / "capacity").rglob("seed[12].json"):
        path.unlink()
    summary = capacity.analyze_capacity(tmp_path, 500_000, reps=200)
    assert summary["difference"]["x4"][1] is None and summary["change_x1_to_x4"][1:] == (None, None)
    assert summary["difference"]["x1"][1] is not None and "no CI" in (out / "capacity.md").read_text()


@pytest.mark.parametrize(
    "x4_finals, verdict",
    [((11.0, 4.0), "contradicted"),  # HL-Gauss falls behind MSE at x4: the change's CI lies below 0
     ((11.0, 14.0), "not resolved at this scale")],  # the same +2 lead at both widths, noisy seeds: CI contains 0
)
def test_capacity_rule_reads_each_outcome(tmp_path: Path, x4_finals, verdict):
    """Suite S's rule, fixed before the runs, on the change of HL-Gauss - MSE from x1 to x4 (docs/benchmarks.md)."""
    from benchmarks import capacity, evidence

    finals = {("mse", ""): 10.0, ("hl_gauss", ""): 12.0, ("mse", "@x4"): x4_finals[0], ("hl_gauss", "@x4"): x4_finals[1]}
    _write_capacity_runs(tmp_path, finals, spread=0.5 if verdict == "contradicted" else 6.0)
    summary = capacity.analyze_capacity(tmp_path, 500_000, reps=300)
    lo, hi = summary["change_x1_to_x4"][1:]
    assert summary["reading"]["verdict"] == verdict == capacity.rule_verdict((0.0, lo, hi))
    assert (hi < 0) if verdict == "contradicted" else (lo <= 0 <= hi)
    text = " ".join(evidence._capacity(evidence.Sources(tmp_path)).split())
    assert f"grows with capacity is **{verdict}**" in text


def test_defaults_check_applies_its_rule_at_three_seeds(tmp_path: Path):
    """The defaults' IQM is read against Suite A's HL-Gauss CI, on Suite A's normalisation, once 3 seeds are in."""
    from benchmarks import defaults_check
    from benchmarks.suites import MINATAR_GAMES, MINATAR_RANDOM_SCORES

    for game in MINATAR_GAMES:
        _write(tmp_path, _fake_result("minatar", game, "mse", 0, 100.0, steps=500_000))  # Suite A's best: the top anchor
        for seed in range(4):
            _write(tmp_path, _fake_result("minatar", game, "hl_gauss", seed, 50.0 + seed, steps=500_000))

    def defaults(seeds, final):
        for game in MINATAR_GAMES:
            for seed in seeds:
                _write(tmp_path, _fake_result("minatar_defaults", game, "hl_gauss@defaults", seed, final + seed, steps=500_000))
        return defaults_check.analyze_defaults(tmp_path, 500_000, reps=200)

    from benchmarks import evidence

    summary = defaults([0, 1], 51.0)
    assert summary["runs"] == 10 and not summary["complete"] and summary["verdict"].startswith("No reading yet")
    assert evidence._ev_defaults(evidence.Sources(tmp_path)) is None  # README gets no bullet before the rule applies
    low = MINATAR_RANDOM_SCORES["Asterix"]
    # Suite A's normalisation: 100 (MSE) is 1.0 whatever the defaults score.
    assert summary["iqm"]["hl_gauss"][0] == pytest.approx((51.5 - low) / (100.0 - low), abs=0.02)
    summary = defaults([2], 51.0)
    assert summary["complete"] and "do as well" in summary["verdict"] and "inside" in summary["verdict"]
    assert summary["difference"][0] == pytest.approx(summary["iqm"]["hl_gauss@defaults"][0] - summary["iqm"]["hl_gauss"][0])
    summary = defaults([0, 1, 2], 20.0)
    assert "do worse" in summary["verdict"] and summary["difference"][2] < 0
    bullet = evidence._ev_defaults(evidence.Sources(tmp_path))
    assert "three seeds x five games" in bullet and "worse, by the rule" in bullet
    summary = defaults([0, 1, 2], 150.0)  # above Suite A's best: normalised above 1, not renormalised
    assert "above" in summary["verdict"] and summary["iqm"]["hl_gauss@defaults"][0] > 1.0
    out = tmp_path / "minatar_defaults" / "500k" / "summary"
    assert (out / "defaults.png").stat().st_size > 0 and "IQM" in (out / "summary.md").read_text()


def test_suite_b_500k_rule(tmp_path: Path):
    """Suite B at 500k is read per game by the rule in docs/benchmarks.md, and only at 3 seeds of both losses."""
    from benchmarks import evidence

    def runs(seeds, noisy_hl, noisy_mse):
        for seed in seeds:
            for label, noisy in (("hl_gauss", noisy_hl), ("mse", noisy_mse)):
                _write(tmp_path, _fake_result("noise", "Breakout", label, seed, 10.0 + seed, steps=500_000))
                _write(tmp_path, _fake_result("noise", "Breakout", label, seed, noisy + seed, steps=500_000, eta=1.0))
        analyze.analyze("noise", tmp_path, steps=500_000, reps=200)
        return evidence.Sources(tmp_path)

    src = runs([0], 9.0, 5.0)
    text = evidence.noise_500k(src)
    assert "No reading yet" in text and "0.90 (1 run)" in text and evidence._ev_noise_500k(src) is None
    src = runs([1, 2], 9.0, 5.0)  # HL-Gauss keeps ~0.9, MSE ~0.5: CIs apart
    assert evidence._noise_500k(src)["Breakout"]["verdict"] == "shown" and "**shown**" in evidence.noise_500k(src)
    assert "effect is shown" in evidence._ev_noise_500k(src)
    src = runs([0, 1, 2], 5.0, 9.0)
    assert evidence._noise_500k(src)["Breakout"]["verdict"] == "reversed"
    src = runs([0, 1, 2], 8.0, 8.0)
    assert evidence._noise_500k(src)["Breakout"]["verdict"] == "not shown"
    assert not re.search(r"\[(-?\d[\d.]*), \1\]", evidence.noise_500k(src))


def test_suite_d_300k_rule(tmp_path: Path):
    """Suite D at 300k is read per task by the rule in docs/benchmarks.md (ahead / level / behind against the
    30k reading), and only at 3 seeds of both agents."""
    from benchmarks import evidence

    for seed in range(3):  # at 30k HLGaussSAC is ahead on HalfCheetah, level on Hopper
        for game, hl, sac in (("HalfCheetah-v5", 1500.0, 600.0), ("Hopper-v5", 380.0, 380.0)):
            _write(tmp_path, _fake_result("continuous", game, "sac_hl_gauss", seed, hl + 10 * seed, steps=30_000))
            _write(tmp_path, _fake_result("continuous", game, "sac", seed, sac + 10 * (2 - seed), steps=30_000))
    analyze.analyze("continuous", tmp_path, steps=30_000, reps=200)

    def runs(seeds, cheetah_hl, cheetah_sac):
        for seed in seeds:
            for game, hl, sac in (("HalfCheetah-v5", cheetah_hl, cheetah_sac), ("Hopper-v5", 2000.0, 2000.0)):
                _write(tmp_path, _fake_result("continuous", game, "sac_hl_gauss", seed, hl + 10 * seed, steps=300_000))
                _write(tmp_path, _fake_result("continuous", game, "sac", seed, sac + 10 * (2 - seed), steps=300_000))
        analyze.analyze("continuous", tmp_path, steps=300_000, reps=200)
        return evidence.Sources(tmp_path)

    def reading(src):  # the block's text, unwrapped
        return " ".join(evidence.suite_d_300k(src).split())

    src = runs([0], 8000.0, 6000.0)
    text = reading(src)
    assert "No reading yet" in text and "8000 (1 run)" in text and "At 30k HLGaussSAC was ahead" in text
    assert evidence._ev_suite_d_300k(src) is None
    # One agent a seed ahead: each agent's own count, and its CI over its own seeds.
    _write(tmp_path, _fake_result("continuous", "HalfCheetah-v5", "sac_hl_gauss", 1, 8010.0, steps=300_000))
    analyze.analyze("continuous", tmp_path, steps=300_000, reps=200)
    text = reading(evidence.Sources(tmp_path))
    assert "(2 seeds of HLGaussSAC, 1 of SAC)" in text and "HLGaussSAC 8005 [8000, 8010] vs SAC 6020 (1 run)" in text
    src = runs([1, 2], 8000.0, 6000.0)
    read = evidence._suite_d_300k(src)
    assert read["HalfCheetah-v5"]["verdict"] == "ahead" and read["Hopper-v5"]["verdict"] == "level"
    text = reading(src)
    assert "30k lead **holds**" in text and "(it was level at 30k)" in text
    assert "its 30k lead holds" in " ".join(evidence._ev_suite_d_300k(src).split())
    src = runs([0, 1, 2], 6000.0, 6000.0)
    assert "30k lead **is gone**" in reading(src)
    src = runs([0, 1, 2], 4000.0, 6000.0)
    assert "30k lead **is reversed**" in reading(src)
    assert not re.search(r"\[(-?\d[\d.]*), \1\]", evidence.suite_d_300k(src))


def test_suite_e_rule(tmp_path: Path):
    """Suite E is read per group on P(HLGaussPPO > PPO) (better / as well / worse), only at 3 seeds of both
    agents on every task, and the reward-noise check on the ratio of means (docs/benchmarks.md)."""
    from benchmarks import evidence

    tasks = ("HalfCheetah-v5", "Hopper-v5", "Walker2d-v5")

    def runs(seeds, hl, ppo, skip=()):
        for seed in seeds:
            for i, game in enumerate(tasks):
                if (game, seed) in skip:
                    continue
                _write(tmp_path, _fake_result("ppo", game, "ppo_hl_gauss", seed, hl * (i + 1) + 10 * seed, steps=1_000_000))
                _write(tmp_path, _fake_result("ppo", game, "ppo", seed, ppo * (i + 1) + 10 * (2 - seed), steps=1_000_000))
        analyze.analyze("ppo", tmp_path, steps=1_000_000, reps=200)
        return evidence.Sources(tmp_path)

    def reading(src):  # the block's text, unwrapped
        return " ".join(evidence.suite_e(src).split())

    with pytest.raises(evidence.MissingResults):
        evidence.suite_e(evidence.Sources(tmp_path))
    src = runs([0, 1, 2], 3000.0, 1000.0, skip={("Walker2d-v5", 2)})
    text = reading(src)
    assert "HalfCheetah-v5 3, Hopper-v5 3 and Walker2d-v5 2" in text and "no reading yet" in text
    assert "**MinAtar**: not run yet" in text and "**Reward noise** (Hopper-v5, eta = 1): not run yet" in text
    assert evidence._ev_suite_e(src) is None
    src = runs([0, 1, 2], 3000.0, 1000.0)
    assert evidence._suite_e(src)["MuJoCo"]["verdict"] == "better"
    assert "HLGaussPPO does **better** than SB3's PPO" in reading(src)
    assert "on MuJoCo (1M steps, 3 seeds x three tasks) HLGaussPPO did better than PPO" in " ".join(evidence._ev_suite_e(src).split())
    src = runs([0, 1, 2], 1000.0, 3000.0)
    assert evidence._suite_e(src)["MuJoCo"]["verdict"] == "worse"
    src = runs([0, 1, 2], 2000.0, 2000.0)
    assert "does **as well** as SB3's PPO (not separated" in reading(src)

    def noise(seeds, hl_kept, ppo_kept):
        for seed in seeds:
            for label, kept in (("ppo_hl_gauss", hl_kept), ("ppo", ppo_kept)):
                for eta, final in ((0.0, 1000.0 + 20 * seed), (1.0, (1000.0 + 20 * seed) * kept)):
                    _write(tmp_path, _fake_result("noise_ppo", "Hopper-v5", label, seed, final, steps=1_000_000, eta=eta))
        analyze.analyze("noise_ppo", tmp_path, steps=1_000_000, reps=200)
        return evidence.Sources(tmp_path)

    text = reading(noise([0], 0.9, 0.5))
    assert "(Hopper-v5, 1 seed at eta = 0 and 1): HLGaussPPO kept 0.90 (1 run) of its noiseless" in text
    assert "No reading yet" in text
    assert "noise claim, for a lambda-return critic, **holds**" in reading(noise([1, 2], 0.9, 0.5))
    readme = " ".join(evidence._ev_suite_e(evidence.Sources(tmp_path)).split())
    assert "with reward noise eta = 1 on Hopper-v5 (3 seeds) HLGaussPPO kept 0.90" in readme
    assert readme.endswith("for a lambda-return critic, **holds**, by the rule fixed before the runs.")
    assert "critic, is **contradicted**" in reading(noise([0, 1, 2], 0.5, 0.9))
    assert not re.search(r"\[(-?\d[\d.]*), \1\]", evidence.suite_e(evidence.Sources(tmp_path)))


def test_suite_e_runs_record(tmp_path: Path):
    """docs/ppo.md's record of Suite E: each task's final returns per seed of both agents, the means and
    on how many seeds HLGaussPPO ended ahead, and the largest clipped-target fraction."""
    from benchmarks import evidence

    with pytest.raises(evidence.MissingResults):
        evidence.suite_e_runs(evidence.Sources(tmp_path))
    for seed, (ppo, hl) in enumerate([(1020.0, 3000.0), (1010.0, 900.0), (1000.0, 3020.0)]):
        _write(tmp_path, _fake_result("ppo", "Hopper-v5", "ppo", seed, ppo, steps=1_000_000))
        result = _fake_result("ppo", "Hopper-v5", "ppo_hl_gauss", seed, hl, steps=1_000_000)
        result["clip_fraction"] = 0.002 * seed
        _write(tmp_path, result)
    _write(tmp_path, _fake_result("ppo", "Walker2d-v5", "ppo", 0, 500.0, steps=1_000_000))  # one agent: no pair
    analyze.analyze("ppo", tmp_path, steps=1_000_000, reps=200)
    text = " ".join(evidence.suite_e_runs(evidence.Sources(tmp_path)).split())
    assert ("**Hopper-v5** (MuJoCo, 1M steps), final return PPO / HLGaussPPO: seed 0 1020 / 3000; seed 1 1010 / "
            "900; seed 2 1000 / 3020; means 1010 / 2307, HLGaussPPO ahead on 2 of 3 seeds.") in text
    assert "Walker2d-v5" not in text
    assert "at most 0.400% of a run's value targets" in text


def test_progress_counts_the_result_files(tmp_path: Path):
    """docs/benchmarks.md's "What remains": runs done of planned per running suite, counted from the result
    files, what ran per task (and noise level), the wall minutes, and a command that resumes exactly that suite."""
    from benchmarks import evidence
    from benchmarks.suites import expand

    with pytest.raises(evidence.MissingResults):
        evidence.progress(evidence.Sources(tmp_path))

    def write(suite, game, label, seed, steps, minutes, eta=0.0):
        result = _fake_result(suite, game, label, seed, 1.0, steps=steps, eta=eta)
        result["wall_time_s"] = 60.0 * minutes
        _write(tmp_path, result)

    for seed in (0, 1, 2):
        for label in ("ppo", "ppo_hl_gauss"):
            write("ppo", "Hopper-v5", label, seed, 1_000_000, 20 + seed)
    write("ppo", "Walker2d-v5", "ppo", 0, 1_000_000, 31)
    write("ppo", "Breakout", "ppo", 0, 100_000, 5)  # another budget than the suite's: not counted
    for eta, labels in ((0.0, ("mse", "hl_gauss")), (1.0, ("mse",))):
        for label in labels:
            write("noise", "Breakout", label, 0, 500_000, 10, eta=eta)
    for label in ("ppo", "ppo_hl_gauss"):  # copies of Suite E's runs (eta 0) have no wall time of their own
        write("noise_ppo", "Hopper-v5", label, 0, 1_000_000, 999, eta=0.0)
        copy = json.loads((tmp_path / expand("noise_ppo", seeds=[0], variants=[label])[0].relpath).read_text())
        _write(tmp_path, {**copy, "reused_from": "ppo/1M/Hopper-v5/ppo/seed0.json"})
    write("noise_ppo", "Hopper-v5", "ppo", 0, 1_000_000, 25, eta=1.0)
    for game in ("Freeway", "Seaquest"):  # every run of suite c51_init
        for seed in (0, 1):
            write("c51_init", game, "c51@peaked", seed, 500_000, 14 + seed)
    text = " ".join(evidence.progress(evidence.Sources(tmp_path)).split())
    assert ("**Suite E, MuJoCo** (1M steps): 7 of 30 runs; Hopper-v5: seeds 0-2 of both; HalfCheetah-v5: not "
            "started; Walker2d-v5: seed 0 of PPO. Wall time per finished run: 20-31 minutes.") in text
    assert "**Suite E, MinAtar** (2M steps): 0 of 20 runs. Resume: `python -m benchmarks.run --suite ppo --envs Breakout SpaceInvaders --jobs 2`" in text
    assert ("**Suite B, reward noise** (500k steps): 3 of 48 runs; Breakout (eta 0): seed 0 of both; Breakout (eta 0.1 "
            "and 0.3) and SpaceInvaders (eta 0, 0.1, 0.3 and 1): not started; Breakout (eta 1): seed 0 of MSE.") in text
    assert "**Suite D, SAC on MuJoCo** (300k steps): 0 of 12 runs" in text
    assert ("**Suite E, reward noise** (1M steps): 3 of 20 runs (2 of them copies of the same runs of suite `ppo`); "
            "Hopper-v5 (eta 0): seed 0 of both; Hopper-v5 (eta 1): seed 0 of PPO. Wall time per finished run: 25 "
            "minutes.") in text
    # A finished suite gives no command (there is nothing left to resume).
    assert ("**C51's initial distribution** (500k steps): 4 of 4 runs; Freeway and Seaquest: seeds 0 and 1 of "
            "each. Wall time per finished run: 14-15 minutes. All done.") in text
    # Each bullet's command resumes exactly the runs it counts.
    for (_, suite, budget), line in zip(evidence.RUNNING, evidence.progress(evidence.Sources(tmp_path)).split("\n- ")):
        if line.endswith("All done."):
            continue
        command = re.search(r"`python -m benchmarks.run --suite (\S+)(?: --envs ([^`]+?))? --jobs 2`", " ".join(line.split()))
        assert command is not None and command.group(1) == suite, line
        envs = command.group(2).split() if command.group(2) else None
        assert [r.relpath for r in expand(suite, envs=envs)] == [r.relpath for r in expand(suite) if r.total_steps == budget]

def test_generated_prose_matches_the_committed_results(tmp_path: Path):
    """README's evidence list and the docs' headline are what benchmarks/evidence.py writes from the results.

    A hand edit inside a generated block fails here: change the results (or the templates) and run
    ``python -m benchmarks.update_docs``.
    """
    from benchmarks import evidence

    root = Path(__file__).resolve().parents[1]
    blocks = evidence.generate()
    for name, (page, _) in evidence.BLOCKS.items():
        assert not isinstance(blocks[name], Exception), blocks[name]
        current = evidence.read_block((root / page).read_text(), name)
        assert current is not None, f"no <!-- generated:{name} --> block in {page}"
        assert current == blocks[name] + "\n", f"{page}'s {name} block differs from the results: run python -m benchmarks.update_docs"
    assert "python -m benchmarks.update_docs" in blocks["evidence"].splitlines()[0]
    # A variant with one run has no interval: its "CI" would be the point twice, which reads as certainty.
    for name, text in blocks.items():
        assert not re.search(r"\[(-?\d[\d.]*), \1\]", text), f"{name}: zero-width interval in {text!r}"
    # ... nor in the generated tables of the benchmarks page.
    tables = re.findall(r"<!-- generated:(\w+) -->\n(.*?)<!-- /generated:\1 -->", (root / "docs" / "benchmarks.md").read_text(), re.DOTALL)
    assert len(tables) >= 8
    for name, text in tables:
        assert not re.search(r"\[(-?\d[\d.]*), \1\]", text), f"docs/benchmarks.md {name}: zero-width interval"

    # A missing result folder: its bullets are left out; a block without its main summary raises.
    for sub in evidence.SOURCES.values():
        top = sub.split("/")[0]
        if top not in ("noise", "minatar") and not (tmp_path / top).exists():
            (tmp_path / top).symlink_to(run.RESULTS_DIR / top)
    partial = evidence.generate(tmp_path)
    assert isinstance(partial["headline_500k"], evidence.MissingResults)
    assert "Reward noise" not in partial["evidence"] and "MinAtar, 500k" not in partial["evidence"]
    assert "MinAtar, 100k" in partial["evidence"] and "Suite B" not in partial["headline_100k"]
    assert "Suite C" in partial["headline_100k"]
    empty = evidence.generate(tmp_path / "nothing")
    assert all(isinstance(v, evidence.MissingResults) for v in empty.values())
    text = "a\n<!-- generated:evidence -->\nold\n<!-- /generated:evidence -->\nb\n"
    assert evidence.replace_block(text, "evidence", "new") == text.replace("old", "new")
    with pytest.raises(KeyError):
        evidence.replace_block("no block", "evidence", "new")


def test_evidence_rules():
    from benchmarks.evidence import compare, separates

    assert compare((10, 9, 11), (5, 4, 6)) == "ahead" and compare((5, 4, 6), (10, 9, 11)) == "behind"
    assert compare((10, 2, 18), (5, 4, 6)) == "slightly ahead"  # only one estimate outside the other's CI
    assert compare((5.5, 4, 7), (5, 4, 6)) == "level"
    assert separates((0.7, 0.55, 0.8)) and not separates((0.57, 0.45, 0.71))


def test_start_from_target_distribution():
    """Suite c51_init's start: every action's distribution is the target distribution of the return, in both nets."""
    import torch as th

    from benchmarks.algos import start_from_target_distribution
    from sb3_hlgauss import HLGaussDQN
    from sb3_hlgauss.common.on_policy import CategoricalValueHead

    model = HLGaussDQN("MlpPolicy", "CartPole-v1", loss="c51", v_min=-105.0, v_max=105.0, num_bins=420,
                       value_transform="identity", learning_starts=16, batch_size=8, train_freq=4,
                       policy_kwargs=dict(net_arch=[8]), seed=0, device="cpu")
    obs = th.as_tensor(np.stack([model.env.observation_space.sample() for _ in range(5)]))
    uniform = th.softmax(model.q_net(obs), dim=-1)
    assert th.allclose(uniform, th.full_like(uniform, 1 / 420))  # the zero-initialised head's start
    start_from_target_distribution(model, 2.0)
    expected = model.value_loss.to_probs(th.tensor([2.0], dtype=th.float64))[0]
    expected = expected.clamp_min(CategoricalValueHead.INITIAL_PROBS_FLOOR)
    expected = (expected / expected.sum()).float()
    for net in (model.q_net, model.q_net_target):
        probs = th.softmax(net(obs), dim=-1)
        assert probs.shape == (5, 2, 420) and th.allclose(probs, expected.expand_as(probs), atol=1e-6)
        assert th.allclose(net.q_values(obs), th.full((5, 2), 2.0), atol=1e-4)
    assert int((expected > 0.01).sum()) == 2  # two atoms (two-hot of 2.0), the rest at the floor
    model.learn(64)  # trains from there
    assert np.isfinite(model.logger.name_to_value["train/loss"])


def test_runner_applies_the_initial_value(tmp_path: Path, monkeypatch):
    """A suite's ``initial_value`` reaches start_from_target_distribution, not the algorithm's constructor."""
    import dataclasses

    from benchmarks import algos

    started = []
    monkeypatch.setattr(algos, "start_from_target_distribution", lambda model, value: started.append(value))
    spec = expand("tiny", variants=["hl_gauss"])[0]
    spec = dataclasses.replace(spec, algo_kwargs={**spec.algo_kwargs, "initial_value": 1.5})
    result = run.execute(spec, tmp_path / spec.relpath)
    assert started == [1.5] and result["spec"]["algo_kwargs"]["initial_value"] == 1.5


def test_c51_checks_apply_their_rules(tmp_path: Path):
    """The two C51 checks (docs/benchmarks.md "C51's support") read their runs against Suite A's range."""
    from benchmarks import c51_atoms

    for game, (low, high) in {"Freeway": (51.5, 59.7), "Seaquest": (0.7, 3.0)}.items():
        for label, final in (("mse", low), ("hl_gauss", high), ("two_hot", (low + high) / 2), ("c51", 0.0)):
            _write(tmp_path, _fake_result("minatar", game, label, 0, final, steps=500_000))
    table = c51_atoms.collect(tmp_path)
    assert c51_atoms.verdict_initial(table).startswith("Not all runs are in yet")
    assert "Freeway: none" in c51_atoms.verdict_initial(table)

    def peaked(finals):
        for (game, seed), final in finals.items():
            _write(tmp_path, _fake_result("c51_init", game, "c51@peaked", seed, final, steps=500_000))
        return c51_atoms.verdict_initial(c51_atoms.collect(tmp_path))

    assert "Seaquest: 0" in peaked({("Freeway", 0): 55.0, ("Seaquest", 0): 1.0})
    assert peaked({("Freeway", 1): 52.0, ("Seaquest", 1): 0.7}).startswith("**The uniform start held C51 back")
    assert peaked({("Seaquest", 1): 0.4}).startswith("**Not resolved")  # one seed of one game below
    verdict = peaked({("Freeway", 0): 10.0, ("Freeway", 1): 29.9, ("Seaquest", 0): 0.0, ("Seaquest", 1): 0.4})
    assert verdict.startswith("**Not the initial distribution")
    text = c51_atoms.markdown(c51_atoms.collect(tmp_path))
    assert "| Freeway | 0.0 | 55.6 | - | - | 10.0, 29.9 | 51.5 | 59.7 |" in text and verdict in text


def test_c51_unsteady_reading_needs_every_seed_to_swing(tmp_path: Path):
    """The 500k headline calls C51 unsteady on a game only if every seed's second-half evaluations swing."""
    from benchmarks import evidence
    from benchmarks.suites import MINATAR_GAMES

    def c51(seed, second_half):
        result = _fake_result("minatar", "Freeway", "c51", seed, second_half[-1], steps=500_000)
        steps = (250_000, 375_000, 500_000)
        result["evals"] = [{"step": s, "mean": m, "returns": [m]} for s, m in zip(steps, second_half)]
        _write(tmp_path, result)
        analyze.analyze("minatar", tmp_path, steps=500_000, reps=50)
        src = evidence.Sources(tmp_path)
        return evidence._c51_500k(src, evidence.Summary(src["minatar_500k"]))

    for game in MINATAR_GAMES:
        for label in ("mse", "hl_gauss"):
            _write(tmp_path, _fake_result("minatar", game, label, 0, 50.0, steps=500_000))
        _write(tmp_path, _fake_result("minatar", game, "c51", 0, 10.0, steps=500_000))  # steady: evaluations 5, 10
    assert "swing between 0 and 27" in c51(0, [0.0, 27.0, 17.0])
    assert "in each of its two seeds, evaluations swing between 0 and 27" in c51(1, [5.0, 20.0, 11.0])
    assert "steadily" not in c51(1, [18.0, 20.0, 19.0])  # one steady seed: no claim

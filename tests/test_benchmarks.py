"""Fast tests of the benchmark runner and analysis (tiny budgets; the suites themselves are not tests)."""

from __future__ import annotations

import json
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
    # The critic's state at the end of training, from the model's last logs (as the panel records it).
    critic = result["critic"]  # the tiny suite's support is hand-set: no value scale
    assert "value_scale" not in critic and np.isfinite(critic["train/loss"]) and np.isfinite(critic["train/q_mean"])
    assert critic["n_clipped_targets"] == round(result["clip_fraction"] * result["n_updates"] * 32)
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


def test_analysis_normalises_with_the_anchors_not_the_runs(tmp_path: Path):
    """A run's normalised score is (R - R_random) / (R_reference - R_random) with the committed anchors, whatever
    other runs are analysed with it; a task without anchors gets no IQM aggregate but still its verdicts."""
    from benchmarks.anchors import normalisation

    for seed, (mse, hl) in enumerate([(5.0, 6.0), (6.0, 7.0), (7.0, 8.0)]):
        for game in ("Breakout", "Asterix"):
            _write(tmp_path, _fake_result("minatar", game, "mse", seed, mse))
            _write(tmp_path, _fake_result("minatar", game, "hl_gauss", seed, hl))
    anchors, missing = normalisation(["Breakout", "Asterix"])
    assert not missing and anchors["Breakout"][1] == pytest.approx(7.23)  # the named reference, not a run
    first = analyze.analyze("minatar", tmp_path, reps=50)
    assert first["normalisation"] == {g: anchors[g] for g in ("Asterix", "Breakout")}
    _write(tmp_path, _fake_result("minatar", "Breakout", "huber", 0, 100.0))  # a far better run moves no anchor
    assert analyze.analyze("minatar", tmp_path, reps=50)["normalisation"] == first["normalisation"]
    verdict = first["verdicts"]["hl_gauss>mse"]
    assert verdict["tasks"]["Breakout"]["label"] == "too few seeds to tell"  # 3 vs 3: p >= 0.1 whatever the data
    assert verdict["aggregate"]["n_tasks"] == 2 and "## Verdicts" in first["markdown"]

    _write(tmp_path, _fake_result("ppo", "MyEnv-v0", "ppo", 0, 6901.0))
    _write(tmp_path, _fake_result("ppo", "MyEnv-v0", "ppo_hl_gauss", 0, 6909.0))
    summary = analyze.analyze("ppo", tmp_path, reps=50)
    assert "aggregate" not in summary and "no normalisation anchors for MyEnv-v0" in summary["markdown"]
    assert not (Path(summary["out_dir"]) / "aggregate.png").exists()
    assert summary["verdicts"]["ppo_hl_gauss>ppo"]["tasks"]["MyEnv-v0"]["label"] == "too few seeds to tell"


def test_comparison_pairs():
    """Each loss against its baselines with the same tag, and each tagged variant against its untagged self."""
    pairs = analyze.comparison_pairs(["mse", "hl_gauss", "mse@x4", "hl_gauss@x4", "huber", "c51@peaked", "c51"])
    assert ("hl_gauss", "mse") in pairs and ("hl_gauss@x4", "mse@x4") in pairs and ("hl_gauss@x4", "mse") not in pairs
    assert {("mse@x4", "mse"), ("hl_gauss@x4", "hl_gauss"), ("c51@peaked", "c51"), ("c51", "huber")} <= set(pairs)


def test_a_suite_declares_comparisons_across_tags_and_suites(tmp_path: Path):
    """A suite's ``compare`` key adds (ours, baseline) pairs the tag rule does not make (a new default against
    another suite's old default, or against an untagged baseline); they get verdicts when both have runs, and a
    malformed key is an error naming it."""
    from benchmarks.suites import declared_comparisons, load_suite

    assert ("hl_gauss@default050", "hl_gauss@defaults") in declared_comparisons("minatar_defaults_050")
    assert declared_comparisons("continuous_defaults_050") == [("sac_hl_gauss@default050", "sac")]
    pairs = analyze.comparison_pairs(["hl_gauss@default050", "hl_gauss@defaults", "huber"],
                                     [("hl_gauss@default050", "hl_gauss@defaults"), ("hl_gauss@default050", "mse")])
    assert ("hl_gauss@default050", "hl_gauss@defaults") in pairs and ("hl_gauss@default050", "mse") not in pairs

    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n  - {envs: [Breakout], variants: [mse], seeds: [0]}\ncompare: [[mse]]\n")
    with pytest.raises(ValueError, match="'compare'"):
        load_suite(bad)

    for game, shift in (("Breakout", 0.0), ("Asterix", 1.0)):
        for seed in range(5):
            _write(tmp_path, _fake_result("minatar_defaults", game, "hl_gauss@defaults", seed, 5.0 + shift + seed))
            _write(tmp_path, _fake_result("minatar_defaults_050", game, "hl_gauss@default050", seed, 50.0 + seed))
    summary = analyze.analyze(["minatar_defaults_050", "minatar_defaults"], tmp_path, reps=50)
    verdict = summary["verdicts"]["hl_gauss@default050>hl_gauss@defaults"]
    assert {verdict["tasks"][g]["label"] for g in ("Breakout", "Asterix")} == {"ahead"}  # 5 vs 5, every run above
    assert "HL-Gauss (0.5.0 default) vs HL-Gauss (0.4.0 default)" in summary["markdown"]


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


def test_anchors_measure_the_random_policy(tmp_path: Path):
    """``python -m benchmarks.anchors`` on CartPole with a few episodes: a mean, its provenance, a merge."""
    from benchmarks import anchors

    out = tmp_path / "random.json"
    assert anchors.main(["--tasks", "CartPole-v1", "--episodes", "5", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    row = data["tasks"]["CartPole-v1"]
    assert row["episodes"] == 5 and 8 <= row["mean"] <= 100 and row["mean"] == row["mean_length"]  # reward 1 a step
    assert {"machine", "versions", "git_commit", "source", "command"} <= set(data)
    assert anchors.random_returns("CartPole-v1", 5)[0] == anchors.random_returns("CartPole-v1", 5)[0]  # seeded
    data["tasks"]["Other"] = {"mean": 1.0}
    out.write_text(json.dumps(data))
    anchors.measure(["CartPole-v1"], 3, out)
    assert set(json.loads(out.read_text())["tasks"]) == {"CartPole-v1", "Other"}  # other tasks are kept
    assert anchors.normalisation(["CartPole-v1"], path=out)[0]["CartPole-v1"] == (pytest.approx(row["mean"], abs=100), 500.0)
    assert "no reference score" in anchors.normalisation(["Other"], path=out)[1]["Other"]


def test_committed_anchors_cover_every_suite_task():
    """Every task of every suite has a measured random score and a named reference above it."""
    from benchmarks.anchors import normalisation

    tasks = {run.game for name in SUITES for run in expand(name)}
    for name in SUITES:
        algos = {run.algo for run in expand(name)}
        games = sorted({run.game for run in expand(name)})
        for algo in algos:
            _, missing = normalisation(games, algo)
            assert not missing, (name, algo, missing)
    assert {"Breakout", "Hopper-v5", "CartPole-v1"} <= tasks


def test_suite_files(tmp_path: Path):
    """A suite is a file: presets resolve, typos are errors, and a user's file runs on a user's env."""
    from benchmarks.suites import SUITES_DIR, load_suite

    assert {path.stem for path in SUITES_DIR.glob("*.yml")} == set(SUITES)
    groups, reference = load_suite(SUITES_DIR / "noise_ppo.yml")
    assert reference == "ppo" and groups[0].algo_kwargs["n_steps"] == 512 and groups[0].reward_noise == [0.0, 1.0]
    mine = tmp_path / "mine.yml"
    mine.write_text("defaults: {preset: minatar_dqn}\ngroups:\n"
                    "  - {envs: [Breakout], variants: [mse, hl_gauss], seeds: [0], total_steps: 1000,\n"
                    "     algo_kwargs: {preset: minatar_dqn, batch_size: 64}, tag: big}\n")
    runs = expand(mine)
    assert [r.label for r in runs] == ["mse@big", "hl_gauss@big"] and runs[0].suite == "mine"
    assert runs[1].algo_kwargs["batch_size"] == 64 and runs[1].algo_kwargs["num_bins"] == 420
    assert runs[0].relpath == "mine/1k/Breakout/mse@big/seed0.json"
    on_mine = expand("tiny", env_ids=["Acrobot-v1"])
    assert {r.env_id for r in on_mine} == {"Acrobot-v1"} and len(on_mine) == len(expand("tiny"))
    for bad, match in [("groups:\n  - {envs: [A], variants: [mse], seeds: [0], total_step: 1}\n", "total_step"),
                       ("groups:\n  - {envs: [A], variants: [msee], seeds: [0], total_steps: 1}\n", "msee"),
                       ("groups:\n  - {envs: [A], variants: [mse], seeds: [0], total_steps: 1, support: nope}\n", "nope"),
                       ("group: []\n", "groups")]:
        mine.write_text(bad)
        with pytest.raises(ValueError, match=match):
            expand(mine)
    with pytest.raises(ValueError, match="Unknown suite"):
        expand("no_such_suite")


def test_docs_tables_are_the_analysis_output():
    """Each generated block of docs/benchmarks.md is the committed summary of its analysis (what update_docs
    writes), and each summary counts every result file of its suites at its budget."""
    from benchmarks import update_docs
    from benchmarks.suites import _steps_label

    page = update_docs.DOCS.read_text()
    checked = 0
    for name, (suites, steps, *where) in update_docs.ANALYSES.items():
        block = update_docs.read_block(page, name)
        if block is None:
            continue
        summary = update_docs.summary_file(name)
        assert block.rstrip("\n") == update_docs._demote(summary.read_text()).rstrip("\n"), (
            f"docs block {name} differs from {summary}: run python -m benchmarks.update_docs")
        root = Path(where[0] if where else run.RESULTS_DIR)
        n_files = sum(len(list((root / suite / _steps_label(steps)).glob("*/*/seed*.json"))) for suite in suites)
        assert json.loads(summary.with_suffix(".json").read_text())["n_results"] == n_files, name
        checked += 1
    assert checked >= 10
    text = "a\n<!-- generated:x -->\nold\n<!-- /generated:x -->\nb\n"
    assert update_docs.replace_block(text, "x", "new") == text.replace("old", "new")
    with pytest.raises(ValueError):
        update_docs.replace_block("no block", "x", "new")


def test_throughput_harness_times_both_sides_with_the_same_settings(tmp_path, monkeypatch):
    """``python -m benchmarks.throughput`` builds SB3's class and ours from one set of arguments and reports the
    ratio of their median env-steps/s (ours / SB3), per clock, with the spread of the per-repeat ratios."""
    import json

    import stable_baselines3 as sb3

    import sb3_hlgauss
    from benchmarks import throughput

    cell = throughput.Cell("dqn", "CartPole-v1", 64, dict(learning_starts=32, batch_size=8, train_freq=4,
                                                            policy_kwargs=dict(net_arch=[8])))
    monkeypatch.setitem(throughput.CELLS, "tiny/dqn", cell)
    sb3_model, ours_model = throughput.build(cell, False, 0), throughput.build(cell, True, 0)
    assert type(sb3_model) is sb3.DQN and type(ours_model) is sb3_hlgauss.HLGaussDQN
    for key in ("learning_starts", "batch_size", "train_freq", "learning_rate", "gamma"):
        assert getattr(sb3_model, key) == getattr(ours_model, key), key

    throughput.main(["--cells", "tiny/dqn", "--repeats", "2", "--out", str(tmp_path), "--name", "t"])
    result = json.loads((tmp_path / "t.json").read_text())
    row = result["rows"]["tiny/dqn"]
    for clock in ("wall", "cpu"):
        samples = row["samples"]
        assert len(samples["sb3"][clock]) == len(samples["ours"][clock]) == 2
        median = {side: sorted(samples[side][clock])[0] / 2 + sorted(samples[side][clock])[1] / 2 for side in samples}
        assert row[f"{clock}_ratio"] == pytest.approx(median["ours"] / median["sb3"], abs=1e-3)
        low, high = row[f"{clock}_ratio_range"]
        assert low <= high
    assert result["meta"]["command"].startswith("python -m benchmarks.throughput --cells tiny/dqn")
    assert result["meta"]["machine"]["versions"]["sb3_hlgauss"] == sb3_hlgauss.__version__
    assert "| tiny/dqn |" in (tmp_path / "t.md").read_text()


def test_throughput_num_bins_times_ours_with_other_bin_counts_against_sb3(tmp_path, monkeypatch, capsys):
    """``--num-bins N``: a side ``ours_binsN``, our class with the default critic but ``N`` bins, its ratio to SB3
    read from the same run; a bin count below 2 is refused before anything is timed."""
    import json

    from benchmarks import throughput

    cell = throughput.Cell("dqn", "CartPole-v1", 64, dict(learning_starts=32, batch_size=8, train_freq=4,
                                                            policy_kwargs=dict(net_arch=[8])))
    model = throughput.build(cell, True, 0, num_bins=51)
    assert model.value_loss.num_bins == 51 and model.q_net.q_net[-1].out_features == 2 * 51
    monkeypatch.setitem(throughput.CELLS, "tiny/dqn", cell)
    throughput.main(["--cells", "tiny/dqn", "--repeats", "1", "--num-bins", "51", "--out", str(tmp_path), "--name", "b"])
    row = json.loads((tmp_path / "b.json").read_text())["rows"]["tiny/dqn"]
    assert set(row["samples"]) == {"sb3", "ours", "ours_bins51"}
    speed = row["cpu_steps_per_s"]
    assert row["bins51_cpu_ratio"] == pytest.approx(speed["ours_bins51"] / speed["sb3"], abs=2e-3)
    assert "| tiny/dqn | 51 |" in (tmp_path / "b.md").read_text()
    with pytest.raises(SystemExit):
        throughput.main(["--cells", "tiny/dqn", "--num-bins", "1", "--out", str(tmp_path)])
    assert "--num-bins must be integers >= 2, got [1]" in capsys.readouterr().err


def test_throughput_width_control_is_sb3_dqn_with_the_width_of_our_head(tmp_path, monkeypatch, capsys):
    """``--width-control``: a third side, SB3's DQN whose Q-network and target network have ``n_actions * num_bins``
    outputs (each action's Q-value their mean), trained by SB3's ``train()`` on the new parameters; the report splits
    ours / SB3 into width (sb3_wide / sb3) and loss path (ours / sb3_wide)."""
    import json

    import torch as th

    from benchmarks import throughput
    from sb3_hlgauss.common.base_class import DEFAULT_NUM_BINS

    cell = throughput.Cell("dqn", "CartPole-v1", 64, dict(learning_starts=32, batch_size=8, train_freq=4,
                                                            policy_kwargs=dict(net_arch=[8])))
    model = throughput.widen_q_head(throughput.build(cell, False, 0), DEFAULT_NUM_BINS)
    head = model.q_net.q_net[-2]
    assert head.out_features == 2 * DEFAULT_NUM_BINS and model.q_net_target.q_net[-2].out_features == head.out_features
    obs = th.as_tensor(model.env.reset(), dtype=th.float32)
    with th.no_grad():
        expected = th.nn.functional.linear(model.q_net.q_net[:-2](obs), head.weight, head.bias).view(1, 2, -1).mean(-1)
        th.testing.assert_close(model.q_net(obs), expected)
        th.testing.assert_close(model.q_net_target(obs), expected)  # the target starts as a copy
    optimised = {id(p) for group in model.policy.optimizer.param_groups for p in group["params"]}
    assert optimised == {id(p) for p in model.q_net.parameters()}
    before = head.weight.detach().clone()
    model.learn(64)
    assert not th.equal(before, head.weight)

    monkeypatch.setitem(throughput.CELLS, "tiny/dqn", cell)
    throughput.main(["--cells", "tiny/dqn", "--repeats", "1", "--width-control", "--out", str(tmp_path), "--name", "w"])
    row = json.loads((tmp_path / "w.json").read_text())["rows"]["tiny/dqn"]
    assert set(row["samples"]) == {"sb3", "ours", "sb3_wide"}
    speed = row["cpu_steps_per_s"]
    assert row["width_cpu_ratio"] == pytest.approx(speed["sb3_wide"] / speed["sb3"], abs=2e-3)
    assert row["loss_path_cpu_ratio"] == pytest.approx(speed["ours"] / speed["sb3_wide"], abs=2e-3)
    assert "loss path: ours / SB3 wide" in (tmp_path / "w.md").read_text()
    # A setting is used or rejected: the control has no meaning on a cell without a Q-network head.
    with pytest.raises(SystemExit):
        throughput.main(["--cells", "tiny/dqn", "sac/Pendulum-v1", "--width-control", "--out", str(tmp_path)])
    assert "--width-control times DQN cells only; ['sac/Pendulum-v1']" in capsys.readouterr().err
    with pytest.raises(ValueError, match="DQN cells only"):
        throughput.measure(throughput.CELLS["sac/Pendulum-v1"], 1, width_control=True)

"""The no-regression panel (benchmarks/panel.py): both sides get the zoo's hyperparameters, only the class differs;
a run writes a complete, resumable result file; the table applies the calibrated rule."""

from __future__ import annotations

import json

import pytest

from benchmarks import panel


def _settings(model) -> dict:
    """The SB3 hyperparameters a model was built with (what both sides must share)."""
    names = ("learning_rate", "gamma", "batch_size", "n_steps", "n_epochs", "gae_lambda", "ent_coef", "vf_coef",
             "max_grad_norm", "buffer_size", "learning_starts", "train_freq", "gradient_steps", "target_update_interval",
             "exploration_fraction", "exploration_final_eps", "tau", "policy_delay", "target_policy_noise")
    out = {name: getattr(model, name) for name in names if hasattr(model, name)}
    out["learning_rate"] = model.lr_schedule(1.0)
    out["net_arch"] = repr(getattr(model.policy, "net_arch", None))
    out["optimizer_class"] = model.policy.optimizer_class
    out["n_envs"] = model.n_envs
    out["normalize"] = type(model.get_env()).__name__
    out["action_noise"] = repr(getattr(model, "action_noise", None))
    return out


@pytest.mark.parametrize("cell", sorted(panel.CELLS))
def test_both_sides_get_the_same_zoo_hyperparameters(cell):
    algo, env_id, _ = panel.CELLS[cell]
    ours, *_ = panel.build(algo, env_id, seed=0, ours=True, extra={})
    sb3, *_ = panel.build(algo, env_id, seed=0, ours=False, extra={})
    assert type(ours).__name__ == f"HLGauss{type(sb3).__name__}"
    assert _settings(ours) == _settings(sb3)
    assert ours.value_scale == "auto" and ours.v_min is None  # no loss settings: the default critic
    zoo = panel.zoo_hyperparameters(algo, env_id)
    if "learning_rate" in zoo and not isinstance(zoo["learning_rate"], str):
        assert ours.lr_schedule(1.0) == pytest.approx(float(zoo["learning_rate"]))


def test_a_run_writes_a_complete_result_and_the_table_reads_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(panel.CELLS, "a2c/CartPole-v1", ("a2c", "CartPole-v1", 400))
    for variant, seed in (("sb3", 0), ("default", 0)):
        path = panel.result_path(tmp_path, "a2c/CartPole-v1", variant, seed)
        result = panel.run_one("a2c/CartPole-v1", variant, seed, {}, path)
        stored = json.loads(path.read_text())
        assert stored["final_return"] == result["final_return"] == pytest.approx(sum(stored["eval_returns"]) / 10)
        assert len(stored["eval_returns"]) == panel.EVAL_EPISODES and stored["ours"] == (variant != "sb3")
        assert {"versions", "source", "machine", "git_commit"} <= set(stored)
    ours = json.loads(panel.result_path(tmp_path, "a2c/CartPole-v1", "default", 0).read_text())
    assert ours["critic"]["value_scale"]["scale"] > 1 and "train/target_clip_fraction" in ours["critic"]
    panel.main(["table", "--results-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "| a2c/CartPole-v1 | default |" in out and "too few seeds to tell" in out  # one seed a side


def test_the_docs_table_is_the_committed_results():
    """docs/benchmarks.md's panel block is what the committed result files give (regenerate it after a run)."""
    page = (panel.RESULTS_DIR.parents[2] / "docs" / "benchmarks.md").read_text()
    assert panel.panel_table() in page, "run: python -m benchmarks.panel table --write docs/benchmarks.md"


def test_the_summary_reads_before_and_after_per_cell(tmp_path):
    """One row a cell: SB3, the 0.4.0 default and this release's default, the verdict on the common seeds."""
    assert {algo for algo, _, _ in panel.CELLS.values()} <= set(panel.DEFAULT_VARIANT)
    cell, default = "a2c/CartPole-v1", panel.DEFAULT_VARIANT["a2c"]
    runs = {"sb3": [100.0, 110.0, 120.0, 130.0, 140.0], default: [500.0, 490.0, 480.0, 470.0, 460.0],
            panel.BEFORE_VARIANT: [300.0, 200.0]}
    for variant, returns in runs.items():
        for seed, final in enumerate(returns):
            path = panel.result_path(tmp_path, cell, variant, seed)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"cell": cell, "variant": variant, "seed": seed, "final_return": final}))
    summary = panel.summary_table(tmp_path)
    # 5 v 5, every run of ours above every run of SB3's: the exact test's smallest p, 2/252.
    assert f"| {cell} | 120 (5) | 250 (2) | 480 (5) | ahead (0.01) |" in summary
    assert summary.count("\n") == 3  # header, rule, the one cell with runs

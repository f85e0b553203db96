"""The zoo layer's reliance on rl_zoo3 and Optuna internals (sb3_hlgauss/zoo/_private_api.py).

Every private name it uses is listed in one module and checked at startup: an unsupported version, or a
supported one that lost a name, stops ``python -m sb3_hlgauss.zoo`` with one line (exit status 2), not with
an ``AttributeError`` deep inside a patch. Also: storage URLs are shown through SQLAlchemy, and the budget
uses Optuna's ``MaxTrialsCallback``.
"""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("rl_zoo3")
optuna = pytest.importorskip("optuna")

import rl_zoo3.hyperparams_opt
from rl_zoo3.exp_manager import ExperimentManager

from sb3_hlgauss.zoo import _private_api, tuning
from sb3_hlgauss.zoo.__main__ import main


@pytest.fixture
def unchecked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the next check run again (it runs once per process when it passes)."""
    monkeypatch.setattr(_private_api, "_checked", False)


def _cli_error(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path) -> str:
    """Run ``train`` through the entry point; return its one error line (exit status 2, no traceback)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    assert main(["train", "--env", "CartPole-v1", "-n", "100", "-f", "logs"]) == 2
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.out + captured.err
    assert not (tmp_path / "logs").exists()
    return lines[0]


def test_the_installed_versions_are_supported(unchecked):
    assert _private_api.problem() is None
    _private_api.check()


@pytest.mark.parametrize("distribution", ["rl_zoo3", "optuna"])
def test_another_major_version_is_one_line(distribution, unchecked, monkeypatch, capsys, tmp_path):
    installed = _private_api.installed_version
    monkeypatch.setattr(
        _private_api, "installed_version", lambda name: "99.0.0" if name == distribution else installed(name)
    )
    with pytest.raises(_private_api.UnsupportedZooVersion) as raised:
        _private_api.check()
    assert "\n" not in str(raised.value)
    lowest, below = _private_api.SUPPORTED[distribution]
    checked = _private_api.CHECKED_AGAINST[distribution]
    line = _cli_error(capsys, monkeypatch, tmp_path)
    assert line == (
        f"sb3_hlgauss.zoo: error: {distribution} 99.0.0 is not supported by sb3_hlgauss.zoo "
        f"(supported: >={lowest},<{below}, checked against {checked})"
    )


def test_a_missing_private_method_is_one_line(unchecked, monkeypatch, capsys, tmp_path):
    monkeypatch.delattr(ExperimentManager, "_save_config")
    line = _cli_error(capsys, monkeypatch, tmp_path)
    version = _private_api.installed_version("rl_zoo3")
    assert line.startswith(f"sb3_hlgauss.zoo: error: rl_zoo3 {version} lacks ExperimentManager._save_config,")
    assert "checked against 2.9.2" in line


def test_a_missing_module_global_is_one_line(unchecked, monkeypatch, capsys, tmp_path):
    monkeypatch.delattr(rl_zoo3.hyperparams_opt, "sample_a2c_params")
    line = _cli_error(capsys, monkeypatch, tmp_path)
    assert "lacks rl_zoo3.hyperparams_opt.sample_a2c_params," in line


def test_a_missing_private_attribute_is_one_line(unchecked, monkeypatch):
    def init_without_private_attributes(self, *args, **kwargs) -> None:
        self.algo = "dqn"

    monkeypatch.setattr(ExperimentManager, "__init__", init_without_private_attributes)
    with pytest.raises(_private_api.UnsupportedZooVersion, match=r"lacks ExperimentManager\(\)\._hyperparams, "):
        _private_api.check()


def test_a_changed_optuna_message_is_one_line(unchecked, monkeypatch):
    monkeypatch.setattr(_private_api, "OPTUNA_TELL_FINISHED_TRIAL", "Cannot tell the trial")
    with pytest.raises(_private_api.UnsupportedZooVersion, match=r"^optuna \S+ no longer reports a lost trial"):
        _private_api.check()


def test_lost_trial_message_is_the_one_checked():
    study = optuna.create_study()
    trial = study.ask()
    study.tell(trial, state=optuna.trial.TrialState.FAIL)
    with pytest.raises(ValueError) as raised:
        study.tell(trial, 1.0)
    assert tuning.lost_while_running(raised.value)
    assert not tuning.lost_while_running(ValueError("shapes do not match"))


def test_storage_urls_are_shown_by_sqlalchemy():
    assert tuning.redact_url("postgresql://tuner:p%40ss@db:5432/optuna?sslmode=require") == (
        "postgresql://tuner:***@db:5432/optuna?sslmode=require"
    )
    assert tuning.redact_url("postgresql://tuner@db/optuna?password=x") == "postgresql://tuner@db/optuna?password=***"
    for unchanged in ("postgresql://tuner@db/optuna", "sqlite:///study.db", "logs/study.log"):
        assert tuning.redact_url(unchanged) == unchanged
    text = "python -m sb3_hlgauss.zoo train --storage 'postgresql://tuner:s3cret@db/optuna' -n 3"
    assert tuning.redact(text) == "python -m sb3_hlgauss.zoo train --storage 'postgresql://tuner:***@db/optuna' -n 3"
    assert tuning.has_password("redis://:pw@host:6379/0") and not tuning.has_password("logs/study.log")


def test_the_budget_is_optunas_max_trials_callback():
    callback = tuning.budget_callback(3)
    assert isinstance(callback, optuna.study.MaxTrialsCallback)
    study = optuna.create_study()
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), callbacks=[callback], n_trials=10)
    assert len(study.trials) == 3

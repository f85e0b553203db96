"""RL Zoo tuning: only a diverging critic prunes a trial; any other error fails it visibly.

The zoo turns every ``ValueError``/``AssertionError`` raised in ``learn`` into ``TrialPruned`` (the error
as its ``__cause__``), which would hide bugs and bad environments as quietly pruned trials.
``HLGaussExperimentManager.objective`` prunes on :class:`CriticDivergedError` only (and on the pruner's
own decision); for any other error the trial ends FAIL with the reason stored as its ``fail_reason``
user attribute and the traceback printed, and the study goes on to the next trial.
"""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("rl_zoo3")
optuna = pytest.importorskip("optuna")

from optuna.trial import TrialState  # noqa: E402
from rl_zoo3.exp_manager import ExperimentManager  # noqa: E402

from sb3_hlgauss import HLGaussDQN  # noqa: E402
from sb3_hlgauss.common.errors import CriticDivergedError, NonFiniteDataError  # noqa: E402
from sb3_hlgauss.zoo.exp_manager import HLGaussExperimentManager  # noqa: E402


#: What the zoo's objective raises: the error, and whether the zoo wraps it in ``TrialPruned`` (it does so
#: for a ValueError/AssertionError of ``learn``); expected state; expected fail_reason.
DIVERGED = "HLGaussDQN: non-finite TD targets (the critic diverged)"
OUTCOMES = {
    "diverged, via the zoo's TrialPruned": (CriticDivergedError(DIVERGED), True, TrialState.PRUNED, None),
    "diverged, raised": (CriticDivergedError(DIVERGED), False, TrialState.PRUNED, None),
    "pruner": (optuna.exceptions.TrialPruned(), False, TrialState.PRUNED, None),
    "bad data, via the zoo's TrialPruned": (
        NonFiniteDataError("the reward of env 1 is nan"),
        True,
        TrialState.FAIL,
        "NonFiniteDataError: the reward of env 1 is nan",
    ),
    "plain ValueError, via the zoo's TrialPruned": (
        ValueError("shapes do not match"), True, TrialState.FAIL, "ValueError: shapes do not match"
    ),
    "AssertionError, via the zoo's TrialPruned": (
        AssertionError("bad buffer"), True, TrialState.FAIL, "AssertionError: bad buffer"
    ),
    # Mentions "inf": the old test on the message pruned it.
    "RuntimeError about information": (
        RuntimeError("not enough information to infer the shape"),
        False,
        TrialState.FAIL,
        "RuntimeError: not enough information to infer the shape",
    ),
    "FloatingPointError": (FloatingPointError("overflow"), False, TrialState.FAIL, "FloatingPointError: overflow"),
    "KeyError": (KeyError("net_arch"), False, TrialState.FAIL, "KeyError: 'net_arch'"),
}


def _learn(error: BaseException) -> None:
    raise error


def _manager() -> HLGaussExperimentManager:
    """Just what ``objective`` uses besides the zoo's own objective (replaced in these tests)."""
    manager = object.__new__(HLGaussExperimentManager)
    manager.algo = "hlgauss_dqn"
    manager._hyperparams = {}
    return manager


@pytest.mark.parametrize("case", list(OUTCOMES))
def test_only_a_diverging_critic_prunes_the_trial(case, monkeypatch, capsys):
    error, wrapped_by_zoo, state, reason = OUTCOMES[case]
    outcomes = iter([error, 1.5])  # the first trial raises, the second completes

    def zoo_objective(self, trial):
        outcome = next(outcomes)
        if not isinstance(outcome, BaseException):
            return outcome
        if not wrapped_by_zoo:
            _learn(outcome)
        try:  # as rl_zoo3's objective does around model.learn
            _learn(outcome)
        except (AssertionError, ValueError) as e:
            raise optuna.exceptions.TrialPruned() from e

    monkeypatch.setattr(ExperimentManager, "objective", zoo_objective)
    study = optuna.create_study(direction="maximize")
    study.optimize(_manager().objective, n_trials=2)  # a failed trial does not stop the study

    first, second = study.trials
    assert first.state == state
    assert second.state == TrialState.COMPLETE and second.value == 1.5
    err = capsys.readouterr().err
    if state == TrialState.FAIL:
        assert first.user_attrs["fail_reason"] == reason
        assert "Traceback (most recent call last)" in first.user_attrs["fail_traceback"]
        assert f"Trial 0 failed (only a diverging critic, CriticDivergedError, prunes a trial): {reason}" in err
        assert "Traceback (most recent call last)" in err and "in _learn" in err  # down to where it was raised
    else:
        assert "fail_reason" not in first.user_attrs
        assert "Traceback" not in err
        if case != "pruner":
            assert first.user_attrs["pruned_reason"] == f"CriticDivergedError: {DIVERGED}"
        else:
            assert "pruned_reason" not in first.user_attrs


def test_tuning_from_the_cli_prunes_diverged_trials_and_fails_the_others(tmp_path, monkeypatch, capsys):
    """``python -m sb3_hlgauss.zoo train -optimize`` (in process) with an SQLite storage, whose training
    raises a different error in each trial: the zoo's own wrapping of ValueErrors is in the path."""
    from sb3_hlgauss.zoo.__main__ import main

    errors = iter(
        [
            CriticDivergedError("non-finite TD targets (the critic diverged)"),
            NonFiniteDataError("the next observation of env 0 holds 1 NaN"),
            RuntimeError("inference failed for lack of information"),
        ]
    )

    def train(self, gradient_steps, batch_size=100):
        raise next(errors)

    monkeypatch.setattr(HLGaussDQN, "train", train)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    status = main(
        [
            "train", "--algo", "hlgauss_dqn", "--env", "CartPole-v1", "-optimize", "-n", "200",
            "--n-trials", "3", "--n-jobs", "1", "--sampler", "random", "--pruner", "none",
            "--n-evaluations", "1", "--eval-episodes", "1", "--storage", storage, "--study-name", "s",
            "--seed", "0", "--no-optim-plots", "-f", "logs", "-params", "learning_starts:100", "train_freq:1",
        ]
    )  # fmt: skip
    assert status in (0, None)
    study = optuna.load_study(storage=storage, study_name="s")
    assert [trial.state for trial in study.trials] == [TrialState.PRUNED, TrialState.FAIL, TrialState.FAIL]
    assert "fail_reason" not in study.trials[0].user_attrs
    assert study.trials[1].user_attrs["fail_reason"] == "NonFiniteDataError: the next observation of env 0 holds 1 NaN"
    assert study.trials[2].user_attrs["fail_reason"] == "RuntimeError: inference failed for lack of information"
    captured = capsys.readouterr()
    assert "Trial 0 pruned, the critic diverged" in captured.out
    assert captured.err.count("Traceback (most recent call last)") >= 2
    assert "in train" in captured.err  # the traceback reaches the error's origin

"""A thin subclass of the zoo's ``ExperimentManager``: validation, sampler context, two fixes.

It changes no behaviour of the zoo beyond:

* **Validation.** After the zoo has read a hyperparameter file, the settings of our algorithms are
  checked (unknown loss, bad ``num_bins``/``v_min``/``v_max``/``sigma_ratio``/``value_transform``,
  misspelt hyperparameter names) and a :class:`ZooConfigError` naming the file and the environment is
  raised, which ``python -m sb3_hlgauss.zoo`` prints as one line (exit status 2) instead of a stack trace.
* **Sampler context.** While a trial runs, our samplers see the file's hyperparameters, so that they
  merge ``policy_kwargs`` and scale the file's value range (see :mod:`sb3_hlgauss.zoo.samplers`).
* **Diverging trials.** Only a trial whose critic diverged is pruned: a
  :class:`~sb3_hlgauss.common.errors.CriticDivergedError`, raised or as the cause of the ``TrialPruned``
  into which the zoo turns any ``ValueError``/``AssertionError`` of ``learn``. Any other error (a
  :class:`~sb3_hlgauss.common.errors.NonFiniteDataError` from the env, a bug) fails the trial visibly:
  its traceback is printed, its reason stored as the trial's ``fail_reason`` user attribute, and the
  trial ends in state FAIL (the objective returns NaN) while the study goes on to the next trial.
* **Stored trials.** ``--trial-id 0`` loads trial 0 (the zoo tests ``if self.trial_id:`` and falls back
  to the best trial), and a stored trial's ``policy_kwargs`` merge with the file's.
"""

from __future__ import annotations

import difflib
import inspect
import sys
import traceback
from collections import OrderedDict
from typing import Any

import optuna
from rl_zoo3.exp_manager import ExperimentManager
from rl_zoo3.utils import ALGOS

from sb3_hlgauss.common.base_class import LOSS_SETTINGS, resolve_loss_settings
from sb3_hlgauss.common.errors import CriticDivergedError
from sb3_hlgauss.zoo.samplers import reset_base_hyperparams, resolve_sampled, set_base_hyperparams

#: Keys of a hyperparameter file that the zoo consumes itself (never passed to the constructor).
ZOO_KEYS = frozenset(
    {
        "n_timesteps",
        "n_envs",
        "normalize",
        "env_wrapper",
        "vec_env_wrapper",
        "frame_stack",
        "callback",
        "monitor_kwargs",
        "env_kwargs",
        "noise_type",
        "noise_std",
        "policy",
    }
)


class ZooConfigError(ValueError):
    """A hyperparameter file (or ``-params`` override) holds invalid settings."""


class _TrialNumber(int):
    """An ``int`` that is true even when 0 (the zoo tests ``if self.trial_id:``)."""

    def __bool__(self) -> bool:
        return True


def is_classification_algo(algo_class: type) -> bool:
    from sb3_hlgauss.common.base_class import ClassificationCriticMixin

    return isinstance(algo_class, type) and issubclass(algo_class, ClassificationCriticMixin)


def validate_hyperparams(algo: str, algo_class: type, hyperparams: dict[str, Any], where: str) -> None:
    """Check the loss settings and the hyperparameter names of one of our algorithms.

    :raises ZooConfigError: with the loss's own message, prefixed by ``where``.
    """
    signature = inspect.signature(algo_class.__init__).parameters
    accepted = set(signature) - {"self", "env"}
    unknown = sorted(key for key in hyperparams if key not in accepted and key not in ZOO_KEYS)
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, sorted(accepted | ZOO_KEYS), n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ZooConfigError(f"{where}: unknown hyperparameter(s) for {algo}: {', '.join(hints)}")

    loss_kwargs = hyperparams.get("loss_kwargs")
    if loss_kwargs is not None and not isinstance(loss_kwargs, dict):
        raise ZooConfigError(f"{where}: loss_kwargs must be a mapping, got {loss_kwargs!r}")
    # The algorithm's own rules (one source per setting, types, None = documented default, float32 limits).
    try:
        resolve_loss_settings(algo_class.__name__, **{key: hyperparams.get(key) for key in LOSS_SETTINGS})
    except (ValueError, TypeError) as error:
        raise ZooConfigError(f"{where}: {error}") from None


class HLGaussExperimentManager(ExperimentManager):
    """The zoo's :class:`~rl_zoo3.exp_manager.ExperimentManager` plus validation of our settings.

    Installed as ``rl_zoo3.train.ExperimentManager`` by :func:`sb3_hlgauss.zoo.register_zoo`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.trial_id is not None and int(self.trial_id) == 0:
            self.trial_id = _TrialNumber(0)
        self._deferred_trial_params: dict[str, Any] = {}

    @property
    def _algo_class(self) -> type | None:
        return ALGOS.get(self.algo)

    def load_trial(self, storage: str, study_name: str, trial_id: int | None = None, convert: bool = True) -> dict[str, Any]:
        params = super().load_trial(storage, study_name, trial_id=trial_id, convert=convert)
        if convert:
            # Resolved against the file's values in read_hyperparameters (the zoo would replace them).
            self._deferred_trial_params = {
                key: params.pop(key) for key in ("policy_kwargs", "v_range_scale", "loss") if key in params
            }
        return params

    def read_hyperparameters(self) -> tuple[dict[str, Any], dict[str, Any]]:
        self._deferred_trial_params = {}
        try:
            hyperparams, saved_hyperparams = super().read_hyperparameters()
        except ValueError as error:
            if "Hyperparameters not found" in str(error):
                raise ZooConfigError(
                    f"{error}. Pass a file with --conf-file, or add an entry for {self.env_name.gym_id} "
                    "(or 'default') to it."
                ) from None
            raise
        if self._deferred_trial_params:
            resolved = resolve_sampled(hyperparams, self._deferred_trial_params, self._algo_class)
            custom = self.custom_hyperparams or {}
            for key, value in resolved.items():
                if key not in custom:
                    hyperparams[key] = value
            saved_hyperparams = OrderedDict((key, hyperparams[key]) for key in sorted(hyperparams))
            self._deferred_trial_params = {}
        algo_class = self._algo_class
        if algo_class is not None and is_classification_algo(algo_class):
            where = f"{self.config} [{self.env_name.gym_id}]"
            if self.custom_hyperparams:
                where += " with -params overrides"
            validate_hyperparams(self.algo, algo_class, hyperparams, where)
        return hyperparams, saved_hyperparams

    def hyperparameters_optimization(self) -> None:
        try:
            super().hyperparameters_optimization()
        except ValueError as error:
            # The zoo reports `study.best_trial` after optimising, which raises when every trial so
            # far was pruned or failed (e.g. all diverged): the study itself is fine, say so.
            # (in-memory storage: "No trials are completed yet"; RDB storage: "Record does not exist")
            if not any(text in str(error) for text in ("No trials are completed yet", "Record does not exist")):
                raise
            print(
                f"No trial of the study has completed yet (all pruned or failed): {error}. "
                "The trials are stored; run more trials or widen the search space."
            )

    def objective(self, trial: optuna.Trial) -> float:
        """The zoo's objective, which prunes a trial only when its critic diverged.

        Pruned (``TrialPruned``): the pruner's decision, and a
        :class:`~sb3_hlgauss.common.errors.CriticDivergedError`, raised or as the ``__cause__`` of the
        ``TrialPruned`` into which the zoo turns any ``ValueError``/``AssertionError`` of ``learn``.
        Failed: any other error. Its traceback is printed, its reason stored as the trial's user
        attributes ``fail_reason`` and ``fail_traceback``, and NaN returned, which Optuna records as
        a FAIL without stopping the study.
        """
        token = set_base_hyperparams(self._algo_class, self._hyperparams)
        try:
            try:
                return super().objective(trial)
            except optuna.exceptions.TrialPruned as pruned:
                if pruned.__cause__ is None:  # pruned by the pruner, on the evaluations' results
                    raise
                error: BaseException = pruned.__cause__
            except Exception as raised:
                error = raised
            if isinstance(error, CriticDivergedError):
                print(f"Trial {trial.number} pruned, the critic diverged: {error}")
                trial.set_user_attr("pruned_reason", f"{type(error).__name__}: {error}"[:2000])
                raise optuna.exceptions.TrialPruned(str(error)) from error
            reason = f"{type(error).__name__}: {error}"
            sys.stdout.flush()
            print(
                f"Trial {trial.number} failed (only a diverging critic, CriticDivergedError, prunes a trial): "
                f"{reason}",
                file=sys.stderr,
            )
            traceback.print_exception(error, file=sys.stderr)
            sys.stderr.flush()
            trial.set_user_attr("fail_reason", reason[:2000])
            trial.set_user_attr("fail_traceback", "".join(traceback.format_exception(error))[-4000:])
            return float("nan")  # Optuna: state FAIL, and the study goes on
        finally:
            reset_base_hyperparams(token)

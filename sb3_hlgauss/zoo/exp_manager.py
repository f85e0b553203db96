"""A thin subclass of the zoo's ``ExperimentManager``: validation, tuning across machines, fixes.

It changes no behaviour of the zoo beyond:

* **Validation.** After the zoo has read a hyperparameter file, the settings of our algorithms are
  checked (unknown loss, bad ``num_bins``/``v_min``/``v_max``/``sigma_ratio``/``value_transform``,
  misspelt hyperparameter names) and a :class:`ZooConfigError` naming the file and the environment is
  raised, which ``python -m sb3_hlgauss.zoo`` prints as one line (exit status 2) instead of a stack trace.
  So are a file that is not valid YAML, and any ``ValueError``/``TypeError`` raised while the run is set
  up (e.g. a discrete env for ``hlgauss_sac``, ``-i`` with a model of another support); the run folder
  such a run had created is removed.
* **Sampler context.** While a trial runs, our samplers see the file's hyperparameters, so that they
  merge ``policy_kwargs`` and scale the file's value range (see :mod:`sb3_hlgauss.zoo.samplers`).
* **Diverging trials.** Only a trial whose critic diverged is pruned: a
  :class:`~sb3_hlgauss.common.errors.CriticDivergedError`, raised or as the cause of the ``TrialPruned``
  into which the zoo turns any ``ValueError``/``AssertionError`` of ``learn``. Any other error (a
  :class:`~sb3_hlgauss.common.errors.NonFiniteDataError` from the env, a bug) fails the trial visibly:
  its traceback is printed, its reason stored as the trial's ``fail_reason`` user attribute, and the
  trial ends in state FAIL (the objective returns NaN) while the study goes on to the next trial.
* **Many workers** (:mod:`sb3_hlgauss.zoo.tuning`): the storage and the study are opened safely by
  workers started together, lost trials are failed and re-queued by Optuna's heartbeat, the
  ``--max-total-trials`` budget counts finished trials only and is not overshot, the sampler is seeded
  per trial number, and no password reaches the study, the reports or the run folders.
* **Stored trials.** ``--trial-id best`` or ``--trial-id N`` (with ``--storage``/``--study-name``, without
  ``-optimize``) retrains that trial; the printed hyperparameters and ``config.yml`` are the ones trained
  (the zoo alone ignores ``--trial-id 0`` and prints the file's values), and a stored trial's
  ``policy_kwargs`` merge with the file's.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import pickle
import shutil
import sys
import time
import traceback
import warnings
from collections import OrderedDict
from pathlib import Path
from pprint import pprint
from typing import Any

import optuna
import yaml
from optuna.samplers import BaseSampler, RandomSampler, TPESampler

from sb3_hlgauss.zoo import _private_api

_private_api.check()  # one line for an unsupported rl_zoo3/Optuna, before anything of theirs is used

from rl_zoo3.exp_manager import ExperimentManager
from rl_zoo3.utils import ALGOS

from sb3_hlgauss.common.base_class import LOSS_SETTINGS, resolve_loss_settings
from sb3_hlgauss.common.errors import CriticDivergedError
from sb3_hlgauss.zoo import tuning
from sb3_hlgauss.zoo._private_api import ZOO_KEYS
from sb3_hlgauss.zoo.samplers import reset_base_hyperparams, resolve_sampled, set_base_hyperparams


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
        hint = ""
        if str(error).startswith("Unknown loss"):
            hint = (
                ". A loss of your own is registered when its module is imported: name that module with "
                "--gym-packages (e.g. --gym-packages my_losses; see examples/custom_loss_zoo.yml)"
            )
        raise ZooConfigError(f"{where}: {error}{hint}") from None


def _yaml_error_line(error: yaml.YAMLError) -> str:
    """A YAML parse error on one line: what is wrong and where (PyYAML's message spans many lines)."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    context = getattr(error, "context", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{problem}{where}" + (f" ({context})" if context else "")


class _BestTrial:
    """``--trial-id best``: true, like a trial number, so the zoo's ``if self.trial_id:`` holds."""

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return "'best'"


class HLGaussExperimentManager(ExperimentManager):
    """The zoo's :class:`~rl_zoo3.exp_manager.ExperimentManager` plus validation of our settings and
    tuning that holds up on many machines (:mod:`sb3_hlgauss.zoo.tuning`).

    Installed as ``rl_zoo3.train.ExperimentManager`` by :func:`sb3_hlgauss.zoo.register_zoo`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deferred_trial_params: dict[str, Any] = {}
        self._created_run_folder = False
        self._retrained_trial: optuna.trial.FrozenTrial | None = None
        options = tuning.current_options()
        if options.trial is not None:
            self.trial_id = _BestTrial() if options.trial == "best" else _TrialNumber(options.trial)
        elif self.trial_id is not None and int(self.trial_id) == 0:
            self.trial_id = _TrialNumber(0)
        storage_given = self.storage is not None or self.study_name is not None
        self.storage = tuning.resolve_storage_url(self.storage)
        if self.trial_id is not None:
            if self.optimize_hyperparameters:
                raise ZooConfigError("--trial-id retrains a stored trial: it cannot be combined with -optimize")
            if not (self.storage and self.study_name):
                raise ZooConfigError(
                    f"--trial-id needs the study: --storage URL (or ${tuning.STORAGE_ENV}) and --study-name NAME"
                )
        elif storage_given and not self.optimize_hyperparameters:
            # The zoo would silently train with the file's values (it reads a trial only for a true trial_id).
            raise ZooConfigError(
                "--storage/--study-name without -optimize select a trial to retrain: add --trial-id best "
                "(or --trial-id N); without them the file's hyperparameters are trained"
            )
        if self.optimize_hyperparameters and self.storage and not self.study_name:
            raise ZooConfigError("--storage needs --study-name: every worker must name the same study")

    @property
    def _algo_class(self) -> type | None:
        return ALGOS.get(self.algo)

    # --------------------------------------------------------------------------------------------
    # Hyperparameters: the file, then the stored trial, then -params (printed and saved as trained)
    # --------------------------------------------------------------------------------------------

    def _read_config_file(self) -> dict[str, Any]:
        """The zoo's ways to name a file (``.yml``, ``.py``, a module), with one-line errors."""
        config = self.config
        try:
            if config.endswith((".yml", ".yaml")):
                with open(config) as file:
                    hyperparams_dict = yaml.safe_load(file)
            elif config.endswith(".py"):
                global_variables: dict[str, Any] = {}
                exec(Path(config).read_text(), global_variables)
                hyperparams_dict = global_variables["hyperparams"]
            else:
                hyperparams_dict = importlib.import_module(config).hyperparams
        except yaml.YAMLError as error:
            raise ZooConfigError(f"{config}: not valid YAML: {_yaml_error_line(error)}") from None
        except OSError as error:
            raise ZooConfigError(f"cannot read the hyperparameter file {config}: {error.strerror or error}") from None
        if not isinstance(hyperparams_dict, dict):
            raise ZooConfigError(
                f"{config}: expected a mapping from environment ids to hyperparameters, got {type(hyperparams_dict).__name__}"
            )
        return hyperparams_dict

    def read_hyperparameters(self) -> tuple[dict[str, Any], dict[str, Any]]:
        print(f"Loading hyperparameters from: {self.config}")
        hyperparams_dict = self._read_config_file()
        if self.env_name.gym_id in hyperparams_dict:
            entry = hyperparams_dict[self.env_name.gym_id]
        elif self.is_atari(self.env_name.gym_id) and "atari" in hyperparams_dict:
            entry = hyperparams_dict["atari"]
        elif "default" in hyperparams_dict:
            print("Using 'default' hyperparameters")
            entry = hyperparams_dict["default"]
        else:
            raise ZooConfigError(
                f"Hyperparameters not found for {self.algo}-{self.env_name.gym_id} in {self.config}. Pass a file "
                f"with --conf-file, or add an entry for {self.env_name.gym_id} (or 'default') to it."
            )
        if not isinstance(entry, dict):
            raise ZooConfigError(f"{self.config} [{self.env_name.gym_id}]: expected a mapping of hyperparameters, got {entry!r}")
        hyperparams = dict(entry)

        origin = "the file"
        if self.trial_id:
            print("Loading from Optuna study...")
            self._deferred_trial_params = {}
            hyperparams.update(self.load_trial(self.storage, self.study_name, self.trial_id))
            if self._deferred_trial_params:
                hyperparams.update(resolve_sampled(hyperparams, self._deferred_trial_params, self._algo_class))
                self._deferred_trial_params = {}
            assert self._retrained_trial is not None
            origin += f", then trial {self._retrained_trial.number} of study {self.study_name!r}"
        if self.custom_hyperparams is not None:
            hyperparams.update(self.custom_hyperparams)
            origin += ", then -params"
        if "env_kwargs" in hyperparams and self.env_kwargs:
            # The zoo's rule: command-line env_kwargs overwrite the file's.
            hyperparams.update({"env_kwargs": self.env_kwargs})
            if self._eval_env_kwargs_args is None:
                self.eval_env_kwargs = hyperparams["env_kwargs"]

        algo_class = self._algo_class
        if algo_class is not None and is_classification_algo(algo_class):
            where = f"{self.config} [{self.env_name.gym_id}]"
            if self.trial_id:
                where += f" with trial {self._retrained_trial.number}"  # type: ignore[union-attr]
            if self.custom_hyperparams:
                where += " with -params overrides"
            validate_hyperparams(self.algo, algo_class, hyperparams, where)

        saved_hyperparams = OrderedDict((key, hyperparams[key]) for key in sorted(hyperparams))
        print(f"Hyperparameters ({origin}; ones being tuned will be overridden):")
        pprint(saved_hyperparams)
        return hyperparams, saved_hyperparams

    def load_trial(self, storage: str, study_name: str, trial_id: Any = None, convert: bool = True) -> dict[str, Any]:
        """The parameters of trial ``trial_id`` (a number or ``'best'``) of the study, converted for the constructor."""
        from rl_zoo3.hyperparams_opt import HYPERPARAMS_CONVERTER

        try:
            study = tuning.load_study(storage, study_name)
        except LookupError as error:
            raise ZooConfigError(str(error)) from None
        if trial_id is None or isinstance(trial_id, _BestTrial):
            try:
                trial = study.best_trial
            except ValueError:
                raise ZooConfigError(f"study {study_name!r} has no completed trial to retrain yet") from None
        else:
            number = int(trial_id)
            trials = study.get_trials(deepcopy=False)
            if not 0 <= number < len(trials):
                raise ZooConfigError(f"study {study_name!r} has no trial {number} (it has trials 0-{len(trials) - 1})")
            trial = trials[number]
            if trial.state not in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED):
                raise ZooConfigError(
                    f"trial {number} of study {study_name!r} is {trial.state.name}: only COMPLETE or PRUNED trials "
                    "ran their parameters (see `python -m sb3_hlgauss.zoo study`)"
                )
        self._retrained_trial = trial
        params = dict(trial.params)
        if not convert:
            return params
        params = HYPERPARAMS_CONVERTER[self.algo](params)
        # Resolved against the file's values in read_hyperparameters (the zoo would replace them).
        self._deferred_trial_params = {
            key: params.pop(key) for key in ("policy_kwargs", "value_scale", "v_range_scale", "loss") if key in params
        }
        return params

    # --------------------------------------------------------------------------------------------
    # Setting up a run: one-line errors, no run folder left behind, no password saved
    # --------------------------------------------------------------------------------------------

    def create_log_folder(self) -> None:
        self._created_run_folder = not os.path.exists(self.save_path)
        super().create_log_folder()

    def _remove_new_run_folder(self) -> None:
        if self._created_run_folder and os.path.isdir(self.save_path):
            shutil.rmtree(self.save_path, ignore_errors=True)
        self._created_run_folder = False

    def setup_experiment(self) -> Any:
        try:
            return super().setup_experiment()
        except ZooConfigError:
            self._remove_new_run_folder()
            raise
        except (ValueError, TypeError) as error:
            # Raised by the algorithm or the env while the run is set up: a configuration problem.
            self._remove_new_run_folder()
            if self.verbose >= 2:
                raise
            message = " ".join(str(error).split())
            raise ZooConfigError(
                f"{self.algo} on {self.env_name.gym_id}: {type(error).__name__}: {message} (--verbose 2 shows the traceback)"
            ) from error

    def _save_config(self, saved_hyperparams: dict[str, Any]) -> None:
        super()._save_config(saved_hyperparams)
        params_path = Path(self.params_path)
        for name in ("args.yml", "command.txt"):  # hold the --storage URL, and the zoo writes it as given
            path = params_path / name
            if path.is_file():
                path.write_text(tuning.redact(path.read_text()))
        if self._retrained_trial is not None:
            trial = self._retrained_trial
            record = {
                "study_name": self.study_name,
                "storage": tuning.redact_url(str(self.storage)),
                "trial": trial.number,
                "state": trial.state.name,
                "value": trial.value,
                "params": dict(trial.params),
            }
            (params_path / "trial.yml").write_text(yaml.safe_dump(record, sort_keys=False))

    # --------------------------------------------------------------------------------------------
    # Tuning
    # --------------------------------------------------------------------------------------------

    def _create_sampler(self, sampler_method: str) -> BaseSampler:
        """The zoo's samplers, seeded per trial number (:class:`~sb3_hlgauss.zoo.tuning.TrialSeededSampler`).

        With a storage (several workers), TPE uses Optuna's ``constant_liar`` so that concurrent workers do
        not all sample next to the same promising point.
        """
        distributed = self.storage is not None
        if sampler_method == "random":
            return tuning.TrialSeededSampler(lambda seed: RandomSampler(seed=seed), self.seed)
        if sampler_method == "tpe":

            def make_tpe(seed: int | None) -> BaseSampler:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    return TPESampler(
                        n_startup_trials=self.n_startup_trials, seed=seed, multivariate=True, constant_liar=distributed
                    )

            return tuning.TrialSeededSampler(make_tpe, self.seed)
        return super()._create_sampler(sampler_method)

    def hyperparameters_optimization(self) -> None:
        """The zoo's ``hyperparameters_optimization``, made safe for many workers on one study.

        See :mod:`sb3_hlgauss.zoo.tuning` for what each step guards against.
        """
        options = tuning.current_options()
        if self.verbose > 0:
            print("Optimizing hyperparameters")
        if self.tensorboard_log is not None:
            warnings.warn("Tensorboard log is deactivated when running hyperparameter optimization")
            self.tensorboard_log = None

        storage = None
        if self.storage is not None:
            if tuning.has_password(self.storage):
                print(
                    "sb3_hlgauss: the --storage URL holds a password, which other users of this machine can read "
                    "in its process list; it is stored nowhere, but prefer PGPASSWORD, ~/.pgpass or "
                    f"${tuning.STORAGE_ENV} (docs/zoo.md)",
                    file=sys.stderr,
                )
            storage = tuning.open_storage(self.storage, options)
        heartbeat = self.storage is not None and tuning.heartbeat_enabled(self.storage, options)
        sampler = self._create_sampler(self.sampler)
        pruner = self._create_pruner(self.pruner)
        if self.verbose > 0:
            print(f"Sampler: {self.sampler} - Pruner: {self.pruner}")
            if self.storage is not None:
                lost = (
                    f"heartbeat every {options.heartbeat_interval} s, lost trials re-queued after "
                    f"{options.grace_period or 2 * options.heartbeat_interval} s"  # type: ignore[operator]
                    if heartbeat
                    else "no heartbeat: a killed worker's trial stays RUNNING"
                )
                print(f"Storage: {tuning.redact_url(self.storage)} - study {self.study_name!r} - {lost}")
        study = tuning.create_or_load_study(storage, self.study_name, sampler, pruner)
        if "command" not in study.user_attrs:
            study.set_user_attr("command", " ".join(tuning.redact_argv(sys.orig_argv)))
            for key in sorted(self._hyperparams):
                study.set_user_attr(key, tuning.redact(str(self._hyperparams[key])))

        watcher = tuning.StaleTrialWatcher(study, options.heartbeat_interval) if heartbeat else None  # type: ignore[arg-type]
        if watcher is not None:
            watcher.start()
        try:
            if self.max_total_trials is not None:
                self._optimize_to_total(study, heartbeat, float(options.heartbeat_interval or 0))
            else:
                study.optimize(self.objective, n_jobs=self.n_jobs, n_trials=self.n_trials, gc_after_trial=True)
        except KeyboardInterrupt:
            pass
        finally:
            if watcher is not None:
                watcher.stop()
        self._report(study)

    def _optimize_to_total(self, study: optuna.Study, heartbeat: bool, poll_interval: float) -> None:
        """Run trials until ``--max-total-trials`` have finished in the whole study.

        While the rest of the budget is held by trials running elsewhere, wait (with a heartbeat): if
        one of their workers dies, its configuration is re-queued and this worker runs it.
        """
        total = self.max_total_trials
        assert total is not None
        waiting_said = False
        while True:
            if heartbeat:
                tuning.fail_stale_trials(study)
            counts = tuning.trial_counts(study)
            if counts.finished >= total:
                return
            if counts.finished + counts.running >= total:
                if not heartbeat:
                    return  # the zoo's behaviour: the remaining trials run in other workers
                if not waiting_said:
                    print(
                        f"{counts.finished} of {total} trials finished, {counts.running} running elsewhere: waiting "
                        "for them (a lost trial is re-queued and run here)"
                    )
                    waiting_said = True
                time.sleep(max(0.5, min(poll_interval, 10.0)))
                continue
            waiting_said = False
            try:
                study.optimize(
                    self.objective,
                    n_jobs=self.n_jobs,
                    callbacks=[tuning.budget_callback(total)],
                    # Free the per-trial envs/model (kept alive in a reference cycle by the callbacks).
                    gc_after_trial=True,
                )
            except (ValueError, optuna.exceptions.UpdateFinishedTrialError) as error:
                if not tuning.lost_while_running(error):
                    raise
                # A false alarm of the heartbeat check must not take a healthy worker down with it.
                print(
                    "sb3_hlgauss: another worker marked this worker's trial lost while it ran (no heartbeat for "
                    "--grace-period s: an overloaded machine or database?). Its result is dropped and its "
                    "configuration was re-queued; this worker goes on.",
                    file=sys.stderr,
                )

    def _report(self, study: optuna.Study) -> None:
        from sb3_hlgauss.zoo import study as study_report

        counts = tuning.trial_counts(study)
        print("Number of finished trials: ", counts.finished)
        if counts.lost or counts.not_run or counts.running:
            print(f"    (also {counts.running} running, {counts.lost} lost with their worker, {counts.not_run} not run)")
        try:
            trial = study.best_trial
        except ValueError as error:
            # Every trial so far was pruned or failed (e.g. all diverged): the study itself is fine.
            print(
                f"No trial of the study has completed yet (all pruned or failed): {error}. "
                "The trials are stored; run more trials or widen the search space."
            )
            return
        print("Best trial:")
        print("Value: ", trial.value)
        print("Params: ")
        for key, value in trial.params.items():
            print(f"    {key}: {value}")
        print("User Attributes: ")
        for key, value in trial.user_attrs.items():
            print(f"    {key}: {value}")

        report_name = (
            f"report_{self.env_name}_{self.n_trials}-trials-{self.n_timesteps}"
            f"-{self.sampler}-{self.pruner}_{int(time.time())}"
        )
        log_path = os.path.join(self.log_folder, self.algo, report_name)
        if self.verbose:
            print(f"Writing report to {log_path}")
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        study.trials_dataframe().to_csv(f"{log_path}.csv")
        # The zoo pickles the study itself, whose RDB storage holds the URL (and its password).
        with open(f"{log_path}.pkl", "wb+") as file:
            pickle.dump(tuning.storage_free_copy(study), file)
        if not self.no_optim_plots:
            for path in study_report.save_plots(study, f"{log_path}_"):
                print(f"Saved {path}")

    def objective(self, trial: optuna.Trial) -> float:
        """The zoo's objective, which prunes a trial only when its critic diverged.

        Pruned (``TrialPruned``): the pruner's decision, and a
        :class:`~sb3_hlgauss.common.errors.CriticDivergedError`, raised or as the ``__cause__`` of the
        ``TrialPruned`` into which the zoo turns any ``ValueError``/``AssertionError`` of ``learn``.
        Failed: any other error. Its traceback is printed, its reason stored as the trial's user
        attributes ``fail_reason`` and ``fail_traceback``, and NaN returned, which Optuna records as
        a FAIL without stopping the study. A trial created after the study reached
        ``--max-total-trials`` is not run (FAIL, user attribute ``not_run``; it does not count).
        """
        trial.set_user_attr(tuning.WORKER_ATTR, tuning.worker_name())
        max_total_trials = getattr(self, "max_total_trials", None)
        if max_total_trials is not None:
            try:
                tuning.check_room_for(trial.study, trial, max_total_trials)
            except tuning.StudyFull as full:
                print(f"Trial {trial.number} {full}")
                trial.study.stop()  # this worker's optimize ends here; _optimize_to_total decides what next
                return float("nan")
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
            if tuning.lost_while_running(error):
                raise error  # failed as lost by another worker: nothing more can be stored on it
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
            trial.set_user_attr(tuning.FAIL_REASON_ATTR, reason[:2000])
            trial.set_user_attr("fail_traceback", "".join(traceback.format_exception(error))[-4000:])
            return float("nan")  # Optuna: state FAIL, and the study goes on
        finally:
            reset_base_hyperparams(token)

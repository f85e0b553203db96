"""Tuning across processes and machines: the storage, crashed workers, sampling seeds, the budget.

Everything here is Optuna's own machinery, wired for the zoo's ``-optimize`` mode by
:class:`~sb3_hlgauss.zoo.exp_manager.HLGaussExperimentManager` (docs/zoo.md, "Tuning on many machines"):

* **Storage.** ``--storage`` (or, when it is left out, the environment variable ``OPTUNA_STORAGE``,
  as for Optuna's own CLI) is an SQLAlchemy URL (``postgresql://user@host/db``, ``sqlite:///f.db``)
  or a journal file (``*.log``). Opening it and creating the study are retried, so that workers
  started together on a fresh database all succeed (PostgreSQL's ``CREATE TYPE``/``CREATE TABLE``
  race on Optuna's tables otherwise kills all but one).
* **Crashed workers.** On an RDB storage every running trial beats a heartbeat
  (``--heartbeat-interval``, default 60 s). A trial whose heartbeat is older than ``--grace-period``
  (default twice the interval) is marked FAIL by any live worker (Optuna's ``fail_stale_trials``,
  called by Optuna at each trial start and here every interval by a watcher thread) and its parameters
  re-queued (the storage's ``RetryHeartbeatStaleTrialCallback``, at most ``--max-retry`` times). So a SIGKILLed
  worker's trial is failed and re-queued at most ``grace + interval`` after the kill, while any
  worker of the study is alive (or when one starts).
* **Budget.** ``--max-total-trials`` counts finished trials only (:func:`counts_towards_total`):
  COMPLETE, PRUNED, and FAIL recorded by the objective itself (an error in the trial). Trials lost
  with their worker do not count. Optuna's ``MaxTrialsCallback`` stops a worker once the study's
  trials may fill the budget; workers do not overshoot: a trial created after the study is full
  is closed unrun (state FAIL, user attribute ``not_run``), and workers wait while the remaining
  budget is held by running trials, to take over their re-queued configurations if they die.
* **Seeds.** The sampler is re-seeded for every trial from ``(--seed, trial number)``
  (:class:`TrialSeededSampler`): trial numbers are unique in a study, so concurrent workers and
  restarted workers sample differently, and one worker with a fixed seed on a fresh study is
  reproducible.
* **Credentials.** A storage URL is shown as SQLAlchemy renders it with ``hide_password=True``
  (:func:`redact_url`); :func:`redact` does the same to every URL inside a text (the command line,
  ``args.yml``, error messages) before it is written to the study, the reports, the run folder or the
  terminal. Better: keep it out of the command line altogether
  (``PGPASSWORD``, ``~/.pgpass``, or the URL in ``OPTUNA_STORAGE``).
"""

from __future__ import annotations

import os
import random
import re
import socket
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.storages import BaseStorage
from optuna.study import MaxTrialsCallback
from optuna.trial import FrozenTrial, TrialState

from sb3_hlgauss.zoo._private_api import OPTUNA_TELL_FINISHED_TRIAL

#: Read when ``--storage`` is not given (the convention of Optuna's own CLI).
STORAGE_ENV = "OPTUNA_STORAGE"
DEFAULT_HEARTBEAT_INTERVAL = 60
DEFAULT_MAX_RETRY = 3
#: Trial user attributes written by the workers.
WORKER_ATTR = "worker"
NOT_RUN_ATTR = "not_run"
FAIL_REASON_ATTR = "fail_reason"

T = TypeVar("T")


@dataclass
class TuningOptions:
    """The tuning flags that ``python -m sb3_hlgauss.zoo train`` adds to the zoo's."""

    #: Seconds between heartbeats of a running trial (RDB storages); 0 or None turns them off.
    heartbeat_interval: int | None = DEFAULT_HEARTBEAT_INTERVAL
    #: Seconds without a heartbeat after which a running trial counts as lost (None: 2x the interval).
    grace_period: int | None = None
    #: How often a lost trial's configuration is re-queued (None: without limit).
    max_retry: int | None = DEFAULT_MAX_RETRY
    #: Retrain a stored trial: ``"best"`` or a trial number (``--trial-id``), or None.
    trial: str | int | None = None

    def __post_init__(self) -> None:
        for name in ("heartbeat_interval", "grace_period", "max_retry"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"--{name.replace('_', '-')} must be a whole number >= 0, got {value!r}")
        if self.grace_period is not None and self.heartbeat_interval and self.grace_period <= self.heartbeat_interval:
            raise ValueError(
                f"--grace-period ({self.grace_period} s) must be longer than --heartbeat-interval "
                f"({self.heartbeat_interval} s), or every trial between two heartbeats counts as lost"
            )
        if self.trial is not None and self.trial != "best" and (isinstance(self.trial, bool) or not isinstance(self.trial, int) or self.trial < 0):
            raise ValueError(f"--trial-id must be 'best' or a trial number >= 0, got {self.trial!r}")

    @property
    def heartbeat_enabled(self) -> bool:
        return bool(self.heartbeat_interval)


_OPTIONS = TuningOptions()


def set_options(options: TuningOptions) -> None:
    """Set the tuning flags for this process (``python -m sb3_hlgauss.zoo`` does it from its arguments)."""
    global _OPTIONS
    _OPTIONS = options


def current_options() -> TuningOptions:
    return _OPTIONS


# ------------------------------------------------------------------------------------------------
# Credentials
# ------------------------------------------------------------------------------------------------

#: A URL inside a text (``--storage=...`` in a command line, a YAML value, an error message).
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")
#: libpq key/value strings and URL query parameters: ``password=...`` (SQLAlchemy shows query parameters).
_PASSWORD_PARAM = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<password>[^\s&'\"]+)", re.IGNORECASE)


def _password(url: str) -> str | None:
    """The password of an SQLAlchemy URL (None: none, or not a URL, e.g. a journal file)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).password
    except (ArgumentError, ValueError):
        return None


def redact_url(url: str) -> str:
    """``url`` as it may be shown: SQLAlchemy's rendering with the password as ``***`` (and no ``password=``
    parameter); a journal file, or a URL without a password, is returned as given."""
    if _password(url) is not None:
        from sqlalchemy.engine import make_url

        url = make_url(url).render_as_string(hide_password=True)
    return _PASSWORD_PARAM.sub(lambda match: f"{match['head']}***", url)


def redact(text: str) -> str:
    """``text`` with every URL shown by :func:`redact_url` and any ``password=...`` replaced by ``***``."""
    return _PASSWORD_PARAM.sub(lambda match: f"{match['head']}***", _URL.sub(lambda match: redact_url(match[0]), text))


def redact_argv(argv: Sequence[str]) -> list[str]:
    return [redact(arg) for arg in argv]


def has_password(url: str) -> bool:
    return _password(url) is not None


def resolve_storage_url(given: str | None) -> str | None:
    """``--storage`` if given, else ``$OPTUNA_STORAGE`` (None when neither is set)."""
    if given:
        return given
    return os.environ.get(STORAGE_ENV) or None


def is_journal(url: str) -> bool:
    return url.endswith(".log")


# ------------------------------------------------------------------------------------------------
# Opening the storage and the study, safely from many workers at once
# ------------------------------------------------------------------------------------------------


def _retry(what: str, action: Callable[[], T], attempts: int = 12) -> T:
    """Run ``action``, retrying database errors with jittered exponential back-off.

    Concurrent first connections race on Optuna's schema (PostgreSQL: ``UniqueViolation`` on the
    ``studydirection`` type; SQLite: ``database is locked``); the loser's retry finds the tables.
    """
    import sqlalchemy.exc

    retried = (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError)
    for attempt in range(attempts):
        try:
            return action()
        except retried as error:
            if attempt == attempts - 1:
                raise RuntimeError(f"{what} failed after {attempts} attempts: {redact(str(error))}") from None
            time.sleep(min(5.0, 0.05 * 2**attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")


def stale_trial_callback(max_retry: int | None) -> dict[str, Any]:
    """The ``RDBStorage`` keyword that re-queues a lost trial's parameters (Optuna's own callback).

    Optuna 4.9 renamed ``failed_trial_callback``/``RetryFailedTrialCallback`` (removed in 6.0) to
    ``heartbeat_stale_trial_callback``/``RetryHeartbeatStaleTrialCallback``.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if hasattr(optuna.storages, "RetryHeartbeatStaleTrialCallback"):
            return {"heartbeat_stale_trial_callback": optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retry)}
        return {"failed_trial_callback": optuna.storages.RetryFailedTrialCallback(max_retry=max_retry)}


def open_storage(url: str, options: TuningOptions | None = None) -> BaseStorage:
    """The Optuna storage for ``url``, with heartbeats and re-queueing on RDB storages.

    A journal file (``*.log``) is Optuna's ``JournalStorage``, which has no heartbeat: a killed
    worker's trial stays RUNNING there (docs/zoo.md).
    """
    options = options or current_options()
    if is_journal(url):
        Path(url).parent.mkdir(parents=True, exist_ok=True)
        backend = optuna.storages.journal.JournalFileBackend(url)
        return optuna.storages.JournalStorage(backend)
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # Several processes on one SQLite file wait for its lock instead of failing after 5 s.
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 120}}
    if options.heartbeat_enabled:
        kwargs.update(heartbeat_interval=options.heartbeat_interval, grace_period=options.grace_period)
        kwargs.update(stale_trial_callback(options.max_retry))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return _retry(f"Opening the Optuna storage {redact_url(url)}", lambda: optuna.storages.RDBStorage(url, **kwargs))


def heartbeat_enabled(url: str, options: TuningOptions | None = None) -> bool:
    """Whether running trials on ``url`` beat a heartbeat (an RDB storage, opened with an interval)."""
    return not is_journal(url) and (options or current_options()).heartbeat_enabled


def create_or_load_study(
    storage: BaseStorage | None, study_name: str | None, sampler: BaseSampler, pruner: optuna.pruners.BasePruner
) -> optuna.Study:
    """``optuna.create_study(load_if_exists=True)``, retried: every concurrent worker gets the same study."""
    return _retry(
        f"Creating or loading the study {study_name!r}",
        lambda: optuna.create_study(
            sampler=sampler, pruner=pruner, storage=storage, study_name=study_name, load_if_exists=True, direction="maximize"
        ),
    )


# ------------------------------------------------------------------------------------------------
# Sampling: a seed per trial number
# ------------------------------------------------------------------------------------------------


def trial_seed(seed: int | None, trial_number: int) -> int | None:
    """The sampler seed of trial ``trial_number`` (None: unseeded)."""
    if seed is None:
        return None
    return int(np.random.SeedSequence([int(seed) % 2**32, trial_number]).generate_state(1)[0])


class TrialSeededSampler(BaseSampler):
    """A sampler re-created for every trial with the seed :func:`trial_seed` ``(seed, trial.number)``.

    The zoo seeds one sampler per worker with ``--seed``: workers started with the same seed, and a
    worker restarted on a study, replay the same parameters. Optuna's samplers keep no state between
    trials except their random generator (the history lives in the storage), so one fresh sampler
    per trial samples what the wrapped one would, from a generator that depends on the trial's
    number, which the storage makes unique.

    :param make_sampler: Builds the wrapped sampler from a seed, e.g. ``lambda seed: TPESampler(seed=seed)``.
    :param seed: The worker's ``--seed``.
    """

    def __init__(self, make_sampler: Callable[[int | None], BaseSampler], seed: int | None) -> None:
        self._make_sampler = make_sampler
        self._seed = seed
        self._samplers: dict[int, BaseSampler] = {}
        self._lock = threading.Lock()

    def _for(self, trial: FrozenTrial) -> BaseSampler:
        with self._lock:
            sampler = self._samplers.get(trial.number)
            if sampler is None:
                sampler = self._samplers[trial.number] = self._make_sampler(trial_seed(self._seed, trial.number))
            return sampler

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return self._for(trial).infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self._for(trial).sample_relative(study, trial, search_space)

    def sample_independent(
        self, study: optuna.Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        return self._for(trial).sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._for(trial).before_trial(study, trial)

    def after_trial(
        self, study: optuna.Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        self._for(trial).after_trial(study, trial, state, values)
        with self._lock:
            self._samplers.pop(trial.number, None)

    def reseed_rng(self) -> None:
        # Called by Optuna for n_jobs > 1 threads; the per-trial seeds already differ.
        pass


# ------------------------------------------------------------------------------------------------
# The budget: what counts, and not overshooting it
# ------------------------------------------------------------------------------------------------


def counts_towards_total(trial: FrozenTrial) -> bool:
    """Whether ``trial`` used up budget: it finished (COMPLETE, PRUNED) or failed by its own error.

    FAIL without our ``fail_reason`` means the trial never ended by itself: its worker died (failed by
    the heartbeat check, re-queued), was interrupted, or the trial was created after the study was full.
    """
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return trial.state == TrialState.FAIL and FAIL_REASON_ATTR in trial.user_attrs


class TrialCounts(NamedTuple):
    finished: int
    running: int
    lost: int
    not_run: int


def trial_counts(study: optuna.Study) -> TrialCounts:
    trials = study.get_trials(deepcopy=False)
    finished = sum(counts_towards_total(trial) for trial in trials)
    running = sum(trial.state == TrialState.RUNNING for trial in trials)
    not_run = sum(trial.state == TrialState.FAIL and NOT_RUN_ATTR in trial.user_attrs for trial in trials)
    lost = sum(trial.state == TrialState.FAIL and not counts_towards_total(trial) for trial in trials) - not_run
    return TrialCounts(finished, running, lost, not_run)


class StudyFull(Exception):
    """Raised inside a trial created after the study reached ``--max-total-trials`` (the trial is not run)."""


# Held while this process fails a lost trial and re-queues it (two steps in Optuna) and while it
# counts the places of a new trial: the stale-trial watcher thread and the trial loop never see a
# lost trial between FAIL and its re-queued copy.
_STALE_CHECK_LOCK = threading.RLock()


def check_room_for(study: optuna.Study, trial: optuna.Trial, max_total_trials: int) -> None:
    """Raise :class:`StudyFull` if ``max_total_trials`` places are taken by the trials ahead of ``trial``.

    Ahead of it: the trials numbered before it that finished or run (trial numbers are handed out by
    the storage in creation order, so a worker that lost the race for the last place closes its
    trial unrun instead of overshooting the budget), and every WAITING trial, whatever its number:
    a lost trial's re-queued configuration keeps its place, so that a worker that created a new
    trial just as the lost one was re-queued gives way to the re-queued one (which the next
    ``ask`` of any worker pops). Runs under the lock of :func:`fail_stale_trials`, so that this
    process sees a lost trial either RUNNING or already re-queued, never in between.
    """
    with _STALE_CHECK_LOCK:
        ahead = 0
        for other in study.get_trials(deepcopy=False):
            if other.number == trial.number:
                continue
            if other.state == TrialState.WAITING:
                ahead += 1
            elif other.number < trial.number and (other.state == TrialState.RUNNING or counts_towards_total(other)):
                ahead += 1
    if ahead >= max_total_trials:
        trial.set_user_attr(NOT_RUN_ATTR, f"the study already had {max_total_trials} finished, running or queued trials")
        raise StudyFull(f"trial {trial.number} not run: the study has its {max_total_trials} trials")


#: The states that :func:`budget_callback` counts: an upper bound of the trials holding budget (FAIL includes
#: lost and unrun trials), so it may stop a worker's ``optimize`` early; the caller then counts exactly
#: (:func:`trial_counts`) and goes on if there is room.
BUDGET_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)


def budget_callback(max_total_trials: int) -> MaxTrialsCallback:
    """Optuna's ``MaxTrialsCallback``: stop this worker's ``optimize`` once finished, failed and running
    trials reach ``max_total_trials`` (the zoo's own rule, which also counts RUNNING trials, plus FAIL)."""
    return MaxTrialsCallback(max_total_trials, states=BUDGET_STATES)


class StaleTrialWatcher(threading.Thread):
    """Calls Optuna's ``fail_stale_trials`` every ``interval`` seconds while the worker tunes.

    Optuna itself checks only when a worker starts a trial; with long trials that would leave a
    dead worker's trial RUNNING for up to a whole trial's time. The check is idempotent across
    workers (the storage lets one of them fail each trial, which re-queues it once).
    """

    def __init__(self, study: optuna.Study, interval: float) -> None:
        super().__init__(name="sb3_hlgauss-stale-trials", daemon=True)
        self.study = study
        self.interval = interval
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            fail_stale_trials(self.study)

    def stop(self) -> None:
        self._stop_event.set()


def fail_stale_trials(study: optuna.Study) -> None:
    """Optuna's ``fail_stale_trials`` (it fails the trials whose worker stopped beating and re-queues
    them), under this process's lock and tolerant of a briefly unreachable database (it runs again soon)."""
    import sqlalchemy.exc

    with warnings.catch_warnings(), _STALE_CHECK_LOCK:
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            optuna.storages.fail_stale_trials(study)
        except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError) as error:
            print(f"sb3_hlgauss: checking for lost trials failed, retrying later: {redact(str(error))}")


def lost_while_running(error: BaseException) -> bool:
    """Whether ``error`` is Optuna refusing to record this worker's trial because another worker had
    already failed it as lost: its heartbeat came later than ``--grace-period`` (an overloaded machine or
    an unreachable database). The trial's configuration was re-queued; the worker itself can go on."""
    if isinstance(error, optuna.exceptions.UpdateFinishedTrialError):
        return True
    return isinstance(error, ValueError) and str(error).startswith(OPTUNA_TELL_FINISHED_TRIAL)


def worker_name() -> str:
    """``host:pid``, stored with every trial (``python -m sb3_hlgauss.zoo study`` counts trials per worker)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def storage_free_copy(study: optuna.Study) -> optuna.Study:
    """The study's trials and attributes in memory, for the report ``.pkl`` (which must not hold the
    storage: an RDB storage pickles its URL, password included)."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # not "A new study created in memory"
    try:
        copy = optuna.create_study(study_name=study.study_name, directions=study.directions)
    finally:
        optuna.logging.set_verbosity(verbosity)
    for key, value in study.user_attrs.items():
        copy.set_user_attr(key, value)
    copy.add_trials([trial for trial in study.get_trials(deepcopy=True) if trial.state != TrialState.RUNNING])
    return copy


def load_study(url: str, study_name: str) -> optuna.Study:
    """Load an existing study (no heartbeat: a reader does not run trials).

    :raises LookupError: naming the studies the storage holds, if ``study_name`` is not one of them.
    """
    storage = open_storage(url, TuningOptions(heartbeat_interval=None))
    names = [summary.study_name for summary in optuna.get_all_study_summaries(storage, include_best_trial=False)]
    if study_name not in names:
        raise LookupError(f"no study {study_name!r} in {redact_url(url)}; it holds {sorted(names)}")
    return optuna.load_study(storage=storage, study_name=study_name)

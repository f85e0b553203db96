"""Tuning across processes and machines, through the real CLI, on real storages (issue 14).

PostgreSQL tests use the server named by ``$SB3_HLGAUSS_TEST_PG_URL`` (a role that may create
databases; ``eval "$(bash scripts/postgres.sh start)"`` starts one, and ``.ci/run`` does). Without it they
are skipped with the reason, unless ``$SB3_HLGAUSS_REQUIRE_POSTGRES`` is set (CI), where they fail.
Every test makes a fresh database or file. Trials are tiny (a few hundred CartPole steps).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

pytest.importorskip("rl_zoo3")
optuna = pytest.importorskip("optuna")

from optuna.trial import TrialState  # noqa: E402

from sb3_hlgauss.zoo import tuning  # noqa: E402
from sb3_hlgauss.zoo.__main__ import split_tuning_args  # noqa: E402
from sb3_hlgauss.zoo.study import trial_kind  # noqa: E402

PG_URL_ENV = "SB3_HLGAUSS_TEST_PG_URL"
REQUIRE_PG_ENV = "SB3_HLGAUSS_REQUIRE_POSTGRES"
#: Heartbeat settings of the fault-tolerance tests (seconds): a lost trial is failed within GRACE + INTERVAL.
INTERVAL, GRACE = 1, 3


class Storage(NamedTuple):
    kind: str
    url: str  #: what the workers get as --storage (PostgreSQL: no password in it)
    env: dict[str, str]  #: environment of the workers (PostgreSQL: PGPASSWORD)
    secret: str | None  #: the password, which must appear nowhere
    url_with_password: str | None = None


# --------------------------------------------------------------------------------------------------
# Storages
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    url = os.environ.get(PG_URL_ENV)
    reason = None
    if not url:
        reason = f"no PostgreSQL server: ${PG_URL_ENV} is not set (eval \"$(bash scripts/postgres.sh start)\" starts one)"
    else:
        try:
            import psycopg

            with psycopg.connect(url, connect_timeout=10):
                pass
        except Exception as error:  # noqa: BLE001 - any reason the server cannot be used
            reason = f"PostgreSQL at {tuning.redact(url)} cannot be used: {type(error).__name__}: {error}"
    if reason is not None:
        if os.environ.get(REQUIRE_PG_ENV):
            pytest.fail(f"{reason} (and ${REQUIRE_PG_ENV} is set)")
        pytest.skip(reason)
    return url  # type: ignore[return-value]


@pytest.fixture
def postgres(postgres_admin_url: str) -> Iterator[Storage]:
    """A fresh database on the test server, dropped afterwards."""
    import psycopg

    name = f"sb3_hlgauss_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    parts = urllib.parse.urlsplit(postgres_admin_url)
    password = urllib.parse.unquote(parts.password or "")
    host = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    user = urllib.parse.unquote(parts.username or "")
    url = f"postgresql://{user}@{host}/{name}"
    with_password = f"postgresql://{user}:{urllib.parse.quote(password, safe='')}@{host}/{name}"
    yield Storage("postgresql", url, {"PGPASSWORD": password}, password, with_password)
    with psycopg.connect(postgres_admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _file_storage(kind: str, tmp_path: Path) -> Storage:
    if kind == "sqlite":
        return Storage("sqlite", f"sqlite:///{tmp_path / 'study.db'}", {}, None)
    return Storage("journal", str(tmp_path / "journal" / "study.log"), {}, None)


@pytest.fixture(params=["postgresql", "sqlite", "journal"])
def any_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "postgresql":
        return request.getfixturevalue("postgres")
    return _file_storage(request.param, tmp_path)


@pytest.fixture(params=["postgresql", "sqlite"])
def heartbeat_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """The storages with Optuna's heartbeat (RDB); the journal file has none."""
    if request.param == "postgresql":
        return request.getfixturevalue("postgres")
    return _file_storage(request.param, tmp_path)


def _load(storage: Storage, name: str) -> optuna.Study:
    if storage.env.get("PGPASSWORD"):
        os.environ.setdefault("PGPASSWORD", storage.env["PGPASSWORD"])
    return tuning.load_study(storage.url, name)


# --------------------------------------------------------------------------------------------------
# Workers
# --------------------------------------------------------------------------------------------------


def _env(extra: dict[str, str]) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", **extra}


def tune_args(storage_url: str, study: str, total: int, seed: int, log_dir: str, steps: int = 400, *extra: str) -> list[str]:
    """Cheap trials: learning starts late (at most a few updates), one short evaluation."""
    return [
        "train", "--algo", "hlgauss_dqn", "--env", "CartPole-v1", "-optimize", "-n", str(steps),
        "--max-total-trials", str(total), "--sampler", "tpe", "--pruner", "none", "--n-evaluations", "1",
        "--eval-episodes", "2", "--storage", storage_url, "--study-name", study, "--seed", str(seed),
        "--no-optim-plots", "-f", log_dir, "-params", f"learning_starts:{steps - 10}", *extra,
    ]  # fmt: skip


def start(args: list[str], cwd: Path, env: dict[str, str], log: str) -> subprocess.Popen:
    out = open(cwd / log, "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "sb3_hlgauss.zoo", *args], cwd=cwd, env=_env(env), stdout=out, stderr=subprocess.STDOUT)


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "sb3_hlgauss.zoo", *args], cwd=cwd, env=_env(env or {}), capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-4000:]}")
    return result


def wait_all(workers: list[subprocess.Popen], cwd: Path, timeout: float = 400) -> None:
    deadline = time.monotonic() + timeout
    for number, worker in enumerate(workers):
        returncode = worker.wait(timeout=max(1.0, deadline - time.monotonic()))
        assert returncode == 0, f"worker {number} exited with {returncode}:\n" + "\n".join(
            path.read_text()[-3000:] for path in sorted(cwd.glob("worker*.log"))
        )


def finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [trial for trial in study.get_trials(deepcopy=False) if tuning.counts_towards_total(trial)]


def param_sets(trials: list[optuna.trial.FrozenTrial]) -> list[tuple]:
    return [tuple(sorted(trial.params.items())) for trial in trials]


# --------------------------------------------------------------------------------------------------
# Fast unit tests
# --------------------------------------------------------------------------------------------------


def test_redact_removes_passwords():
    assert tuning.redact("postgresql://tuner:s3cr%40t@db:5432/optuna") == "postgresql://tuner:***@db:5432/optuna"
    assert tuning.redact("--storage=mysql+pymysql://u:p@h/db -n 3") == "--storage=mysql+pymysql://u:***@h/db -n 3"
    assert tuning.redact("host=db password=hunter2 user=x") == "host=db password=*** user=x"
    for safe in ("postgresql://tuner@db/optuna", "sqlite:///a.db", "logs/study.log", "lr:0.001"):
        assert tuning.redact(safe) == safe
    assert tuning.has_password("postgresql://a:b@h/d") and not tuning.has_password("postgresql://a@h/d")


def test_tuning_flags_are_checked():
    options, rest = split_tuning_args(["--env", "X", "--heartbeat-interval", "5", "--trial-id", "best", "-n", "3"])
    assert rest == ["--env", "X", "-n", "3"]
    assert (options.heartbeat_interval, options.grace_period, options.trial) == (5, None, "best")
    assert split_tuning_args(["--trial-id", "0"])[0].trial == 0
    assert split_tuning_args(["--heartbeat-interval", "0"])[0].heartbeat_enabled is False
    with pytest.raises(ValueError, match="--grace-period"):
        split_tuning_args(["--heartbeat-interval", "10", "--grace-period", "5"])
    with pytest.raises(ValueError, match="trial-id"):
        split_tuning_args(["--trial-id", "last"])
    with pytest.raises(ValueError, match="max-retry"):
        split_tuning_args(["--max-retry", "-1"])


def _sample(study: optuna.Study, n: int) -> list[float]:
    values = []
    for _ in range(n):
        trial = study.ask()
        values.append(trial.suggest_float("x", 0.0, 1.0))
        study.tell(trial, values[-1])
    return values


def test_sampler_is_seeded_per_trial_number():
    def make(seed: int | None) -> optuna.samplers.BaseSampler:
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=3)

    first = _sample(optuna.create_study(sampler=tuning.TrialSeededSampler(make, 0)), 6)
    again = _sample(optuna.create_study(sampler=tuning.TrialSeededSampler(make, 0)), 6)
    assert first == again  # one worker, fixed seed: reproducible (startup and TPE phase)
    assert len(set(first)) == 6
    # A restarted worker (a new sampler object, same seed) on the same study goes on with new values.
    study = optuna.create_study(sampler=tuning.TrialSeededSampler(make, 0))
    head = _sample(study, 3)
    study.sampler = tuning.TrialSeededSampler(make, 0)
    assert not set(_sample(study, 3)) & set(head)
    # Why: the zoo's one sampler per worker, seeded with --seed, replays its first trials on a restart.
    plain = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=10))
    replay = _sample(plain, 3)
    plain.sampler = optuna.samplers.TPESampler(seed=0, n_startup_trials=10)
    assert _sample(plain, 3) == replay


def test_budget_counts_finished_trials_only():
    study = optuna.create_study()
    study.add_trial(optuna.create_trial(state=TrialState.COMPLETE, value=1.0))
    study.add_trial(optuna.create_trial(state=TrialState.PRUNED))
    study.add_trial(optuna.create_trial(state=TrialState.FAIL, user_attrs={tuning.FAIL_REASON_ATTR: "ValueError: x"}))
    study.add_trial(optuna.create_trial(state=TrialState.FAIL))  # lost with its worker
    study.add_trial(optuna.create_trial(state=TrialState.FAIL, user_attrs={tuning.NOT_RUN_ATTR: "full"}))
    study.add_trial(optuna.create_trial(state=TrialState.WAITING))
    counts = tuning.trial_counts(study)
    assert counts == tuning.TrialCounts(finished=3, running=0, lost=1, not_run=1)
    assert [trial_kind(trial) for trial in study.trials] == ["COMPLETE", "PRUNED", "FAIL", "LOST", "NOT_RUN", "WAITING"]
    # The next trial (number 6, the waiting one) fits a budget of 4 but not of 3.
    trial = study.ask()
    assert trial.number == 5
    tuning.check_room_for(study, trial, 4)
    with pytest.raises(tuning.StudyFull):
        tuning.check_room_for(study, trial, 3)
    assert tuning.NOT_RUN_ATTR in study.trials[5].user_attrs


def test_a_requeued_trial_keeps_its_place():
    """A lost trial's re-queued copy (WAITING) holds a place against a trial created at the same time,
    whichever got the lower number; the popped copy itself runs."""
    study = optuna.create_study()
    for _ in range(3):
        study.add_trial(optuna.create_trial(state=TrialState.COMPLETE, value=1.0))
    new = study.ask()  # created just before the lost trial's copy was queued: number 3
    study.add_trial(optuna.create_trial(state=TrialState.WAITING, system_attrs={"failed_trial": 0}))
    with pytest.raises(tuning.StudyFull):
        tuning.check_room_for(study, new, 4)
    study.tell(new, state=TrialState.FAIL)
    requeued = study.ask()
    assert requeued.number == 4 and study.trials[4].system_attrs["failed_trial"] == 0
    tuning.check_room_for(study, requeued, 4)


# --------------------------------------------------------------------------------------------------
# Many workers on one study
# --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_workers_started_together_on_a_fresh_database(any_storage: Storage, tmp_path: Path):
    """3 workers at the same moment on a fresh database (no study, no tables): all succeed, and the study
    ends with exactly --max-total-trials finished trials, uniquely numbered, none replayed."""
    workers = [
        start(tune_args(any_storage.url, "together", 6, 0, f"tune{i}"), tmp_path, any_storage.env, f"worker{i}.log")
        for i in range(3)
    ]  # the same --seed on purpose: each trial's sampler seed comes from its number
    wait_all(workers, tmp_path)
    study = _load(any_storage, "together")
    trials = study.get_trials(deepcopy=False)
    done = finished(study)
    assert len(done) == 6, [(trial.number, trial_kind(trial)) for trial in trials]
    assert all(trial.state in (TrialState.COMPLETE, TrialState.PRUNED) for trial in done)
    assert not [trial for trial in trials if trial.state in (TrialState.RUNNING, TrialState.WAITING)]
    assert len({trial.number for trial in trials}) == len(trials)
    assert len(set(param_sets(done))) == 6  # no worker replayed another's parameters
    assert len({trial.user_attrs[tuning.WORKER_ATTR] for trial in done}) >= 2  # the work was shared
    # Closed unrun only when a worker lost the race for the last places.
    assert all(trial_kind(trial) == "NOT_RUN" for trial in trials if trial not in done)


def describe(study: optuna.Study, cwd: Path) -> str:
    """The study's trials and the workers' output, for a failing assertion's message."""
    rows = [
        f"  {trial.number}: {trial_kind(trial)} worker={trial.user_attrs.get(tuning.WORKER_ATTR)} "
        f"retry_of={trial.system_attrs.get('failed_trial')}"
        for trial in study.get_trials(deepcopy=False)
    ]
    logs = [f"--- {path.name}\n{path.read_text()[-2500:]}" for path in sorted(cwd.glob("worker*.log"))]
    return "\n".join(["trials:", *rows, *logs])


def running_trial_of(storage: Storage, study_name: str, worker: subprocess.Popen, cwd: Path) -> optuna.trial.FrozenTrial:
    """The first trial seen RUNNING in ``worker`` (waits up to 3 minutes, polling the storage)."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        time.sleep(0.3)
        try:
            study = _load(storage, study_name)
        except Exception:  # noqa: BLE001 - the study may not exist yet
            continue
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if trial.user_attrs.get(tuning.WORKER_ATTR, "").endswith(f":{worker.pid}"):
                return trial
    raise AssertionError(f"worker {worker.pid} never started a trial\n" + describe(_load(storage, study_name), cwd))


@pytest.mark.slow
def test_killed_worker_trial_is_failed_requeued_and_the_study_completes(heartbeat_storage: Storage, tmp_path: Path):
    storage = heartbeat_storage
    flags = ("--heartbeat-interval", str(INTERVAL), "--grace-period", str(GRACE))

    # The victim starts first, with trials far too long to end during the test (it dies mid-trial on any
    # machine); the survivor, with short trials, joins once the victim's trial runs, so the victim's trial
    # holds one of the 4 places and the survivor needs its re-queued configuration to finish the study.
    victim = start(tune_args(storage.url, "kill", 4, 2, "tune1", 1_000_000, *flags), tmp_path, storage.env, "worker1.log")
    victim_trial = running_trial_of(storage, "kill", victim, tmp_path).number
    survivor = start(tune_args(storage.url, "kill", 4, 1, "tune0", 600, *flags), tmp_path, storage.env, "worker0.log")
    running_trial_of(storage, "kill", survivor, tmp_path)
    os.kill(victim.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    victim.wait(timeout=30)
    assert _load(storage, "kill").trials[victim_trial].state in (TrialState.RUNNING, TrialState.FAIL)

    failed_after = None
    while time.monotonic() - killed_at < 60:
        trial = _load(storage, "kill").trials[victim_trial]
        if trial.state == TrialState.FAIL:
            failed_after = time.monotonic() - killed_at
            break
        time.sleep(0.2)
    assert failed_after is not None, "the killed worker's trial stayed RUNNING\n" + describe(_load(storage, "kill"), tmp_path)
    # Documented bound: grace period + one interval (plus the polling and a loaded machine's slack).
    assert failed_after <= GRACE + INTERVAL + 6, failed_after

    wait_all([survivor], tmp_path)
    study = _load(storage, "kill")
    trials = study.get_trials(deepcopy=False)
    report = describe(study, tmp_path)
    assert not [trial for trial in trials if trial.state in (TrialState.RUNNING, TrialState.WAITING)], report
    assert len(finished(study)) == 4, report
    assert trial_kind(trials[victim_trial]) == "LOST", report
    retries = [trial for trial in trials if trial.system_attrs.get("failed_trial") == victim_trial]
    assert len(retries) == 1 and retries[0].params == trials[victim_trial].params, report
    assert tuning.counts_towards_total(retries[0]), report  # the survivor ran the lost configuration
    assert retries[0].user_attrs[tuning.WORKER_ATTR].endswith(f":{survivor.pid}"), report


@pytest.mark.slow
def test_worker_whose_trial_was_marked_lost_goes_on(tmp_path: Path):
    """A false alarm of the heartbeat check (another worker fails a live worker's trial, e.g. after a
    database outage longer than the grace period) drops that trial's result but not the worker."""
    storage = _file_storage("sqlite", tmp_path)
    flags = ("--heartbeat-interval", str(INTERVAL), "--grace-period", str(GRACE), "--n-evaluations", "20")
    worker = start(tune_args(storage.url, "alarm", 2, 0, "tune", 20_000, *flags), tmp_path, storage.env, "worker0.log")
    trial = running_trial_of(storage, "alarm", worker, tmp_path)
    _load(storage, "alarm")._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)  # what fail_stale_trials does
    marked = trial.number
    wait_all([worker], tmp_path)
    study = _load(storage, "alarm")
    report = describe(study, tmp_path)
    assert trial_kind(study.trials[marked]) == "LOST", report
    assert len(finished(study)) == 2, report
    assert "marked this worker's trial lost while it ran" in (tmp_path / "worker0.log").read_text(), report


@pytest.mark.slow
def test_restarted_worker_does_not_replay_and_one_worker_is_reproducible(heartbeat_storage: Storage, tmp_path: Path):
    storage = heartbeat_storage
    run(tune_args(storage.url, "restart", 2, 0, "tune"), tmp_path, storage.env)
    run(tune_args(storage.url, "restart", 4, 0, "tune"), tmp_path, storage.env)  # the same command, restarted
    trials = finished(_load(storage, "restart"))
    assert len(trials) == 4
    assert not set(param_sets(trials[:2])) & set(param_sets(trials[2:]))
    if storage.kind == "sqlite":  # a fresh study, the same single worker and seed: the same trials
        fresh = _file_storage("sqlite", tmp_path / "fresh")
        (tmp_path / "fresh").mkdir()
        run(tune_args(fresh.url, "restart", 2, 0, "tune"), tmp_path)
        assert param_sets(finished(_load(fresh, "restart"))) == param_sets(trials[:2])


# --------------------------------------------------------------------------------------------------
# Retraining the best trial; the study command; credentials
# --------------------------------------------------------------------------------------------------


def _check_retrained(tmp_path: Path, log_dir: str, trial: optuna.trial.FrozenTrial, output: str) -> None:
    from sb3_hlgauss import HLGaussDQN

    run_dir = next((tmp_path / log_dir / "hlgauss_dqn").glob("CartPole-v1_*"))
    model = HLGaussDQN.load(run_dir / "CartPole-v1.zip")
    assert model.lr_schedule(1.0) == pytest.approx(trial.params["learning_rate"])
    assert model.loss == trial.params["loss"] and model.num_bins == trial.params["num_bins"]
    config = dict(yaml.load((run_dir / "CartPole-v1" / "config.yml").read_text(), Loader=yaml.UnsafeLoader))
    assert config["loss"] == model.loss and config["num_bins"] == model.num_bins
    assert config["learning_rate"] == pytest.approx(trial.params["learning_rate"])
    assert config["v_max"] == pytest.approx(model.v_max)
    printed = output[output.index("Hyperparameters (") :]
    assert f"('loss', '{model.loss}')" in printed and f"('num_bins', {model.num_bins})" in printed
    record = yaml.safe_load((run_dir / "CartPole-v1" / "trial.yml").read_text())
    assert record["trial"] == trial.number and record["params"] == trial.params


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_best_trial_retrains_and_the_study_command_reports(kind: str, tmp_path: Path):
    storage = _file_storage(kind, tmp_path)
    run(tune_args(storage.url, "best", 3, 0, "tune"), tmp_path)
    study = _load(storage, "best")
    best = study.best_trial
    result = run(
        ["train", "--env", "CartPole-v1", "-n", "300", "--eval-freq", "-1", "-f", "logs", "--storage", storage.url,
         "--study-name", "best", "--trial-id", "best", "-params", "learning_starts:290"], tmp_path,
    )  # fmt: skip
    _check_retrained(tmp_path, "logs", best, result.stdout)

    report = run(["study", "--storage", storage.url, "--study-name", "best", "--plots", "plots"], tmp_path).stdout
    assert "3 trials, 3 finished" in report and f"Best trial: {best.number}, value {best.value}" in report
    assert "Trials per worker (host:pid):" in report and ": 3 (" in report
    for name in ("optimization_history", "param_importances", "timeline"):
        assert (tmp_path / "plots" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    listing = run(["study", "--storage", storage.url], tmp_path).stdout
    assert "best: 3 trials" in listing


@pytest.mark.slow
def test_no_password_is_stored_anywhere(postgres: Storage, tmp_path: Path):
    """The password given in --storage reaches neither the database, nor the reports, nor the run folder,
    nor the output; and the best trial retrains from PostgreSQL with the credentials from the environment."""
    secret = postgres.secret
    assert secret and postgres.url_with_password
    outputs = [run(tune_args(postgres.url_with_password, "secret", 2, 0, "tune"), tmp_path, {"PGPASSWORD": ""})]
    study = _load(postgres, "secret")
    outputs.append(run(
        ["train", "--env", "CartPole-v1", "-n", "300", "--eval-freq", "-1", "-f", "logs", "--storage",
         postgres.url_with_password, "--study-name", "secret", "--trial-id", "best", "-params", "learning_starts:290"],
        tmp_path, {"PGPASSWORD": ""},
    ))  # fmt: skip
    outputs.append(run(["study", "--storage", postgres.url_with_password, "--study-name", "secret"], tmp_path, {"PGPASSWORD": ""}))
    # The recommended way: no password on the command line at all.
    outputs.append(run(["study", "--study-name", "secret"], tmp_path, {"OPTUNA_STORAGE": postgres.url, **postgres.env}))
    _check_retrained(tmp_path, "logs", study.best_trial, outputs[1].stdout)

    for result in outputs:
        assert secret not in result.stdout + result.stderr
    assert "sb3_test:***@" in outputs[0].stdout
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert any(path.suffix == ".pkl" for path in files) and any(path.name == "args.yml" for path in files)
    for path in files:
        assert secret.encode() not in path.read_bytes(), path
    assert "sb3_test:***@" in study.user_attrs["command"]

    import psycopg

    with psycopg.connect(postgres.url, password=secret) as connection:
        tables = [row[0] for row in connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        assert "trials" in tables and "study_user_attributes" in tables
        for table in tables:
            for (row,) in connection.execute(f'SELECT t::text FROM "{table}" t'):
                assert secret not in row, table


# --------------------------------------------------------------------------------------------------
# One-line errors that leave no run folder
# --------------------------------------------------------------------------------------------------


def _one_line_error(result: subprocess.CompletedProcess, *needles: str) -> str:
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def _no_run_folder(tmp_path: Path, algo: str) -> None:
    folder = tmp_path / "logs" / algo
    assert not folder.exists() or not any(folder.iterdir()), list(folder.rglob("*"))


def test_broken_yaml_is_one_line(tmp_path: Path):
    conf = tmp_path / "broken.yml"
    conf.write_text("CartPole-v1:\n  policy: 'MlpPolicy'\n  loss: [hl_gauss\n  num_bins: 51\n")
    result = run(["train", "--env", "CartPole-v1", "-f", "logs", "--conf-file", str(conf)], tmp_path, check=False)
    _one_line_error(result, str(conf), "not valid YAML", "line")
    _no_run_folder(tmp_path, "hlgauss_dqn")


def test_discrete_env_for_sac_is_one_line_and_leaves_no_run_folder(tmp_path: Path):
    conf = tmp_path / "sac.yml"
    conf.write_text(yaml.safe_dump({"CartPole-v1": {"policy": "MlpPolicy", "n_timesteps": 100}}))
    result = run(["train", "--algo", "hlgauss_sac", "--env", "CartPole-v1", "-f", "logs", "--conf-file", str(conf)], tmp_path, check=False)
    _one_line_error(result, "hlgauss_sac", "Box")
    _no_run_folder(tmp_path, "hlgauss_sac")


@pytest.mark.slow
def test_continue_training_with_another_support_is_one_line(tmp_path: Path):
    run(["train", "--env", "CartPole-v1", "-n", "200", "--eval-freq", "-1", "-f", "first", "-params", "learning_starts:190"], tmp_path)
    model = next((tmp_path / "first" / "hlgauss_dqn").glob("CartPole-v1_*/CartPole-v1.zip"))
    result = run(
        ["train", "--env", "CartPole-v1", "-n", "200", "-f", "logs", "-i", str(model), "-params", "num_bins:11"], tmp_path, check=False
    )
    _one_line_error(result, "num_bins")
    _no_run_folder(tmp_path, "hlgauss_dqn")


def test_unknown_loss_names_gym_packages(tmp_path: Path):
    result = run(["train", "--env", "CartPole-v1", "-f", "logs", "-params", "loss:'my_loss'"], tmp_path, check=False)
    _one_line_error(result, "my_loss", "--gym-packages")
    _no_run_folder(tmp_path, "hlgauss_dqn")


def test_storage_without_trial_id_is_rejected(tmp_path: Path):
    result = run(["train", "--env", "CartPole-v1", "-f", "logs", "--storage", "sqlite:///x.db", "--study-name", "s"], tmp_path, check=False)
    _one_line_error(result, "--trial-id best")
    assert not (tmp_path / "x.db").exists()

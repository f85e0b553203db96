"""RL Zoo integration, end to end through the real CLI (``python -m sb3_hlgauss.zoo``, subprocesses).

Train each of our algorithms from zoo_configs/ on a small environment, enjoy and reload the saved
model, continue training it, tune with Optuna in an SQLite storage (one worker and two concurrent
workers on one study), prune diverging trials, reject invalid hyperparameter files with our message,
and plot the training logs. Plus fast unit tests of the argument handling and the samplers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("rl_zoo3")
optuna = pytest.importorskip("optuna")

from optuna.trial import FixedTrial, TrialState  # noqa: E402

from sb3_hlgauss.common.torch_layers import MinAtarCNN  # noqa: E402
from sb3_hlgauss.zoo import OUR_ALGOS, available_algos, config_path, register_zoo  # noqa: E402
from sb3_hlgauss.zoo.__main__ import DEFAULT_TRAIN_ARGS, prepare_args  # noqa: E402
from sb3_hlgauss.zoo.samplers import (  # noqa: E402
    LOSS_PARAM_NAMES,
    convert_classification_params,
    reset_base_hyperparams,
    set_base_hyperparams,
)

ROOT = Path(__file__).resolve().parents[1]
#: Small runs of each algorithm: (algo, env, extra zoo flags).
SMALL_RUNS = {
    "hlgauss_dqn": ("CartPole-v1", ["-n", "2000", "-params", "learning_starts:1000"]),
    "hlgauss_sac": ("Pendulum-v1", ["-n", "1000", "-params", "learning_starts:500", "batch_size:64"]),
    "hlgauss_td3": ("Pendulum-v1", ["-n", "1000", "-params", "learning_starts:500", "batch_size:64"]),
}


def _require(algo: str) -> type:
    algos = available_algos()
    if algo not in algos:
        module, name = OUR_ALGOS[algo]
        pytest.skip(f"{module}.{name} does not exist yet")
    return algos[algo]


def zoo(*args: str, cwd: Path, timeout: float = 240, check: bool = True, extra_env: dict | None = None):
    """Run ``python -m sb3_hlgauss.zoo ARGS`` in ``cwd``; return the completed process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", **(extra_env or {})}
    result = subprocess.run(
        [sys.executable, "-m", "sb3_hlgauss.zoo", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit status {result.returncode}\nstdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-5000:]}")
    return result


def _start_worker(*args: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    return subprocess.Popen(
        [sys.executable, "-m", "sb3_hlgauss.zoo", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


#: -optimize flags for cheap trials: few steps, learning starts late (at most 10 updates per trial: the
#: sampled batch size goes up to 2048).
def _optimize_flags(storage: str, study: str, n_trials: int, seed: int, log_dir: str) -> list[str]:
    return [
        "train", "--algo", "hlgauss_dqn", "--env", "CartPole-v1", "-optimize",
        "-n", "400", "--n-trials", str(n_trials), "--n-jobs", "1", "--sampler", "tpe", "--pruner", "median",
        "--n-evaluations", "2", "--eval-episodes", "2", "--storage", storage, "--study-name", study,
        "--seed", str(seed), "--no-optim-plots", "-f", log_dir, "-params", "learning_starts:390",
    ]  # fmt: skip


# --------------------------------------------------------------------------------------------------
# Registration and argument handling (in process, fast)
# --------------------------------------------------------------------------------------------------


def test_register_zoo_in_place():
    from rl_zoo3 import exp_manager, hyperparams_opt, train, utils

    algos = register_zoo()
    assert register_zoo() == algos  # idempotent
    assert "hlgauss_dqn" in algos
    for name, algo_class in algos.items():
        assert utils.ALGOS[name] is algo_class
        assert callable(hyperparams_opt.HYPERPARAMS_SAMPLER[name])
        if name in OUR_ALGOS:
            assert hyperparams_opt.HYPERPARAMS_CONVERTER[name] is convert_classification_params
    assert utils.ALGOS["dqn"].__name__ == "DQN"  # the zoo's own algorithms stay
    if "mse_dqn" in available_algos(include_baselines=True):  # our MSE baseline, tuned like DQN
        assert utils.ALGOS["mse_dqn"].__name__ == "MSEDQN"
        assert "mse_dqn" in hyperparams_opt.HYPERPARAMS_SAMPLER
    assert exp_manager.MinAtarCNN is MinAtarCNN  # YAML policy_kwargs may name it
    assert issubclass(train.ExperimentManager, exp_manager.ExperimentManager)


def test_prepare_args_defaults():
    conf = str(config_path("hlgauss_dqn"))
    assert prepare_args("train", []) == [*DEFAULT_TRAIN_ARGS, "--conf-file", conf]
    # --algo defaults to hlgauss_dqn (scripts/main.sh passes only the flags the user gave).
    assert prepare_args("train", ["--env", "Acrobot-v1"]) == ["--algo", "hlgauss_dqn", "--env", "Acrobot-v1", "--conf-file", conf]
    # A user's --conf-file wins; the zoo's own algorithms keep the zoo's files.
    assert "--conf-file" not in prepare_args("train", ["--algo", "dqn", "--env", "CartPole-v1"])
    assert prepare_args("train", ["--algo", "hlgauss_dqn", "-conf", "mine.yml"]).count("mine.yml") == 1
    assert conf not in prepare_args("train", ["--algo", "hlgauss_dqn", "--conf-file=mine.yml"])
    # `--conf-file sb3_hlgauss` selects our baseline file for SB3's algorithms.
    assert prepare_args("train", ["--algo", "dqn", "--conf-file", "sb3_hlgauss"]) == [
        "--algo", "dqn", "--conf-file", str(config_path("dqn"))
    ]  # fmt: skip
    # enjoy acts greedily for our algorithms unless asked otherwise.
    assert "--deterministic" in prepare_args("enjoy", ["--algo", "hlgauss_dqn"])
    assert "--deterministic" not in prepare_args("enjoy", ["--algo", "hlgauss_dqn", "--stochastic"])
    assert "--deterministic" not in prepare_args("enjoy", ["--algo", "dqn"])
    # Our MSE baseline defaults to our file, like our algorithms.
    assert prepare_args("train", ["--algo", "mse_dqn"]) == ["--algo", "mse_dqn", "--conf-file", str(config_path("mse_dqn"))]


def test_sampler_merges_with_the_file():
    """Sampled policy_kwargs merge with the file's (the MinAtar extractor survives), the file's range is
    scaled, and sigma_ratio is only set for hl_gauss."""
    from rl_zoo3.hyperparams_opt import HYPERPARAMS_SAMPLER

    algo_class = register_zoo()["hlgauss_dqn"]
    base = {
        "policy_kwargs": dict(features_extractor_class=MinAtarCNN, net_arch=[128]),
        "v_min": -10.0,
        "v_max": 110.0,
        "sigma_ratio": 0.75,
    }
    zoo_params = dict(
        one_minus_gamma=0.01, batch_size_pow=5, learning_rate=1e-3, train_freq=4, subsample_steps=2,
        exploration_final_eps=0.05, exploration_fraction=0.1, target_update_interval=1000, net_arch="medium",
    )  # fmt: skip
    token = set_base_hyperparams(algo_class, base)
    try:
        two_hot = HYPERPARAMS_SAMPLER["hlgauss_dqn"](
            FixedTrial({**zoo_params, "loss": "two_hot", "num_bins": 51, "value_scale": "fixed", "v_range_scale": 2.0}), 0, 1, {"using_her_replay_buffer": False}
        )
        hl_gauss = HYPERPARAMS_SAMPLER["hlgauss_dqn"](
            FixedTrial({**zoo_params, "loss": "hl_gauss", "num_bins": 101, "value_scale": "fixed", "v_range_scale": 0.5, "sigma_ratio": 1.5}),
            0, 1, {"using_her_replay_buffer": False},
        )  # fmt: skip
        auto = HYPERPARAMS_SAMPLER["hlgauss_dqn"](
            FixedTrial({**zoo_params, "loss": "hl_gauss", "num_bins": 51, "value_scale": "auto", "sigma_ratio": 1.0}),
            0, 1, {"using_her_replay_buffer": False},
        )  # fmt: skip
    finally:
        reset_base_hyperparams(token)
    # value_scale="auto": the file's hand-set range is not used, the support follows the returns
    assert (auto["value_scale"], auto["v_min"], auto["v_max"]) == ("auto", None, None)
    assert algo_class("MlpPolicy", "CartPole-v1", **{k: v for k, v in auto.items() if k != "policy_kwargs"}).value_scale == "auto"
    assert two_hot["policy_kwargs"] == {"features_extractor_class": MinAtarCNN, "net_arch": [256, 256]}
    assert (two_hot["loss"], two_hot["num_bins"], two_hot["sigma_ratio"]) == ("two_hot", 51, None)
    assert (two_hot["v_min"], two_hot["v_max"]) == (-20.0, 220.0)
    assert (hl_gauss["sigma_ratio"], hl_gauss["v_min"], hl_gauss["v_max"]) == (1.5, -5.0, 55.0)
    assert hl_gauss["batch_size"] == 32 and hl_gauss["gamma"] == pytest.approx(0.99)
    # Both build a model (the sampled settings are valid constructor arguments).
    for sampled in (two_hot, hl_gauss):
        algo_class("MlpPolicy", "CartPole-v1", **{k: v for k, v in sampled.items() if k != "policy_kwargs"})


@pytest.mark.parametrize("algo", ["hlgauss_sac", "hlgauss_td3"])
def test_continuous_samplers_add_loss_settings(algo):
    _require(algo)
    from rl_zoo3.hyperparams_opt import HYPERPARAMS_SAMPLER

    register_zoo()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    sampled = HYPERPARAMS_SAMPLER[algo](trial, 1, 1, {"using_her_replay_buffer": False})
    assert {"loss", "num_bins", "learning_rate", "gamma", "policy_kwargs"} <= set(sampled)
    assert set(LOSS_PARAM_NAMES) - {"sigma_ratio", "v_range_scale"} <= set(trial.params)
    assert ("v_range_scale" in trial.params) == (trial.params["value_scale"] == "fixed")
    assert ("sigma_ratio" in trial.params) == (sampled["loss"] == "hl_gauss")


def test_converter_turns_stored_trials_into_constructor_arguments():
    params = dict(
        one_minus_gamma=0.02, batch_size_pow=6, learning_rate=3e-4, train_freq=2, tau=0.01, net_arch="small",
        noise_type=None, noise_std=0.2, loss="c51", num_bins=51, v_range_scale=2.0,
    )  # fmt: skip
    hyperparams = convert_classification_params(params)
    assert hyperparams["gamma"] == pytest.approx(0.98) and hyperparams["batch_size"] == 64
    assert hyperparams["policy_kwargs"] == {"net_arch": [64, 64]}
    assert (hyperparams["loss"], hyperparams["num_bins"], hyperparams["sigma_ratio"]) == ("c51", 51, None)
    assert hyperparams["v_range_scale"] == 2.0  # resolved against the file by the experiment manager
    assert "noise_type" not in hyperparams and "noise_std" not in hyperparams


# --------------------------------------------------------------------------------------------------
# End to end through the CLI
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "algo", [pytest.param(algo, marks=[pytest.mark.slow] if algo != "hlgauss_dqn" else []) for algo in SMALL_RUNS]
)
def test_train_enjoy_load_continue(algo, tmp_path):
    algo_class = _require(algo)
    env_id, flags = SMALL_RUNS[algo]
    zoo("train", "--algo", algo, "--env", env_id, "--seed", "0", "-f", "logs", "--eval-freq", "-1", *flags, cwd=tmp_path)
    run_dir = tmp_path / "logs" / algo / f"{env_id}_1"
    model_path = run_dir / f"{env_id}.zip"
    assert model_path.is_file()
    # The zoo saved the hyperparameters it used: ours, from zoo_configs/<algo>.yml.
    config = dict(yaml.load((run_dir / env_id / "config.yml").read_text(), Loader=yaml.UnsafeLoader))
    file_settings = yaml.safe_load(config_path(algo).read_text())[env_id]
    assert config["loss"] == file_settings["loss"] and config["num_bins"] == file_settings["num_bins"]

    model = algo_class.load(model_path, device="cpu")
    assert (model.loss, model.num_bins, model.v_min, model.v_max) == (
        file_settings["loss"], file_settings["num_bins"], file_settings["v_min"], file_settings["v_max"]
    )  # fmt: skip
    assert model.num_timesteps >= int(flags[1])

    enjoy = zoo("enjoy", "--algo", algo, "--env", env_id, "-f", "logs", "--no-render", "-n", "300", cwd=tmp_path)
    assert "Loading" in enjoy.stdout and str(model_path.name) in enjoy.stdout

    # Continue training from the saved agent (the zoo's --trained-agent).
    zoo(
        "train", "--algo", algo, "--env", env_id, "-f", "logs", "--eval-freq", "-1", "-n", "300",
        "--trained-agent", str(model_path), "-params", "learning_starts:0", cwd=tmp_path,
    )  # fmt: skip
    continued = algo_class.load(tmp_path / "logs" / algo / f"{env_id}_2" / f"{env_id}.zip", device="cpu")
    assert continued.num_bins == model.num_bins and continued._n_updates > model._n_updates
    obs = np.zeros(continued.observation_space.shape, dtype=continued.observation_space.dtype)
    continued.predict(obs, deterministic=True)

    if algo == "hlgauss_dqn":  # plots: the zoo's plot_train on our monitor logs, saved as a PNG
        zoo("plot_train", "-a", algo, "-e", env_id, "-f", "logs", "-w", "2", "--save", "curve.png", cwd=tmp_path)
        assert (tmp_path / "curve.png").stat().st_size > 1000


def test_default_main_job_command(tmp_path):
    """`python -m sb3_hlgauss.zoo train` with zoo flags but no --algo trains hlgauss_dqn (scripts/main.sh)."""
    zoo("train", "--env", "CartPole-v1", "-n", "300", "--eval-freq", "-1", "-f", "logs", "-params", "learning_starts:100", cwd=tmp_path)
    assert list((tmp_path / "logs" / "hlgauss_dqn").glob("CartPole-v1_1/CartPole-v1.zip"))


def test_baseline_with_our_settings(tmp_path):
    zoo(
        "train", "--algo", "dqn", "--env", "CartPole-v1", "--conf-file", "sb3_hlgauss", "-n", "300",
        "--eval-freq", "-1", "-f", "logs", "-params", "learning_starts:100", cwd=tmp_path,
    )  # fmt: skip
    config = dict(yaml.load(next((tmp_path / "logs" / "dqn").glob("*/CartPole-v1/config.yml")).read_text(), Loader=yaml.UnsafeLoader))
    ours = yaml.safe_load(config_path("hlgauss_dqn").read_text())["CartPole-v1"]
    assert config["learning_rate"] == ours["learning_rate"] and config["policy_kwargs"] == ours["policy_kwargs"]
    assert "loss" not in config


def test_optimize_with_sqlite_then_load_trial_zero(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    zoo(*_optimize_flags(storage, "single", 2, 0, "tune"), cwd=tmp_path, timeout=300)
    study = optuna.load_study(storage=storage, study_name="single")
    assert len(study.trials) == 2
    assert all(trial.state in (TrialState.COMPLETE, TrialState.PRUNED) for trial in study.trials)
    for trial in study.trials:  # our loss settings are tuned with the zoo's DQN ones
        assert {"loss", "num_bins", "value_scale", "learning_rate"} <= set(trial.params)
        assert ("v_range_scale" in trial.params) == (trial.params["value_scale"] == "fixed")
    assert list((tmp_path / "tune" / "hlgauss_dqn").glob("report_CartPole-v1_*.csv"))

    # Train with trial 0's hyperparameters (the zoo alone would load the best trial for --trial-id 0).
    zoo(
        "train", "--env", "CartPole-v1", "-n", "300", "--eval-freq", "-1", "-f", "logs", "--storage", storage,
        "--study-name", "single", "--trial-id", "0", "-params", "learning_starts:290", cwd=tmp_path,
    )  # fmt: skip
    config = dict(yaml.load(next((tmp_path / "logs" / "hlgauss_dqn").glob("*/CartPole-v1/config.yml")).read_text(), Loader=yaml.UnsafeLoader))
    trial0 = study.trials[0].params
    assert config["learning_rate"] == pytest.approx(trial0["learning_rate"])
    assert config["loss"] == trial0["loss"] and config["num_bins"] == trial0["num_bins"]


@pytest.mark.slow
def test_two_concurrent_workers_share_one_study(tmp_path):
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    optuna.create_study(storage=storage, study_name="shared", direction="maximize")
    workers = [
        _start_worker(*_optimize_flags(storage, "shared", 2, seed, f"tune{seed}"), cwd=tmp_path) for seed in (1, 2)
    ]
    outputs = []
    for worker in workers:
        out, _ = worker.communicate(timeout=400)
        outputs.append(out)
        assert worker.returncode == 0, out[-4000:]
    study = optuna.load_study(storage=storage, study_name="shared")
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 4  # 2 + 2: none lost
    assert sorted(trial.number for trial in trials) == [0, 1, 2, 3]  # none duplicated
    assert len({trial._trial_id for trial in trials}) == 4
    assert all(trial.state in (TrialState.COMPLETE, TrialState.PRUNED) for trial in trials)
    # Each worker ran its own two trials.
    for out in outputs:
        assert out.count("finished with value") + out.count("pruned") >= 2, out[-3000:]


NAN_ENV_MODULE = """
import gymnasium as gym
from gymnasium.envs.classic_control import CartPoleEnv


class NaNRewardCartPole(CartPoleEnv):
    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, float("nan"), terminated, truncated, info


gym.register("NaNRewardCartPole-v0", entry_point=NaNRewardCartPole, max_episode_steps=500)
"""


def test_trials_on_bad_data_fail_visibly_and_the_study_goes_on(tmp_path):
    """NaN rewards are a bug of the env, not a diverging set of hyperparameters: each trial ends FAIL (not
    PRUNED, as in 0.2.0), with the reason stored and printed, and the worker runs the next trial.
    (Diverging critics are pruned: tests/test_zoo_pruning.py.)"""
    (tmp_path / "nan_envs.py").write_text(textwrap.dedent(NAN_ENV_MODULE))
    conf = tmp_path / "nan.yml"
    settings = yaml.safe_load(config_path("hlgauss_dqn").read_text())["CartPole-v1"]
    conf.write_text(yaml.safe_dump({"NaNRewardCartPole-v0": settings}))
    storage = f"sqlite:///{tmp_path / 'nan.db'}"
    flags = _optimize_flags(storage, "nan", 2, 0, "tune")
    flags[flags.index("CartPole-v1")] = "NaNRewardCartPole-v0"
    result = zoo(
        *flags, "--conf-file", str(conf), "--gym-packages", "nan_envs", cwd=tmp_path, timeout=300,
        extra_env={"PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])},
    )  # fmt: skip
    study = optuna.load_study(storage=storage, study_name="nan")
    assert [trial.state for trial in study.trials] == [TrialState.FAIL, TrialState.FAIL]
    assert all("NonFiniteDataError" in trial.user_attrs["fail_reason"] for trial in study.trials)
    assert "reward" in result.stdout + result.stderr


def _bad_file(tmp_path: Path, override: dict) -> Path:
    settings = yaml.safe_load(config_path("hlgauss_dqn").read_text())["CartPole-v1"]
    settings.update(override)
    conf = tmp_path / "bad.yml"
    conf.write_text(yaml.safe_dump({"CartPole-v1": settings}))
    return conf


def test_invalid_hyperparameter_file_fails_clearly_from_the_cli(tmp_path):
    conf = _bad_file(tmp_path, {"loss": "hl_gaus"})
    result = zoo("train", "--env", "CartPole-v1", "--conf-file", str(conf), "-n", "100", "-f", "logs", cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert "bad.yml [CartPole-v1]: Unknown loss 'hl_gaus'. Registered losses:" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list((tmp_path / "logs").glob("*/*/*.zip"))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"v_min": 5.0, "v_max": 1.0}, "v_min must be < v_max"),
        ({"v_min": float("nan")}, "finite"),
        ({"num_bins": 1}, "num_bins"),
        ({"value_transform": "log"}, "log"),
        ({"num_binz": 51}, "did you mean 'num_bins'"),
        ({"loss": "two_hot", "sigma_ratio": 0.5}, "does not take"),
        ({"sigma_ratio": -1.0}, "sigma_ratio"),
    ],
)
def test_invalid_hyperparameter_file_fails_clearly(tmp_path, monkeypatch, capsys, override, message):
    """Same entry point, in process (fast): exit status 2 and one line naming the file and the problem."""
    from sb3_hlgauss.zoo.__main__ import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    conf = _bad_file(tmp_path, override)
    assert main(["train", "--env", "CartPole-v1", "--conf-file", str(conf), "-n", "100", "-f", "logs"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("sb3_hlgauss.zoo: error: ") and "bad.yml [CartPole-v1]" in error and message in error
    assert not list((tmp_path / "logs").glob("*/*/*.zip"))


def test_missing_env_entry_fails_clearly(tmp_path, monkeypatch, capsys):
    from sb3_hlgauss.zoo.__main__ import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    assert main(["train", "--env", "MountainCar-v0", "-n", "100", "-f", "logs"]) == 2
    assert "Hyperparameters not found for hlgauss_dqn-MountainCar-v0" in capsys.readouterr().err


@pytest.mark.slow
def test_wheel_ships_zoo_configs(tmp_path):
    """zoo_configs/ is found from an installed wheel, not only from a checkout."""
    import shutil
    import zipfile

    source = tmp_path / "src"
    shutil.copytree(
        ROOT, source, symlinks=True,
        ignore=shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "logs", "__pycache__", ".pytest_cache"),
    )  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "whl")],
        check=True,
        timeout=300,
    )
    wheel = next((tmp_path / "whl").glob("sb3_hlgauss-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {Path(name).name for name in names if name.startswith("sb3_hlgauss/zoo_configs/")}
    assert {path.name for path in (ROOT / "zoo_configs").glob("*.yml")} <= shipped
    assert any(name.endswith("entry_points.txt") for name in names)
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "sb3-hlgauss-zoo = sb3_hlgauss.zoo.__main__:main" in entry_points

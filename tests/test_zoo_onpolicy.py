"""RL Zoo integration of the on-policy algorithms (hlgauss_ppo, hlgauss_a2c), through the real CLI.

Train hlgauss_ppo from zoo_configs/hlgauss_ppo.yml, enjoy and reload the saved model, run two Optuna
trials in an SQLite storage, and check the samplers (the zoo's PPO/A2C samplers plus our loss settings,
without distributional losses). Uses the subprocess helper of tests/test_zoo.py.
"""

from __future__ import annotations

import pytest
import yaml

pytest.importorskip("rl_zoo3")
optuna = pytest.importorskip("optuna")

from optuna.trial import FixedTrial, TrialState  # noqa: E402

from sb3_hlgauss import HLGaussPPO  # noqa: E402
from sb3_hlgauss.zoo import config_path, register_zoo  # noqa: E402
from sb3_hlgauss.zoo.samplers import (  # noqa: E402
    ON_POLICY_LOSS_CHOICES,
    convert_classification_params,
    reset_base_hyperparams,
    set_base_hyperparams,
)
from tests.test_zoo import zoo  # noqa: E402

PPO_TRIAL = dict(
    batch_size_pow=5, n_steps_pow=6, one_minus_gamma=0.02, one_minus_gae_lambda=0.05, learning_rate=1e-3,
    ent_coef=1e-4, clip_range=0.2, n_epochs=5, max_grad_norm=0.5, net_arch="small", activation_fn="tanh",
)  # fmt: skip


@pytest.mark.parametrize("algo", ["hlgauss_ppo", "hlgauss_a2c"])
def test_registered_with_on_policy_samplers(algo):
    from rl_zoo3 import hyperparams_opt, utils

    algos = register_zoo()
    assert utils.ALGOS[algo] is algos[algo]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(4):
        trial = study.ask()
        sampled = hyperparams_opt.HYPERPARAMS_SAMPLER[algo](trial, 1, 1, {})
        assert sampled["loss"] in ON_POLICY_LOSS_CHOICES  # never c51: refused for lambda-returns
        assert {"gamma", "gae_lambda", "n_steps", "policy_kwargs", "num_bins", "v_min", "v_max"} <= set(sampled)
        assert ("sigma_ratio" in trial.params) == (sampled["loss"] == "hl_gauss")


def test_ppo_sampler_merges_with_the_file_and_builds():
    from rl_zoo3.hyperparams_opt import HYPERPARAMS_SAMPLER

    algo_class = register_zoo()["hlgauss_ppo"]
    base = {"policy_kwargs": dict(ortho_init=False), "v_min": -100.0, "v_max": 100.0}
    token = set_base_hyperparams(algo_class, base)
    try:
        trial = FixedTrial({**PPO_TRIAL, "loss": "two_hot", "num_bins": 51, "value_scale": "fixed", "v_range_scale": 2.0})
        sampled = HYPERPARAMS_SAMPLER["hlgauss_ppo"](trial, 2, 1, {})
    finally:
        reset_base_hyperparams(token)
    assert sampled["policy_kwargs"]["ortho_init"] is False and sampled["policy_kwargs"]["net_arch"] == dict(pi=[64, 64], vf=[64, 64])
    assert (sampled["loss"], sampled["num_bins"], sampled["sigma_ratio"], sampled["v_min"], sampled["v_max"]) == (
        "two_hot", 51, None, -200.0, 200.0
    )  # fmt: skip
    assert (sampled["n_steps"], sampled["batch_size"]) == (64, 32)
    algo_class("MlpPolicy", "CartPole-v1", **sampled)
    # Stored trials convert with the zoo's on-policy converter.
    converted = convert_classification_params({**PPO_TRIAL, "loss": "hl_gauss", "num_bins": 21, "sigma_ratio": 1.0})
    assert converted["gae_lambda"] == pytest.approx(0.95) and converted["n_steps"] == 64
    assert (converted["loss"], converted["sigma_ratio"]) == ("hl_gauss", 1.0)


def test_train_enjoy_load_and_two_optuna_trials(tmp_path):
    zoo("train", "--algo", "hlgauss_ppo", "--env", "CartPole-v1", "--seed", "0", "-f", "logs", "--eval-freq", "-1",
        "-n", "2048", cwd=tmp_path)  # fmt: skip
    run_dir = tmp_path / "logs" / "hlgauss_ppo" / "CartPole-v1_1"
    file_settings = yaml.safe_load(config_path("hlgauss_ppo").read_text())["CartPole-v1"]
    config = dict(yaml.load((run_dir / "CartPole-v1" / "config.yml").read_text(), Loader=yaml.UnsafeLoader))
    assert config["loss"] == file_settings["loss"] and config["n_steps"] == file_settings["n_steps"]
    model = HLGaussPPO.load(run_dir / "CartPole-v1.zip", device="cpu")
    assert (model.loss, model.num_bins, model.n_envs, model.n_steps) == ("categorical_mse", 101, 8, 32)
    assert model.num_timesteps >= 2048

    enjoy = zoo("enjoy", "--algo", "hlgauss_ppo", "--env", "CartPole-v1", "-f", "logs", "--no-render", "-n", "200",
                cwd=tmp_path)  # fmt: skip
    assert "Loading" in enjoy.stdout

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    zoo(
        "train", "--algo", "hlgauss_ppo", "--env", "CartPole-v1", "-optimize", "-n", "1024", "--n-trials", "2",
        "--n-jobs", "1", "--sampler", "random", "--pruner", "none", "--n-evaluations", "1", "--eval-episodes", "2",
        "--storage", storage, "--study-name", "ppo", "--seed", "0", "--no-optim-plots", "-f", "tune",
        "-params", "n_envs:1", cwd=tmp_path, timeout=300,
    )  # fmt: skip
    study = optuna.load_study(storage=storage, study_name="ppo")
    assert len(study.trials) == 2
    assert all(trial.state == TrialState.COMPLETE for trial in study.trials), [t.user_attrs for t in study.trials]
    for trial in study.trials:
        assert {"loss", "num_bins", "value_scale", "learning_rate", "n_steps_pow"} <= set(trial.params)
        assert trial.params["loss"] in ON_POLICY_LOSS_CHOICES

"""Every entry of every file in zoo_configs/ parses, validates and builds its model through the zoo.

Each (file, environment) entry is trained for a couple of hundred steps through
``python -m sb3_hlgauss.zoo train`` (in process: the zoo's own ``train()`` with our registration),
so that the zoo's own pre-processing (env wrappers, frame stacking, ``policy_kwargs`` eval, action
noise) is exercised, Atari and MuJoCo included. Entries whose algorithm or environment package is not
installed are skipped with the reason.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import gymnasium as gym
import pytest
import yaml

pytest.importorskip("rl_zoo3")

from sb3_hlgauss.zoo import OUR_ALGOS, OUR_BASELINES, available_algos, config_dir, register_zoo  # noqa: E402
from sb3_hlgauss.zoo.__main__ import main  # noqa: E402
from sb3_hlgauss.zoo.exp_manager import validate_hyperparams  # noqa: E402

CONFIG_DIR = Path(__file__).resolve().parents[1] / "zoo_configs"
#: The environment each non-id key of a file is built with.
ATARI_ENV_IDS = ("ALE/Pong-v5", "BreakoutNoFrameskip-v4")
ENV_PACKAGES = {"MinAtar/": "minatar", "ALE/": "ale_py", "NoFrameskip": "ale_py", "LunarLander": "Box2D"}
MUJOCO = ("HalfCheetah", "Hopper", "Walker2d", "Ant")
LOSS_KEYS = ("loss", "num_bins", "v_min", "v_max", "sigma_ratio", "value_transform", "loss_kwargs", "value_scale")
#: On-policy algorithms: a short rollout instead of a small replay buffer.
ON_POLICY = ("hlgauss_ppo", "hlgauss_a2c", "ppo", "a2c")
# Constructor arguments of our algorithms that only exist for them (absent from the baseline files).
ATARI_BASELINE_DIFF = ("learning_rate", "policy_kwargs")


def _load(path: Path) -> dict:
    with open(path) as file:
        return yaml.safe_load(file)


def _entries() -> list[tuple[str, str, str]]:
    entries = []
    for path in sorted(CONFIG_DIR.glob("*.yml")):
        for key in _load(path):
            env_ids = ATARI_ENV_IDS if key == "atari" else (key,)
            entries.extend((path.stem, key, env_id) for env_id in env_ids)
    return entries


def _skip_reason(algo: str, env_id: str) -> str | None:
    ours = {**OUR_ALGOS, **OUR_BASELINES}
    if algo in ours and algo not in available_algos(include_baselines=True):
        return f"{ours[algo][1]} is not importable in this version of sb3_hlgauss"
    packages = [package for marker, package in ENV_PACKAGES.items() if marker in env_id]
    if any(name in env_id for name in MUJOCO):
        packages.append("mujoco")
    for package in packages:
        if importlib.util.find_spec(package) is None:
            return f"{env_id} needs the {package!r} package"
    return None


ENTRIES = _entries()


def test_config_files_present_and_packaged():
    names = {path.stem for path in CONFIG_DIR.glob("*.yml")}
    assert {"hlgauss_dqn", "hlgauss_sac", "hlgauss_td3", "dqn", "mse_dqn", "sac", "td3"} <= names
    assert {"hlgauss_ppo", "hlgauss_a2c", "ppo", "a2c"} <= names
    # The installed package finds the same files (the wheel ships them as sb3_hlgauss/zoo_configs).
    assert {path.stem for path in config_dir().glob("*.yml")} == names


def test_required_environments_covered():
    dqn = set(_load(CONFIG_DIR / "hlgauss_dqn.yml"))
    assert {"CartPole-v1", "Acrobot-v1", "LunarLander-v3", "atari"} <= dqn
    assert {f"MinAtar/{game}-v1" for game in ("Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders")} <= dqn
    for algo in ("hlgauss_sac", "hlgauss_td3"):
        assert {"Pendulum-v1", "HalfCheetah-v5", "Hopper-v5", "Walker2d-v5", "Ant-v5"} <= set(_load(CONFIG_DIR / f"{algo}.yml"))
    minatar = {f"MinAtar/{game}-v1" for game in ("Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders")}
    for algo in ("hlgauss_ppo", "hlgauss_a2c"):
        entries = _load(CONFIG_DIR / f"{algo}.yml")
        assert {"CartPole-v1", "Pendulum-v1", "Acrobot-v1", "LunarLander-v3", "atari"} | minatar <= set(entries)
        assert all(entries[env]["normalize"] for env in ("HalfCheetah-v5", "Hopper-v5", "Walker2d-v5", "Ant-v5"))
        assert all(entry["loss"] != "c51" for entry in entries.values())
    atari = _load(CONFIG_DIR / "hlgauss_dqn.yml")["atari"]
    assert (atari["num_bins"], atari["v_min"], atari["v_max"]) == (51, -10.0, 10.0)
    assert atari["frame_stack"] == 4 and "AtariWrapper" in atari["env_wrapper"][0]
    baseline_atari = _load(CONFIG_DIR / "dqn.yml")["atari"]
    assert atari["learning_rate"] == pytest.approx(4 * baseline_atari["learning_rate"])  # the paper's 4x


BASELINE_PAIRS = [
    ("dqn", "hlgauss_dqn"), ("mse_dqn", "hlgauss_dqn"), ("sac", "hlgauss_sac"), ("td3", "hlgauss_td3"),
    ("ppo", "hlgauss_ppo"), ("a2c", "hlgauss_a2c"),
]  # fmt: skip


@pytest.mark.parametrize(("algo", "ours_name"), BASELINE_PAIRS)
def test_baselines_match_our_settings(algo, ours_name):
    """The regression baseline files hold the same settings as ours, minus the loss (like with like)."""
    ours = _load(CONFIG_DIR / f"{ours_name}.yml")
    baseline = _load(CONFIG_DIR / f"{algo}.yml")
    assert set(ours) == set(baseline)
    for env_key, settings in ours.items():
        shared = {key: value for key, value in settings.items() if key not in LOSS_KEYS}
        expected = dict(shared)
        got = dict(baseline[env_key])
        assert not set(got) & set(LOSS_KEYS), f"{algo}.yml [{env_key}] sets loss settings"
        if algo in ("dqn", "mse_dqn") and env_key == "atari":  # the paper's MSE DQN optimiser
            for key in ATARI_BASELINE_DIFF:
                expected.pop(key), got.pop(key)
        assert got == expected, f"{algo}.yml [{env_key}] differs from {ours_name}.yml beyond the loss"


@pytest.mark.parametrize(("algo", "key"), sorted({(algo, key) for algo, key, _ in ENTRIES}))
def test_entry_validates(algo, key):
    register_zoo()
    from rl_zoo3.utils import ALGOS

    if algo not in ALGOS:
        pytest.skip(f"{algo} is not registered (class missing)")
    settings = _load(CONFIG_DIR / f"{algo}.yml")[key]
    assert "n_timesteps" in settings and "policy" in settings
    if algo in OUR_ALGOS:
        assert "loss" in settings
        if settings.get("value_scale") == "auto":  # the support scales itself: no range is written
            assert "v_min" not in settings and "v_max" not in settings
        else:
            assert settings["v_min"] < settings["v_max"]
        validate_hyperparams(algo, ALGOS[algo], settings, f"{algo}.yml [{key}]")


@pytest.mark.parametrize(("algo", "key", "env_id"), ENTRIES)
def test_entry_builds_and_trains(algo, key, env_id, tmp_path, monkeypatch):
    reason = _skip_reason(algo, env_id)
    if reason:
        pytest.skip(reason)
    register_zoo()
    if env_id not in gym.registry:
        pytest.skip(f"{env_id} is not registered")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    settings = _load(CONFIG_DIR / f"{algo}.yml")[key]
    # Small buffer, early learning: a few hundred steps with real updates.
    overrides = ["learning_starts:64", "buffer_size:1000"]
    if algo in ON_POLICY:  # one short rollout per env, then an update
        overrides = ["n_steps:16"] + (["n_envs:2"] if settings.get("n_envs", 1) > 2 else [])
        overrides += [] if algo.endswith("a2c") else ["n_epochs:1"]
    if "batch_size" in settings or algo in ("sac", "td3", "hlgauss_sac", "hlgauss_td3"):  # noqa: SIM102
        overrides.append("batch_size:32")
    args = [
        "train", "--algo", algo, "--env", env_id, "-n", "200", "--eval-freq", "-1", "-f", str(tmp_path / "logs"),
        "--seed", "0", "--verbose", "0", "--conf-file", str(CONFIG_DIR / f"{algo}.yml"), "-params", *overrides,
    ]  # fmt: skip
    assert main(args) == 0
    saved = list((tmp_path / "logs" / algo).glob("*/*.zip"))
    assert len(saved) == 1, saved
    from rl_zoo3.utils import ALGOS

    model = ALGOS[algo].load(saved[0], device="cpu")
    assert model.num_timesteps >= 200
    if algo in OUR_ALGOS:
        assert (model.loss, model.num_bins) == (settings["loss"], settings["num_bins"])
        assert (model.v_min, model.v_max) == (settings.get("v_min"), settings.get("v_max"))
        assert model.value_scale == settings.get("value_scale", "fixed")
    assert model._n_updates > 0  # learning happened, not just construction

"""``load`` checks the file SB3 loads, whatever its name, and models built with any public policy class load.

SB3 reads ``path`` as given, else ``path + ".zip"`` (``save_util.open_path``), and a file object as it is;
the checks of ``ClassificationCriticMixin.load`` (an override that would change the saved critic, a file of
another algorithm, the conversion of files of earlier releases) must read the same file, also for names
with dots (``m.v1``) whose ``.zip`` is left out.
"""

from __future__ import annotations

import copy
import io
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import stable_baselines3 as sb3
import torch as th

from sb3_hlgauss import (
    HLGaussA2C,
    HLGaussDQN,
    HLGaussPPO,
    HLGaussSAC,
    HLGaussTD3,
    hlgauss_a2c,
    hlgauss_dqn,
    hlgauss_ppo,
    hlgauss_sac,
    hlgauss_td3,
)
from sb3_hlgauss.hlgauss_ppo import HLGaussActorCriticPolicy

DATA = Path(__file__).parent / "data"
SMALL = dict(policy_kwargs=dict(net_arch=[8]), v_min=-50.0, v_max=50.0, num_bins=21)
OFF_POLICY = dict(learning_starts=10, buffer_size=200)
ENVS = {HLGaussDQN: "CartPole-v1", HLGaussSAC: "Pendulum-v1", HLGaussTD3: "Pendulum-v1", HLGaussPPO: "CartPole-v1", HLGaussA2C: "CartPole-v1"}
ON_POLICY = (HLGaussPPO, HLGaussA2C)


def build(algo: type, policy: Any = "MlpPolicy", **kwargs: Any) -> Any:
    settings = {**copy.deepcopy(SMALL), **({} if algo in ON_POLICY else OFF_POLICY), **kwargs}
    return algo(policy, ENVS[algo], seed=0, **settings)


#: How a saved ``<dir>/m.v1.zip`` (or ``<dir>/m.zip``) is named to ``load``: what SB3 accepts.
PATHS: dict[str, Callable[[Path, str], Any]] = {
    "str": lambda folder, name: str(folder / name),
    "str.zip": lambda folder, name: str(folder / f"{name}.zip"),
    "Path": lambda folder, name: folder / name,
    "Path.zip": lambda folder, name: folder / f"{name}.zip",
    "file": lambda folder, name: open(folder / f"{name}.zip", "rb"),  # noqa: SIM115 - closed by the test
    "BytesIO": lambda folder, name: io.BytesIO((folder / f"{name}.zip").read_bytes()),
}


@pytest.fixture(autouse=True)
def _one_thread():
    th.set_num_threads(1)


#: The saved files and their v_max: ``m.zip`` is what ``Path("m.v1").with_suffix(".zip")`` names.
SAVED_V_MAX = {"m": 50.0, "m.v1": 60.0}


@pytest.fixture(scope="module")
def saved_dqn(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("saved")
    for name, v_max in SAVED_V_MAX.items():
        build(HLGaussDQN, v_max=v_max).save(folder / f"{name}.zip")
    sb3.DQN("MlpPolicy", "CartPole-v1", policy_kwargs=dict(net_arch=[8]), buffer_size=200).save(folder / "sb3.v1.zip")
    return folder


def _load(algo: type, folder: Path, name: str, how: str, **kwargs: Any) -> Any:
    path = PATHS[how](folder, name)
    try:
        return algo.load(path, **kwargs)
    finally:
        if hasattr(path, "close"):
            path.close()


@pytest.mark.parametrize("how", PATHS)
@pytest.mark.parametrize("name", ["m", "m.v1"])
def test_override_of_the_saved_critic_is_refused_for_every_name(saved_dqn, name, how):
    with pytest.raises(ValueError, match=r"load\(v_max=5\.0\) would change the critic's support"):
        _load(HLGaussDQN, saved_dqn, name, how, v_max=5.0)
    with pytest.raises(ValueError, match=r"load\(num_bins=11\) would change the critic's support"):
        _load(HLGaussDQN, saved_dqn, name, how, custom_objects=dict(num_bins=11))
    loaded = _load(HLGaussDQN, saved_dqn, name, how, v_max=SAVED_V_MAX[name])  # the saved value is accepted
    assert (loaded.v_min, loaded.v_max, loaded.num_bins) == (-50.0, SAVED_V_MAX[name], 21)


@pytest.mark.parametrize("how", PATHS)
def test_file_of_another_algorithm_is_refused_for_every_name(saved_dqn, how):
    with pytest.raises(ValueError, match=r"by stable_baselines3\.DQN: load it with stable_baselines3\.DQN\.load"):
        _load(HLGaussDQN, saved_dqn, "sb3.v1", how)
    with pytest.raises(ValueError, match=r"by sb3_hlgauss\.HLGaussDQN: load it with sb3_hlgauss\.HLGaussDQN\.load"):
        _load(HLGaussSAC, saved_dqn, "m.v1", how)


def test_a_file_object_is_left_open(saved_dqn):
    with open(saved_dqn / "m.v1.zip", "rb") as file:
        HLGaussDQN.load(file)
        assert not file.closed  # the caller's, as SB3 leaves it


@pytest.mark.parametrize("name", ["missing", "missing.v1", "missing.zip"])
def test_missing_file_gives_sb3s_error(saved_dqn, name):
    with pytest.raises(FileNotFoundError) as theirs:
        sb3.DQN.load(saved_dqn / name)
    with pytest.raises(FileNotFoundError) as ours:
        HLGaussDQN.load(saved_dqn / name, v_max=5.0)
    assert str(ours.value) == str(theirs.value)


def test_file_that_is_not_a_zip_gives_sb3s_error(tmp_path):
    (tmp_path / "notes.v1.zip").write_text("not a model")
    with pytest.raises(ValueError) as theirs:
        sb3.DQN.load(tmp_path / "notes.v1")
    with pytest.raises(ValueError) as ours:
        HLGaussDQN.load(tmp_path / "notes.v1", v_max=5.0)
    assert str(ours.value) == str(theirs.value) and "wasn't a zip-file" in str(ours.value)


@pytest.mark.parametrize("how", ["str", "Path", "file"])
@pytest.mark.parametrize("release_file", ["hlgauss_dqn_loss_kwargs_0.2.0", "hlgauss_dqn_symlog_0.2.0"])
def test_file_of_an_earlier_release_is_converted_for_every_name(tmp_path, release_file, how):
    # loss_kwargs_0.2.0: its loss_kwargs overrode its arguments, the attributes must describe the critic it
    # used; symlog_0.2.0: its decoding changed in 0.3.0, which loading warns about.
    shutil.copy(DATA / f"{release_file}.zip", tmp_path / "old.v1.zip")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = _load(HLGaussDQN, tmp_path, "old.v1", how, device="cpu")
        reference = HLGaussDQN.load(DATA / f"{release_file}.zip", device="cpu")
    decoding_warnings = [w for w in caught if "saved by sb3-hlgauss < 0.3.0" in str(w.message)]
    assert len(decoding_warnings) == (2 if "symlog" in release_file else 0)
    for key in ("loss", "num_bins", "v_min", "v_max", "sigma_ratio", "value_transform", "loss_kwargs"):
        assert getattr(model, key) == getattr(reference, key), key
    if "loss_kwargs" in release_file:
        assert (model.num_bins, model.v_min, model.v_max, model.loss_kwargs) == (11, 0.0, 50.0, {})


def _public_policies(algo: type) -> list[type]:
    """The policy classes ``algo``'s subpackage exports for vector observations (with ``MlpPolicy``), and the
    actor-critic base that HLGaussA2C's policies derive from."""
    module = {HLGaussDQN: hlgauss_dqn, HLGaussSAC: hlgauss_sac, HLGaussTD3: hlgauss_td3, HLGaussPPO: hlgauss_ppo, HLGaussA2C: hlgauss_a2c}[algo]
    names = [name for name in module.__all__ if name.endswith("Policy") and name not in ("CnnPolicy", "MultiInputPolicy")]
    policies = list(dict.fromkeys(getattr(module, name) for name in names))
    if algo is HLGaussA2C:
        policies.append(HLGaussActorCriticPolicy)
    return policies


POLICY_CASES = [
    pytest.param(algo, policy, id=f"{algo.__name__}-{policy.__name__}") for algo in ENVS for policy in _public_policies(algo)
]


@pytest.mark.parametrize("algo, policy", POLICY_CASES)
def test_model_built_with_a_public_policy_class_loads(algo, policy, tmp_path):
    model = build(algo, policy)
    model.learn(64 if algo not in ON_POLICY else model.n_steps)
    model.save(tmp_path / "model.zip")
    loaded = algo.load(tmp_path / "model", device="cpu")
    assert type(loaded.policy) is policy
    saved_state, loaded_state = model.policy.state_dict(), loaded.policy.state_dict()
    assert saved_state.keys() == loaded_state.keys()
    for key in saved_state:
        assert th.equal(saved_state[key], loaded_state[key]), key
    observations = np.stack([model.observation_space.sample() for _ in range(16)])
    np.testing.assert_array_equal(loaded.predict(observations, deterministic=True)[0], model.predict(observations, deterministic=True)[0])


def test_the_shared_actor_critic_policy_is_refused_by_the_other_algorithms(tmp_path):
    build(HLGaussPPO, HLGaussActorCriticPolicy).save(tmp_path / "shared.zip")
    HLGaussA2C.load(tmp_path / "shared.zip")  # the policy of both on-policy algorithms
    with pytest.raises(ValueError, match=r"by sb3_hlgauss\.HLGaussPPO or sb3_hlgauss\.HLGaussA2C: load it with "):
        HLGaussDQN.load(tmp_path / "shared.zip")
    # A policy that one algorithm's aliases derive from stays that algorithm's.
    build(HLGaussPPO).save(tmp_path / "ppo.zip")
    with pytest.raises(ValueError, match=r"by sb3_hlgauss\.HLGaussPPO: load it with sb3_hlgauss\.HLGaussPPO\.load"):
        HLGaussA2C.load(tmp_path / "ppo.zip")
    sb3.PPO("MlpPolicy", "CartPole-v1", policy_kwargs=dict(net_arch=[8])).save(tmp_path / "sb3.zip")
    with pytest.raises(ValueError, match=r"by stable_baselines3\.PPO: load it with stable_baselines3\.PPO\.load"):
        HLGaussPPO.load(tmp_path / "sb3.zip")

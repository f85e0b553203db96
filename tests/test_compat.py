"""Models saved by earlier releases load in this one, with their loss settings and predictions.

tests/data holds files written by each release (tests/data/make_compat_models.py, run by that release):
- identity supports: the decoding is unchanged, so Q-values and greedy actions are identical;
- symlog supports (saved by 0.2.0): from 0.3.0 their Q-values are the mean of the same distribution in
  return units (the 0.2.0 decoding, h^-1 of the mean in symlog units, was not the expected return); the
  weights are unchanged, loading warns once, and the file is re-saved in the 0.3.0 format;
- a 0.2.0 file whose loss_kwargs silently overrode the arguments loads with attributes that describe
  the critic it really used.
"""

import json
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch as th

from sb3_hlgauss import HLGaussA2C, HLGaussDQN, HLGaussPPO, HLGaussSAC

DATA = Path(__file__).parent / "data"
SAVED = sorted(DATA.glob("*.zip"))
SETTINGS = ("loss", "num_bins", "v_min", "v_max", "sigma_ratio", "value_transform")


ALGORITHMS = {"hlgauss_sac": HLGaussSAC, "hlgauss_ppo": HLGaussPPO, "hlgauss_a2c": HLGaussA2C}
#: Saved models of on-policy algorithms: their "q_values" are the state values V(s).
ON_POLICY = (HLGaussPPO, HLGaussA2C)


def algorithm_of(path: Path):
    return next((algorithm for prefix, algorithm in ALGORITHMS.items() if path.name.startswith(prefix)), HLGaussDQN)


def expected_of(path: Path) -> dict:
    return json.loads(path.with_suffix(".json").read_text())


def saved_version(path: Path) -> str:
    return path.stem.rsplit("_", 1)[1]


def is_legacy_symlog(path: Path) -> bool:
    return expected_of(path)["settings"]["value_transform"] != "identity" and saved_version(path) < "0.3.0"


def load(path: Path, algorithm=None, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = (algorithm or algorithm_of(path)).load(path, device="cpu", **kwargs)
    decoding_warnings = [w for w in caught if "saved by sb3-hlgauss < 0.3.0" in str(w.message)]
    return model, decoding_warnings


def critic_outputs(model, observations: np.ndarray):
    obs = th.as_tensor(observations)
    if isinstance(model, ON_POLICY):
        return model.policy.predict_value_logits(obs).detach(), model.policy.predict_values(obs).detach().squeeze(-1)
    if isinstance(model, HLGaussSAC):
        actions = th.as_tensor(model.predict(observations, deterministic=True)[0])
        return th.stack(model.critic(obs, actions), dim=1).detach(), model.critic.q_values(obs, actions).detach()
    return model.q_net(obs).detach(), model.q_net.q_values(obs).detach()


def reference_atoms(settings: dict) -> th.Tensor:
    """h^-1 of the bin centres, computed here from the definition of the support."""
    forward = {"identity": lambda x: x, "symlog": lambda x: np.sign(x) * np.log1p(np.abs(x))}[settings["value_transform"]]
    inverse = {"identity": lambda x: x, "symlog": lambda x: np.sign(x) * np.expm1(np.abs(x))}[settings["value_transform"]]
    edges = np.linspace(forward(settings["v_min"]), forward(settings["v_max"]), settings["num_bins"] + 1)
    return th.as_tensor(inverse((edges[:-1] + edges[1:]) / 2), dtype=th.float32)


def test_there_are_saved_models_of_every_release():
    versions = {saved_version(p) for p in SAVED}
    assert {"0.1.0", "0.2.0", "0.3.0", "0.4.0"} <= versions, versions
    assert {"hlgauss_ppo", "hlgauss_a2c"} <= {p.stem.rsplit("_", 1)[0] for p in SAVED}


@pytest.mark.parametrize("path", SAVED, ids=[p.stem for p in SAVED])
def test_saved_model_loads_with_its_settings(path):
    expected = expected_of(path)
    model, decoding_warnings = load(path)
    critic = expected.get("critic_in_use", {})
    for key in SETTINGS:
        value = critic.get(key, expected["settings"][key])
        if key == "sigma_ratio" and value is None and model.loss == "hl_gauss":
            value = 0.75  # 0.2.0 stored None for "the loss's default"; 0.3.0 stores the ratio in use
        assert getattr(model, key) == value, key
    assert len(decoding_warnings) == (1 if is_legacy_symlog(path) else 0)


@pytest.mark.parametrize("path", SAVED, ids=[p.stem for p in SAVED])
def test_saved_model_predicts_from_the_same_weights(path):
    expected = expected_of(path)
    model, _ = load(path)
    observations = np.asarray(expected["observations"], dtype=np.float32)
    logits, q_values = critic_outputs(model, observations)
    if "logits" in expected:  # the weights are the saved ones
        np.testing.assert_allclose(logits.numpy(), expected["logits"], rtol=1e-5, atol=1e-5)
    # The Q-values are the mean of the critic's distribution over the atoms, in return units.
    mean = th.softmax(logits, dim=-1) @ reference_atoms({**expected["settings"], **expected.get("critic_in_use", {})})
    np.testing.assert_allclose(q_values.numpy(), mean.numpy(), rtol=1e-5, atol=1e-4)
    if not is_legacy_symlog(path):  # the decoding is unchanged: the same Q-values (to float32 rounding) and actions
        # The mean over atoms of up to +-1e4 (symlog) is a float32 sum whose rounding depends on the CPU's
        # kernels (AVX2 vs AVX-512 reduction order): allow a few ulps of sum_i p_i |z_i|, the dot product's
        # error bound (measured across two machines: at most 2.4e-7 of it).
        atoms = reference_atoms({**expected["settings"], **expected.get("critic_in_use", {})})
        magnitude = (th.softmax(logits, dim=-1) @ atoms.abs()).numpy()
        error = np.abs(q_values.numpy() - np.asarray(expected["q_values"], dtype=np.float32))
        allowed = 1e-5 + 1e-5 * np.abs(np.asarray(expected["q_values"])) + 1e-6 * magnitude
        assert (error <= allowed).all(), (error.max(), (error / magnitude).max())
        if isinstance(model, (HLGaussDQN, *ON_POLICY)):
            np.testing.assert_array_equal(model.predict(observations, deterministic=True)[0], expected["actions"])


@pytest.mark.parametrize("path", [p for p in SAVED if is_legacy_symlog(p)], ids=lambda p: p.stem)
def test_legacy_symlog_model_reports_the_mean_return_where_0_2_0_reported_symexp_of_the_symlog_mean(path):
    expected = expected_of(path)
    model, _ = load(path)
    logits = th.as_tensor(expected["logits"], dtype=th.float32)
    loss = model.value_loss
    old = loss.value_transform.inverse(loss.expectation(logits))
    np.testing.assert_allclose(old.numpy(), expected["q_values"], rtol=1e-4, atol=1e-4)  # what 0.2.0 reported
    # 0.3.0 reports the distribution's mean in return units, which the 0.2.0 number was not.
    mean = th.softmax(logits, dim=-1) @ reference_atoms(expected["settings"])
    np.testing.assert_allclose(loss.to_value(logits).numpy(), mean.numpy(), rtol=1e-5, atol=1e-4)
    assert float((mean - old).abs().max()) > 1.0


@pytest.mark.parametrize("path", [p for p in SAVED if is_legacy_symlog(p)], ids=lambda p: p.stem)
def test_legacy_model_resaved_loads_without_warning(path, tmp_path):
    model, _ = load(path)
    model.save(tmp_path / "resaved.zip")
    again, decoding_warnings = load(tmp_path / "resaved.zip", algorithm_of(path))
    assert decoding_warnings == []
    for key in SETTINGS:
        assert getattr(again, key) == getattr(model, key)


@pytest.mark.parametrize("path", SAVED, ids=[p.stem for p in SAVED])
def test_saved_model_continues_training(path):
    # Optimizer states saved by earlier releases (e.g. before Adam became fused by default) load and step.
    env = gym.make("Pendulum-v1" if algorithm_of(path) is HLGaussSAC else "CartPole-v1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = algorithm_of(path).load(path, env=env, device="cpu")
    updates_before = model._n_updates
    model.learning_starts = 0
    model.learn(200 if not isinstance(model, ON_POLICY) else 2 * model.n_steps, reset_num_timesteps=False)
    assert model._n_updates > updates_before
    assert all(th.isfinite(p).all() for p in model.policy.parameters())

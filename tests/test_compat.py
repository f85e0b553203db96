"""Models saved by earlier releases load in this one, with their loss settings and predictions."""

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch as th

from sb3_hlgauss import HLGaussDQN

DATA = Path(__file__).parent / "data"
SAVED = sorted(DATA.glob("hlgauss_dqn_*.zip"))


def test_there_are_saved_models():
    assert SAVED, "tests/data must hold models saved by released versions (tests/data/make_compat_models.py)"


@pytest.mark.parametrize("path", SAVED, ids=[p.stem for p in SAVED])
def test_saved_model_loads_and_predicts_the_same(path):
    expected = json.loads(path.with_suffix(".json").read_text())
    model = HLGaussDQN.load(path, device="cpu")
    for key, value in expected["settings"].items():
        assert getattr(model, key) == value
    observations = np.asarray(expected["observations"], dtype=np.float32)
    np.testing.assert_array_equal(model.predict(observations, deterministic=True)[0], expected["actions"])
    q_values = model.q_net.q_values(th.as_tensor(observations)).detach().numpy()
    np.testing.assert_allclose(q_values, expected["q_values"], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("path", SAVED, ids=[p.stem for p in SAVED])
def test_saved_model_continues_training(path):
    # Optimizer states saved by earlier releases (e.g. before Adam became fused by default) load and step.
    model = HLGaussDQN.load(path, env=gym.make("CartPole-v1"), device="cpu")
    updates_before = model._n_updates
    model.learning_starts = 0
    model.learn(200, reset_num_timesteps=False)
    assert model._n_updates > updates_before
    assert np.isfinite(model.logger.name_to_value["train/loss"])
    assert all(th.isfinite(p).all() for p in model.policy.parameters())

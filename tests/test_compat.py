"""Models saved by earlier releases load in this one, with their loss settings and predictions."""

import json
from pathlib import Path

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

"""Writes the saved models that tests/test_compat.py loads: run once per release, never overwrite old ones.

    python tests/data/make_compat_models.py
"""

import json
from pathlib import Path

import numpy as np
import torch as th

import sb3_hlgauss
from sb3_hlgauss import HLGaussDQN

here = Path(__file__).parent
version = sb3_hlgauss.__version__
th.set_num_threads(1)
model = HLGaussDQN(
    "MlpPolicy", "CartPole-v1", loss="hl_gauss", num_bins=21, v_min=-1.0, v_max=120.0, sigma_ratio=0.6,
    value_transform="identity", learning_starts=100, policy_kwargs=dict(net_arch=[16]), seed=0,
)
model.learn(600)
observations = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
model.save(here / f"hlgauss_dqn_{version}.zip")
expected = dict(
    observations=observations.tolist(),
    actions=model.predict(observations, deterministic=True)[0].tolist(),
    q_values=model.q_net.q_values(th.as_tensor(observations)).detach().tolist(),
    settings=dict(loss="hl_gauss", num_bins=21, v_min=-1.0, v_max=120.0, sigma_ratio=0.6, value_transform="identity"),
)
(here / f"hlgauss_dqn_{version}.json").write_text(json.dumps(expected))
print("wrote", here / f"hlgauss_dqn_{version}.zip")

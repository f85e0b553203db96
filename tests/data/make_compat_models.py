"""Writes the saved models that tests/test_compat.py loads: run once per release, never overwrite old ones.

    python tests/data/make_compat_models.py

Each model is written as ``<name>_<version>.zip`` with ``<name>_<version>.json`` (its settings as the
version reported them, observations, greedy actions, Q-values, and the raw critic logits so that a later
version can check its own decoding of the same distribution). Files that exist are kept.
"""

import json
from pathlib import Path

import numpy as np
import torch as th

import sb3_hlgauss
from sb3_hlgauss import HLGaussA2C, HLGaussDQN, HLGaussPPO, HLGaussSAC

here = Path(__file__).parent
version = sb3_hlgauss.__version__
th.set_num_threads(1)


def write(name, model, observations, q_values, logits, actions, settings):
    path = here / f"{name}_{version}.zip"
    if path.exists():
        print("kept", path)
        return
    model.save(path)
    expected = dict(
        version=version,
        observations=observations.tolist(),
        actions=actions.tolist(),
        q_values=q_values.tolist(),
        logits=logits.tolist(),
        settings=settings,
    )
    path.with_suffix(".json").write_text(json.dumps(expected))
    print("wrote", path)


def settings_of(model):
    return {key: getattr(model, key) for key in ("loss", "num_bins", "v_min", "v_max", "sigma_ratio", "value_transform", "loss_kwargs")}


# 1. HL-Gauss DQN, identity support (since 0.1.0)
model = HLGaussDQN(
    "MlpPolicy", "CartPole-v1", loss="hl_gauss", num_bins=21, v_min=-1.0, v_max=120.0, sigma_ratio=0.6,
    value_transform="identity", learning_starts=100, policy_kwargs=dict(net_arch=[16]), seed=0,
)
model.learn(600)
observations = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
obs = th.as_tensor(observations)
write("hlgauss_dqn", model, observations, model.q_net.q_values(obs).detach(), model.q_net(obs).detach(),
      model.predict(observations, deterministic=True)[0], settings_of(model))

# 2. HL-Gauss DQN with the default support (symlog), since 0.2.0: its decoding changed in 0.3.0
model = HLGaussDQN("MlpPolicy", "CartPole-v1", learning_starts=100, policy_kwargs=dict(net_arch=[16]), seed=0)
model.learn(600)
write("hlgauss_dqn_symlog", model, observations, model.q_net.q_values(obs).detach(), model.q_net(obs).detach(),
      model.predict(observations, deterministic=True)[0], settings_of(model))

# 3. HL-Gauss SAC with the default support (symlog)
model = HLGaussSAC("MlpPolicy", "Pendulum-v1", learning_starts=100, batch_size=32, policy_kwargs=dict(net_arch=[16]), seed=0)
model.learn(300)
observations = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32)
obs = th.as_tensor(observations)
actions = th.as_tensor(model.predict(observations, deterministic=True)[0])
write("hlgauss_sac_symlog", model, observations, model.critic.q_values(obs, actions).detach(),
      th.stack(model.critic(obs, actions), dim=1).detach(), actions.numpy(), settings_of(model))

# 4. HL-Gauss PPO and A2C with the default support (since 0.4.0): "q_values" are the state values V(s)
#    and "logits" the value head's
for name, algorithm in (("hlgauss_ppo", HLGaussPPO), ("hlgauss_a2c", HLGaussA2C)):
    model = algorithm("MlpPolicy", "CartPole-v1", n_steps=64, policy_kwargs=dict(net_arch=[16]), seed=0)
    model.learn(256)
    observations = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    obs = th.as_tensor(observations)
    write(name, model, observations, model.policy.predict_values(obs).detach().squeeze(-1),
          model.policy.predict_value_logits(obs).detach(), model.predict(observations, deterministic=True)[0],
          settings_of(model))

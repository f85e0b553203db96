"""The MSE baseline: SB3's DQN with the squared TD error."""

import numpy as np
import pytest
import torch as th

from sb3_hlgauss.baselines import MSEDQN


def test_mse_dqn_minimises_squared_td_error():
    model = MSEDQN("MlpPolicy", "CartPole-v1", learning_starts=0, batch_size=8, gamma=0.9, seed=0)
    model.learn(40)
    th.manual_seed(1)
    np.random.seed(1)
    batch = model.replay_buffer.sample(8)
    with th.no_grad():
        next_q = model.q_net_target(batch.next_observations).max(dim=1).values
        target = batch.rewards.flatten() + 0.9 * (1 - batch.dones.flatten()) * next_q
        current = model.q_net(batch.observations)[th.arange(8), batch.actions.flatten()]
        expected = ((current - target) ** 2).mean()
    model.replay_buffer.sample = lambda *args, **kwargs: batch  # type: ignore[method-assign]
    model.train(gradient_steps=1, batch_size=8)
    assert model.logger.name_to_value["train/loss"] == pytest.approx(float(expected), rel=1e-5)

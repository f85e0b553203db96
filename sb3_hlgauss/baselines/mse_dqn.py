"""The regression baseline of *Stop Regressing* (Farebrother et al., 2024): DQN trained with MSE."""

from __future__ import annotations

import numpy as np
import torch as th
from stable_baselines3 import DQN
from torch.nn import functional as F


class MSEDQN(DQN):
    """SB3's :class:`~stable_baselines3.DQN` with the mean squared TD error instead of the Huber loss.

    The paper's baseline is MSE, SB3's DQN uses the Huber loss: comparing HLGaussDQN with both
    (same network, same hyperparameters) separates the effect of the loss from SB3's defaults.
    Everything but the loss (target network, gradient clipping, exploration, logging) is SB3's DQN.
    """

    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)

        losses = []
        for _ in range(gradient_steps):
            replay_data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)  # type: ignore[union-attr]
            discounts = replay_data.discounts if replay_data.discounts is not None else self.gamma
            with th.no_grad():
                next_q_values = self.q_net_target(replay_data.next_observations).max(dim=1, keepdim=True).values
                target_q_values = replay_data.rewards + (1 - replay_data.dones) * discounts * next_q_values
            current_q_values = th.gather(self.q_net(replay_data.observations), dim=1, index=replay_data.actions.long())
            loss = F.mse_loss(current_q_values, target_q_values)
            losses.append(loss.item())

            self.policy.optimizer.zero_grad()
            loss.backward()
            th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
            self.policy.optimizer.step()

        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/loss", float(np.mean(losses)))

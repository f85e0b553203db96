"""Categorical critics for continuous actions, shared by :class:`~sb3_hlgauss.HLGaussSAC` and
:class:`~sb3_hlgauss.HLGaussTD3`.

Each of the ``n_critics`` heads maps ``(s, a)`` to ``num_bins`` logits over the support of a
:class:`~sb3_hlgauss.common.losses.ClassificationLoss`; its Q-value is their expectation over the
bin centres (Farebrother et al., 2024, *Stop Regressing*, arXiv:2403.03950). Only the network
lives here: every target-distribution computation is the loss module's.
"""

from __future__ import annotations

from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import ContinuousCritic
from stable_baselines3.common.preprocessing import get_action_dim
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, create_mlp
from stable_baselines3.common.type_aliases import Schedule
from torch import nn

from sb3_hlgauss.common.losses import ClassificationLoss
from sb3_hlgauss.common.policies import ValueLossPolicyMixin, set_training_mode_if_changed


class CategoricalContinuousCritic(ContinuousCritic):
    """Critic network(s) for SAC/TD3 whose heads output logits over a fixed support.

    Same architecture as SB3's :class:`~stable_baselines3.common.policies.ContinuousCritic`
    (``n_critics`` MLPs on the concatenated features and action), except that each head's output
    layer has ``num_bins`` units instead of one.

    - :meth:`forward` returns one ``(batch, num_bins)`` logits tensor per head;
    - :meth:`q_values` returns the expected Q-values of every head, ``(batch, n_critics)``;
    - :meth:`q1_forward` returns the expected Q-value of the first head, ``(batch, 1)``, like SB3's
      (TD3's actor update);
    - :meth:`pessimistic_logits` returns, per sample, the logits of the head with the lowest expected
      Q-value (clipped double Q-learning), the bootstrap distribution of the TD target
      (:meth:`pessimistic` returns that Q-value too).

    :param observation_space: Observation space
    :param action_space: Action space (``Box``)
    :param net_arch: Hidden layers of each head
    :param features_extractor: Network to extract features
    :param features_dim: Number of features
    :param value_loss: The loss whose support decodes the logits into values
    :param activation_fn: Activation function
    :param normalize_images: Whether to divide images by 255
    :param n_critics: Number of critic heads
    :param share_features_extractor: Whether the features extractor is shared with the actor
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Box,
        net_arch: list[int],
        features_extractor: BaseFeaturesExtractor,
        features_dim: int,
        value_loss: ClassificationLoss,
        activation_fn: type[nn.Module] = nn.ReLU,
        normalize_images: bool = True,
        n_critics: int = 2,
        share_features_extractor: bool = True,
    ) -> None:
        super().__init__(
            observation_space,
            action_space,
            net_arch=net_arch,
            features_extractor=features_extractor,
            features_dim=features_dim,
            activation_fn=activation_fn,
            normalize_images=normalize_images,
            n_critics=n_critics,
            share_features_extractor=share_features_extractor,
        )
        self.value_loss = value_loss
        self.num_bins = value_loss.num_bins
        action_dim = get_action_dim(self.action_space)
        # Replace the scalar heads built by ContinuousCritic with heads of num_bins logits.
        self.q_networks = []
        for idx in range(n_critics):
            q_net = nn.Sequential(*create_mlp(features_dim + action_dim, self.num_bins, net_arch, activation_fn))
            self.add_module(f"qf{idx}", q_net)
            self.q_networks.append(q_net)

    def forward(self, obs: th.Tensor, actions: th.Tensor) -> tuple[th.Tensor, ...]:
        """Logits of every head, a tuple of ``n_critics`` tensors of shape ``(batch, num_bins)``."""
        return super().forward(obs, actions)

    def set_training_mode(self, mode: bool) -> None:
        # Called before every action selection: skip the module-tree walk when nothing changes.
        set_training_mode_if_changed(self, mode)

    def q_values(self, obs: th.Tensor, actions: th.Tensor) -> th.Tensor:
        """Expected Q-values of every head, shape ``(batch, n_critics)``."""
        return self.value_loss.to_value(th.stack(self(obs, actions), dim=1))

    def q1_forward(self, obs: th.Tensor, actions: th.Tensor) -> th.Tensor:
        """Expected Q-value of the first head only, shape ``(batch, 1)`` (features not trained, as in SB3)."""
        with th.no_grad():
            features = self.extract_features(obs, self.features_extractor)
        logits = self.q_networks[0](th.cat([features, actions], dim=1))
        return self.value_loss.to_value(logits).unsqueeze(-1)

    def pessimistic(
        self, obs: th.Tensor, actions: th.Tensor, with_logits: bool = True
    ) -> tuple[th.Tensor | None, th.Tensor]:
        """Per sample, the logits of the head whose expected Q-value is lowest, ``(batch, num_bins)``,
        and that Q-value, ``min_j Q_j(s, a)`` (``batch``): the clipped double-Q estimate of SAC and TD3.

        :param with_logits: Whether to select the logits (only distributional losses need them);
            ``None`` is returned in their place otherwise.
        """
        logits = th.stack(self(obs, actions), dim=1)  # (batch, n_critics, num_bins)
        # The value transform is increasing: the lowest expectation in transformed units is the lowest Q.
        lowest_expectation, lowest = self.value_loss.expectation(logits).min(dim=1)
        lowest_q = self.value_loss.value_transform.inverse(lowest_expectation)
        if not with_logits:
            return None, lowest_q
        index = lowest.view(-1, 1, 1).expand(-1, 1, logits.shape[-1])
        return logits.gather(1, index).squeeze(1), lowest_q

    def pessimistic_logits(self, obs: th.Tensor, actions: th.Tensor) -> th.Tensor:
        """Per sample, the logits of the head whose expected Q-value is lowest: ``(batch, num_bins)``."""
        logits, _ = self.pessimistic(obs, actions)
        assert logits is not None
        return logits


class CategoricalCriticPolicyMixin(ValueLossPolicyMixin):
    """Turns SB3's ``SACPolicy`` / ``TD3Policy`` into policies with a :class:`CategoricalContinuousCritic`.

    Put it before the SB3 policy in the bases and store the loss settings
    (``self._store_value_loss_settings(loss, loss_kwargs)``) before calling the SB3 constructor.
    """

    critic_kwargs: dict[str, Any]
    device: th.device

    def _build(self, lr_schedule: Schedule) -> None:
        self._build_value_loss()
        super()._build(lr_schedule)  # type: ignore[misc]

    def make_critic(self, features_extractor: BaseFeaturesExtractor | None = None) -> CategoricalContinuousCritic:
        critic_kwargs = self._update_features_extractor(self.critic_kwargs, features_extractor)  # type: ignore[attr-defined]
        return CategoricalContinuousCritic(value_loss=self.value_loss, **critic_kwargs).to(self.device)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()  # type: ignore[misc]
        data.update(self._value_loss_constructor_parameters())
        return data

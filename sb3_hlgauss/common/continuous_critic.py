"""Categorical critics for continuous actions, shared by :class:`~sb3_hlgauss.HLGaussSAC` and
:class:`~sb3_hlgauss.HLGaussTD3`.

Each of the ``n_critics`` heads maps ``(s, a)`` to ``num_bins`` logits over the support of a
:class:`~sb3_hlgauss.common.losses.ClassificationLoss`; its Q-value is the mean of that
distribution in return units, the loss's ``to_value`` (Farebrother et al., 2024, *Stop Regressing*,
arXiv:2403.03950). The network and the shared critic update live here; every target-distribution
computation is the loss module's.
"""

from __future__ import annotations

from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import BaseModel
from stable_baselines3.common.preprocessing import get_action_dim
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.type_aliases import ReplayBufferSamples, Schedule
from torch import nn

from sb3_hlgauss.common.losses import ClassificationLoss, TDTarget
from sb3_hlgauss.common.policies import ValueLossPolicyMixin, categorical_head


class CategoricalContinuousCritic(BaseModel):
    """Critic network(s) for SAC/TD3 whose heads output logits over a fixed support.

    Same architecture and semantics as SB3's :class:`~stable_baselines3.common.policies.ContinuousCritic`
    (``n_critics`` MLPs ``qf0``, ``qf1``, ... on the concatenated features and action; with a shared
    features extractor, the extractor is trained by the actor's loss only), except that each head's
    output layer has ``num_bins`` units instead of one. The heads are built directly (no scalar head
    is created and replaced), under SB3's module names, so saved state dicts load unchanged.

    - :meth:`forward` returns one ``(batch, num_bins)`` logits tensor per head;
    - :meth:`q_values` returns the Q-values of every head, ``(batch, n_critics)``: the means of their
      distributions in return units (the loss's ``to_value``);
    - :meth:`q1_forward` returns the Q-value of the first head, ``(batch, 1)``, like SB3's
      (TD3's actor update);
    - :meth:`pessimistic` returns, per sample, the lowest Q-value of the heads (clipped double
      Q-learning) and, for distributional losses, that head's logits: the bootstrap of the TD target.

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

    features_extractor: BaseFeaturesExtractor

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
            features_extractor=features_extractor,
            normalize_images=normalize_images,
        )

        action_dim = get_action_dim(self.action_space)

        self.share_features_extractor = share_features_extractor
        self.n_critics = n_critics
        self.num_bins = value_loss.num_bins
        self.q_networks: list[nn.Module] = []
        for idx in range(n_critics):
            q_net = categorical_head(features_dim + action_dim, self.num_bins, net_arch, activation_fn)
            self.add_module(f"qf{idx}", q_net)
            self.q_networks.append(q_net)
        self.value_loss = value_loss

    def forward(self, obs: th.Tensor, actions: th.Tensor) -> tuple[th.Tensor, ...]:
        """Logits of every head, a tuple of ``n_critics`` tensors of shape ``(batch, num_bins)``."""
        # Learn the features extractor using the policy loss only
        # when the features_extractor is shared with the actor
        with th.set_grad_enabled(not self.share_features_extractor):
            features = self.extract_features(obs, self.features_extractor)
        qvalue_input = th.cat([features, actions], dim=1)
        return tuple(q_net(qvalue_input) for q_net in self.q_networks)

    def q_values(self, obs: th.Tensor, actions: th.Tensor) -> th.Tensor:
        """Q-values of every head (means in return units), shape ``(batch, n_critics)``."""
        return self.value_loss.to_value(th.stack(self(obs, actions), dim=1))

    def q1_forward(self, obs: th.Tensor, actions: th.Tensor) -> th.Tensor:
        """Q-value of the first head only, shape ``(batch, 1)`` (features not trained, as in SB3)."""
        with th.no_grad():
            features = self.extract_features(obs, self.features_extractor)
        logits = self.q_networks[0](th.cat([features, actions], dim=1))
        return self.value_loss.to_value(logits).unsqueeze(-1)

    def pessimistic(
        self, obs: th.Tensor, actions: th.Tensor, with_logits: bool = True
    ) -> tuple[th.Tensor | None, th.Tensor]:
        """Per sample, the logits of the head whose Q-value is lowest, ``(batch, num_bins)``,
        and that Q-value, ``min_j Q_j(s, a)`` (``batch``): the clipped double-Q estimate of SAC and TD3.

        The Q-values compared are the loss's ``to_value`` (means in return units).

        :param with_logits: Whether to select the logits (only distributional losses need them);
            ``None`` is returned in their place otherwise.
        """
        logits = th.stack(self(obs, actions), dim=1)  # (batch, n_critics, num_bins)
        lowest_q, lowest = self.value_loss.to_value(logits).min(dim=1)
        if not with_logits:
            return None, lowest_q
        index = lowest.view(-1, 1, 1).expand(-1, 1, logits.shape[-1])
        return logits.gather(1, index).squeeze(1), lowest_q


class CategoricalCriticAlgorithmMixin:
    """The critic update shared by :class:`~sb3_hlgauss.HLGaussSAC` and :class:`~sb3_hlgauss.HLGaussTD3`.

    It replaces the critic part of SB3's SAC/TD3 ``train()`` (target from the min over target critics,
    MSE of every head) by its classification counterpart; the algorithm's ``train()`` chooses the
    next actions (and SAC's entropy term), as SB3's does.
    """

    critic: CategoricalContinuousCritic
    critic_target: CategoricalContinuousCritic
    value_loss: ClassificationLoss
    gamma: float

    def _critic_loss(
        self,
        replay_data: ReplayBufferSamples,
        next_actions: th.Tensor,
        next_entropy_bonus: th.Tensor | None = None,
    ) -> tuple[th.Tensor, TDTarget, tuple[th.Tensor, ...]]:
        """Cross-entropy of every critic head against the clipped double-Q TD target.

        The target is ``y = r + gamma^n (1 - done) (min_j Q_target_j(s', a') + b)``, with ``a'`` the
        ``next_actions`` and ``b`` the ``next_entropy_bonus`` (SAC: ``-alpha log pi(a'|s')``; 0 if
        ``None``). It bootstraps from the target head with the lowest Q-value at ``(s', a')`` (its whole
        distribution only for distributional losses, C51) and ``b`` is folded into the reward
        (``r + gamma^n (1 - done) b``), so that every loss gets the same target: a scalar-target loss sees
        exactly ``y``, C51 projects that head's distribution shifted by the (soft) reward.

        :param replay_data: The replayed batch.
        :param next_actions: ``a'``, shape ``(batch, action_dim)``.
        :param next_entropy_bonus: Per-sample term added to the next Q-value, ``batch`` elements.
        :return: The critic loss (sum over heads of the mean cross-entropy), the target and the
            logits of every head for the replayed ``(s, a)``.
        """
        # For n-step replay, discount factor is gamma**n_steps (when no early termination)
        discounts = replay_data.discounts if replay_data.discounts is not None else self.gamma
        discounts = (1 - replay_data.dones) * discounts
        with th.no_grad():
            # Compute the next Q-values: min over all critics targets (and that head's logits)
            next_logits, next_q_values = self.critic_target.pessimistic(
                replay_data.next_observations, next_actions, with_logits=self.value_loss.distributional
            )
            rewards = replay_data.rewards
            if next_entropy_bonus is not None:
                rewards = rewards + discounts * next_entropy_bonus.reshape(rewards.shape)
            # td target (+ entropy term), as target probabilities over the bins
            target = self.value_loss.td_target(rewards, discounts, next_logits, next_values=next_q_values)

        # Get current logits for each critic network using action from the replay buffer
        current_logits = self.critic(replay_data.observations, replay_data.actions)

        # Compute critic loss: cross-entropy of every head
        critic_loss = sum(self.value_loss(head_logits, target) for head_logits in current_logits)
        assert isinstance(critic_loss, th.Tensor)  # for type checker
        return critic_loss, target, current_logits


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

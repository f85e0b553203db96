"""Policies of :class:`~sb3_hlgauss.HLGaussDQN`: Q-networks that output logits over a support.

Modelled on sb3-contrib's QR-DQN policies: ``MlpPolicy``, ``CnnPolicy`` and
``MultiInputPolicy`` differ only in their default features extractor.
"""

from __future__ import annotations

from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.torch_layers import (
    BaseFeaturesExtractor,
    CombinedExtractor,
    FlattenExtractor,
    NatureCNN,
)
from stable_baselines3.common.type_aliases import PyTorchObs, Schedule
from stable_baselines3.dqn.policies import DQNPolicy
from torch import nn

from sb3_hlgauss.common.losses import ClassificationLoss
from sb3_hlgauss.common.policies import ValueLossPolicyMixin, categorical_head


class CategoricalQNetwork(BasePolicy):
    """Q-network whose head outputs ``num_bins`` logits per action (Farebrother et al., 2024).

    Same architecture as SB3's :class:`~stable_baselines3.dqn.policies.QNetwork` (an MLP ``q_net`` on
    the features), except that its output layer has ``n_actions * num_bins`` units; built directly,
    as sb3-contrib's ``QuantileNetwork`` is, so no scalar head is ever created.

    ``forward`` returns logits of shape ``(batch, n_actions, num_bins)``; the Q-values are the means
    of their distributions in return units (:meth:`q_values`, the loss's ``to_value``), and greedy
    actions maximise them.

    :param observation_space: Observation space
    :param action_space: Action space (``Discrete``)
    :param features_extractor: Network that maps observations to features
    :param features_dim: Number of features
    :param value_loss: The loss whose support decodes the logits into values
    :param net_arch: Hidden layers of the head (``None``: ``[64, 64]``, as in SB3)
    :param activation_fn: Activation function
    :param normalize_images: Whether to divide images by 255
    """

    action_space: spaces.Discrete

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        features_extractor: BaseFeaturesExtractor,
        features_dim: int,
        value_loss: ClassificationLoss,
        net_arch: list[int] | None = None,
        activation_fn: type[nn.Module] = nn.ReLU,
        normalize_images: bool = True,
    ) -> None:
        super().__init__(
            observation_space,
            action_space,
            features_extractor=features_extractor,
            normalize_images=normalize_images,
        )

        if net_arch is None:
            net_arch = [64, 64]

        self.net_arch = net_arch
        self.activation_fn = activation_fn
        self.features_dim = features_dim
        self.num_bins = value_loss.num_bins
        self.n_actions = int(self.action_space.n)  # number of actions
        # Module name "q_net" as in SB3's QNetwork: state dicts saved by earlier releases load unchanged.
        self.q_net = categorical_head(self.features_dim, self.n_actions * self.num_bins, self.net_arch, self.activation_fn)
        self.value_loss = value_loss

    def forward(self, obs: PyTorchObs) -> th.Tensor:
        """Logits of shape ``(batch, n_actions, num_bins)``."""
        logits = self.q_net(self.extract_features(obs, self.features_extractor))
        return logits.view(-1, self.n_actions, self.num_bins)

    def q_values(self, obs: PyTorchObs) -> th.Tensor:
        """Q-values (means of the predicted distributions in return units), shape ``(batch, n_actions)``."""
        return self.value_loss.to_value(self(obs))

    def _predict(self, observation: PyTorchObs, deterministic: bool = True) -> th.Tensor:
        # Greedy action: the highest Q-value (to_value, in return units)
        return self.q_values(observation).argmax(dim=1).reshape(-1)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()

        data.update(
            dict(
                net_arch=self.net_arch,
                features_dim=self.features_dim,
                activation_fn=self.activation_fn,
                features_extractor=self.features_extractor,
                value_loss=self.value_loss,
            )
        )
        return data


class HLGaussDQNPolicy(ValueLossPolicyMixin, DQNPolicy):
    """Policy of :class:`~sb3_hlgauss.HLGaussDQN`: a categorical Q-network and its target network.

    :param observation_space: Observation space
    :param action_space: Action space
    :param lr_schedule: Learning rate schedule (could be constant)
    :param loss: Name of the registered value loss (``"hl_gauss"``, ``"two_hot"``, ``"c51"``, ...);
        required, set by :class:`~sb3_hlgauss.HLGaussDQN` from its own arguments (no default: a
        policy built without it, e.g. by SB3's ``DQN.load`` on an HLGaussDQN file, is an error)
    :param loss_kwargs: Arguments of the loss (``v_min``, ``v_max``, ``num_bins``, ...);
        required, set by the algorithm from its own constructor arguments
    :param net_arch: The specification of the network architecture
    :param activation_fn: Activation function
    :param features_extractor_class: Features extractor to use
    :param features_extractor_kwargs: Keyword arguments to pass to the features extractor
    :param normalize_images: Whether to normalize images or not, dividing by 255.0
    :param optimizer_class: The optimizer to use, ``th.optim.Adam`` by default
    :param optimizer_kwargs: Additional keyword arguments, excluding the learning rate, to pass
        to the optimizer
    """

    q_net: CategoricalQNetwork
    q_net_target: CategoricalQNetwork

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        lr_schedule: Schedule,
        loss: str | None = None,
        loss_kwargs: dict[str, Any] | None = None,
        net_arch: list[int] | None = None,
        activation_fn: type[nn.Module] = nn.ReLU,
        features_extractor_class: type[BaseFeaturesExtractor] = FlattenExtractor,
        features_extractor_kwargs: dict[str, Any] | None = None,
        normalize_images: bool = True,
        optimizer_class: type[th.optim.Optimizer] = th.optim.Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self._store_value_loss_settings(loss, loss_kwargs)
        super().__init__(
            observation_space,
            action_space,
            lr_schedule,
            net_arch=net_arch,
            activation_fn=activation_fn,
            features_extractor_class=features_extractor_class,
            features_extractor_kwargs=features_extractor_kwargs,
            normalize_images=normalize_images,
            optimizer_class=optimizer_class,
            optimizer_kwargs=optimizer_kwargs,
        )

    def _build(self, lr_schedule: Schedule) -> None:
        self._build_value_loss()
        super()._build(lr_schedule)

    def make_q_net(self) -> CategoricalQNetwork:
        # Make sure we always have separate networks for features extractors etc
        net_args = self._update_features_extractor(self.net_args, features_extractor=None)
        return CategoricalQNetwork(value_loss=self.value_loss, **net_args).to(self.device)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(self._value_loss_constructor_parameters())
        return data


MlpPolicy = HLGaussDQNPolicy


class CnnPolicy(HLGaussDQNPolicy):
    """:class:`HLGaussDQNPolicy` for image observations (Nature CNN features extractor by default)."""

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        lr_schedule: Schedule,
        loss: str | None = None,
        loss_kwargs: dict[str, Any] | None = None,
        net_arch: list[int] | None = None,
        activation_fn: type[nn.Module] = nn.ReLU,
        features_extractor_class: type[BaseFeaturesExtractor] = NatureCNN,
        features_extractor_kwargs: dict[str, Any] | None = None,
        normalize_images: bool = True,
        optimizer_class: type[th.optim.Optimizer] = th.optim.Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            observation_space,
            action_space,
            lr_schedule,
            loss,
            loss_kwargs,
            net_arch,
            activation_fn,
            features_extractor_class,
            features_extractor_kwargs,
            normalize_images,
            optimizer_class,
            optimizer_kwargs,
        )


class MultiInputPolicy(HLGaussDQNPolicy):
    """:class:`HLGaussDQNPolicy` for dict observations (``CombinedExtractor`` by default)."""

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        lr_schedule: Schedule,
        loss: str | None = None,
        loss_kwargs: dict[str, Any] | None = None,
        net_arch: list[int] | None = None,
        activation_fn: type[nn.Module] = nn.ReLU,
        features_extractor_class: type[BaseFeaturesExtractor] = CombinedExtractor,
        features_extractor_kwargs: dict[str, Any] | None = None,
        normalize_images: bool = True,
        optimizer_class: type[th.optim.Optimizer] = th.optim.Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            observation_space,
            action_space,
            lr_schedule,
            loss,
            loss_kwargs,
            net_arch,
            activation_fn,
            features_extractor_class,
            features_extractor_kwargs,
            normalize_images,
            optimizer_class,
            optimizer_kwargs,
        )

"""Policies of :class:`~sb3_hlgauss.HLGaussSAC`: SB3's SAC actor with a categorical critic.

``MlpPolicy``, ``CnnPolicy`` and ``MultiInputPolicy`` differ only in their default features
extractor, as in SB3.
"""

from __future__ import annotations

from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, CombinedExtractor, FlattenExtractor, NatureCNN
from stable_baselines3.common.type_aliases import Schedule
from stable_baselines3.sac.policies import SACPolicy
from torch import nn

from sb3_hlgauss.common.continuous_critic import CategoricalContinuousCritic, CategoricalCriticPolicyMixin


class HLGaussSACPolicy(CategoricalCriticPolicyMixin, SACPolicy):
    """Policy of :class:`~sb3_hlgauss.HLGaussSAC`: SB3's squashed-Gaussian actor and ``n_critics``
    categorical critic heads (:class:`~sb3_hlgauss.common.continuous_critic.CategoricalContinuousCritic`)
    with their target network.

    :param observation_space: Observation space
    :param action_space: Action space
    :param lr_schedule: Learning rate schedule (could be constant)
    :param loss: Name of the registered value loss (``"hl_gauss"``, ``"two_hot"``, ``"c51"``, ...);
        required, set by :class:`~sb3_hlgauss.HLGaussSAC` from its own arguments (no default: a
        policy built without it, e.g. by SB3's ``SAC.load`` on an HLGaussSAC file, is an error)
    :param loss_kwargs: Arguments of the loss (``v_min``, ``v_max``, ``num_bins``, ...);
        required, set by the algorithm from its own constructor arguments
    :param net_arch: The specification of the policy and value networks
    :param activation_fn: Activation function
    :param use_sde: Whether to use State Dependent Exploration or not
    :param log_std_init: Initial value for the log standard deviation
    :param use_expln: Use ``expln()`` instead of ``exp()`` to ensure a positive standard deviation
    :param clip_mean: Clip the mean output when using gSDE to avoid numerical instability
    :param features_extractor_class: Features extractor to use
    :param features_extractor_kwargs: Keyword arguments to pass to the features extractor
    :param normalize_images: Whether to normalize images or not, dividing by 255.0
    :param optimizer_class: The optimizer to use, ``th.optim.Adam`` by default
    :param optimizer_kwargs: Additional keyword arguments, excluding the learning rate, to pass to the optimizer
    :param n_critics: Number of critic heads
    :param share_features_extractor: Whether to share the features extractor between the actor and the critic
    """

    critic: CategoricalContinuousCritic
    critic_target: CategoricalContinuousCritic

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Box,
        lr_schedule: Schedule,
        loss: str | None = None,
        loss_kwargs: dict[str, Any] | None = None,
        net_arch: list[int] | dict[str, list[int]] | None = None,
        activation_fn: type[nn.Module] = nn.ReLU,
        use_sde: bool = False,
        log_std_init: float = -3,
        use_expln: bool = False,
        clip_mean: float = 2.0,
        features_extractor_class: type[BaseFeaturesExtractor] = FlattenExtractor,
        features_extractor_kwargs: dict[str, Any] | None = None,
        normalize_images: bool = True,
        optimizer_class: type[th.optim.Optimizer] = th.optim.Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
        n_critics: int = 2,
        share_features_extractor: bool = False,
    ) -> None:
        self._store_value_loss_settings(loss, loss_kwargs)
        super().__init__(
            observation_space,
            action_space,
            lr_schedule,
            net_arch=net_arch,
            activation_fn=activation_fn,
            use_sde=use_sde,
            log_std_init=log_std_init,
            use_expln=use_expln,
            clip_mean=clip_mean,
            features_extractor_class=features_extractor_class,
            features_extractor_kwargs=features_extractor_kwargs,
            normalize_images=normalize_images,
            optimizer_class=optimizer_class,
            optimizer_kwargs=optimizer_kwargs,
            n_critics=n_critics,
            share_features_extractor=share_features_extractor,
        )

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        # SB3's SACPolicy leaves it out; a policy saved on its own should keep it.
        data.update(share_features_extractor=self.share_features_extractor)
        return data


MlpPolicy = HLGaussSACPolicy


class CnnPolicy(HLGaussSACPolicy):
    """:class:`HLGaussSACPolicy` for image observations (Nature CNN features extractor by default).

    Takes the arguments of :class:`HLGaussSACPolicy`.
    """

    def __init__(self, *args: Any, features_extractor_class: type[BaseFeaturesExtractor] = NatureCNN, **kwargs: Any) -> None:
        super().__init__(*args, features_extractor_class=features_extractor_class, **kwargs)


class MultiInputPolicy(HLGaussSACPolicy):
    """:class:`HLGaussSACPolicy` for dict observations (``CombinedExtractor`` by default).

    Takes the arguments of :class:`HLGaussSACPolicy`.
    """

    def __init__(
        self, *args: Any, features_extractor_class: type[BaseFeaturesExtractor] = CombinedExtractor, **kwargs: Any
    ) -> None:
        super().__init__(*args, features_extractor_class=features_extractor_class, **kwargs)

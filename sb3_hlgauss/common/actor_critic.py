"""The actor-critic policy of the on-policy algorithms, :class:`~sb3_hlgauss.HLGaussPPO` and
:class:`~sb3_hlgauss.HLGaussA2C`: SB3's :class:`~stable_baselines3.common.policies.ActorCriticPolicy` with a
categorical value head. Each algorithm's policies (``MlpPolicy``, ``CnnPolicy``, ``MultiInputPolicy``) derive
from it, as SB3's PPO and A2C both use ``ActorCriticPolicy``.
"""

from __future__ import annotations

from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, FlattenExtractor
from stable_baselines3.common.type_aliases import Schedule
from torch import nn

from sb3_hlgauss.common.on_policy import CategoricalValuePolicyMixin


class HLGaussActorCriticPolicy(CategoricalValuePolicyMixin, ActorCriticPolicy):
    """SB3's :class:`~stable_baselines3.common.policies.ActorCriticPolicy` whose value head outputs
    ``num_bins`` logits (:class:`~sb3_hlgauss.common.on_policy.CategoricalValueHead`); its value is the
    mean of that distribution in return units (Farebrother et al., 2024, arXiv:2403.03950).

    ``forward``, ``predict_values`` and ``evaluate_actions`` return values, as SB3's do;
    ``evaluate_actions_with_value_logits`` and ``predict_value_logits`` return the logits.

    :param observation_space: Observation space
    :param action_space: Action space
    :param lr_schedule: Learning rate schedule (could be constant)
    :param loss: Name of the registered value loss (``"hl_gauss"``, ``"two_hot"``, ...); required, set
        by the algorithm from its own arguments (no default: a policy built without it, e.g. by SB3's
        ``PPO.load`` on an HLGaussPPO file, is an error)
    :param loss_kwargs: Arguments of the loss (``v_min``, ``v_max``, ``num_bins``, ...); required, set by
        the algorithm from its own constructor arguments
    :param net_arch: The specification of the policy and value networks (``dict(pi=[...], vf=[...])``)
    :param activation_fn: Activation function
    :param ortho_init: Whether to use orthogonal initialization (the value head's output layer starts at zero)
    :param use_sde: Whether to use State Dependent Exploration or not
    :param log_std_init: Initial value for the log standard deviation
    :param full_std: Whether to use (n_features x n_actions) parameters for the std instead of only
        (n_features,) when using gSDE
    :param use_expln: Use ``expln()`` instead of ``exp()`` to ensure a positive standard deviation
    :param squash_output: Whether to squash the output using a tanh function (gSDE only)
    :param features_extractor_class: Features extractor to use
    :param features_extractor_kwargs: Keyword arguments to pass to the features extractor
    :param share_features_extractor: If True, the features extractor is shared between the policy and value networks
    :param normalize_images: Whether to normalize images or not, dividing by 255.0
    :param optimizer_class: The optimizer to use, ``th.optim.Adam`` by default
    :param optimizer_kwargs: Additional keyword arguments, excluding the learning rate, to pass to the
        optimizer (None: SB3's default, ``eps=1e-5`` for Adam)
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Schedule,
        loss: str | None = None,
        loss_kwargs: dict[str, Any] | None = None,
        net_arch: list[int] | dict[str, list[int]] | None = None,
        activation_fn: type[nn.Module] = nn.Tanh,
        ortho_init: bool = True,
        use_sde: bool = False,
        log_std_init: float = 0.0,
        full_std: bool = True,
        use_expln: bool = False,
        squash_output: bool = False,
        features_extractor_class: type[BaseFeaturesExtractor] = FlattenExtractor,
        features_extractor_kwargs: dict[str, Any] | None = None,
        share_features_extractor: bool = True,
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
            ortho_init=ortho_init,
            use_sde=use_sde,
            log_std_init=log_std_init,
            full_std=full_std,
            use_expln=use_expln,
            squash_output=squash_output,
            features_extractor_class=features_extractor_class,
            features_extractor_kwargs=features_extractor_kwargs,
            share_features_extractor=share_features_extractor,
            normalize_images=normalize_images,
            optimizer_class=optimizer_class,
            optimizer_kwargs=optimizer_kwargs,
        )

"""Policies of :class:`~sb3_hlgauss.HLGaussA2C`: the actor-critic policy shared with
:class:`~sb3_hlgauss.HLGaussPPO` (SB3's, with a categorical value head), under A2C's names.

``MlpPolicy``, ``CnnPolicy`` and ``MultiInputPolicy`` differ only in their default features
extractor, as in SB3.
"""

from __future__ import annotations

from typing import Any

from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, CombinedExtractor, NatureCNN

from sb3_hlgauss.common.actor_critic import HLGaussActorCriticPolicy


class HLGaussA2CPolicy(HLGaussActorCriticPolicy):
    """Policy of :class:`~sb3_hlgauss.HLGaussA2C` (``"MlpPolicy"``); takes the arguments of
    :class:`~sb3_hlgauss.common.actor_critic.HLGaussActorCriticPolicy`."""


MlpPolicy = HLGaussA2CPolicy


class CnnPolicy(HLGaussA2CPolicy):
    """:class:`HLGaussA2CPolicy` for image observations (Nature CNN features extractor by default)."""

    def __init__(self, *args: Any, features_extractor_class: type[BaseFeaturesExtractor] = NatureCNN, **kwargs: Any) -> None:
        super().__init__(*args, features_extractor_class=features_extractor_class, **kwargs)


class MultiInputPolicy(HLGaussA2CPolicy):
    """:class:`HLGaussA2CPolicy` for dict observations (``CombinedExtractor`` by default)."""

    def __init__(
        self, *args: Any, features_extractor_class: type[BaseFeaturesExtractor] = CombinedExtractor, **kwargs: Any
    ) -> None:
        super().__init__(*args, features_extractor_class=features_extractor_class, **kwargs)

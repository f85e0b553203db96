"""Policies of :class:`~sb3_hlgauss.HLGaussPPO`: SB3's actor-critic policy with a categorical value head
(:class:`~sb3_hlgauss.common.actor_critic.HLGaussActorCriticPolicy`).

``MlpPolicy``, ``CnnPolicy`` and ``MultiInputPolicy`` differ only in their default features
extractor, as in SB3.
"""

from __future__ import annotations

from typing import Any

from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, CombinedExtractor, NatureCNN

# Defined in sb3_hlgauss.common.actor_critic (shared with HLGaussA2C); importable from here as before, so that
# models of 0.4.0, whose files name this module, still load.
from sb3_hlgauss.common.actor_critic import HLGaussActorCriticPolicy


class HLGaussPPOPolicy(HLGaussActorCriticPolicy):
    """Policy of :class:`~sb3_hlgauss.HLGaussPPO` (``"MlpPolicy"``); takes the arguments of
    :class:`~sb3_hlgauss.common.actor_critic.HLGaussActorCriticPolicy`."""


MlpPolicy = HLGaussPPOPolicy


class CnnPolicy(HLGaussPPOPolicy):
    """:class:`HLGaussPPOPolicy` for image observations (Nature CNN features extractor by default)."""

    def __init__(self, *args: Any, features_extractor_class: type[BaseFeaturesExtractor] = NatureCNN, **kwargs: Any) -> None:
        super().__init__(*args, features_extractor_class=features_extractor_class, **kwargs)


class MultiInputPolicy(HLGaussPPOPolicy):
    """:class:`HLGaussPPOPolicy` for dict observations (``CombinedExtractor`` by default)."""

    def __init__(
        self, *args: Any, features_extractor_class: type[BaseFeaturesExtractor] = CombinedExtractor, **kwargs: Any
    ) -> None:
        super().__init__(*args, features_extractor_class=features_extractor_class, **kwargs)

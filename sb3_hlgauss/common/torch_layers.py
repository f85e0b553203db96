"""Feature extractors for small-image benchmarks."""

from __future__ import annotations

import gymnasium as gym
import torch as th
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn


class MinAtarCNN(BaseFeaturesExtractor):
    """The MinAtar network's convolutional torso (Young & Tian, 2019): one 3x3 conv with 16 channels,
    stride 1, ReLU, flattened. Put the 128-unit hidden layer in ``net_arch=[128]``.

    MinAtar observations are channel-last boolean grids ``(10, 10, C)``; they are permuted and cast
    to float here, so the extractor works with ``MlpPolicy`` or ``CnnPolicy`` alike.

    :param observation_space: A ``Box`` of shape ``(H, W, C)`` (channel-last) or ``(C, H, W)``
        with ``channels_last=False``.
    :param channels: Convolution channels.
    :param channels_last: Whether observations are ``(H, W, C)``.
    """

    def __init__(self, observation_space: gym.spaces.Box, channels: int = 16, channels_last: bool = True) -> None:
        if len(observation_space.shape) != 3:
            raise ValueError(f"MinAtarCNN expects (H, W, C) observations, got shape {observation_space.shape}")
        height, width, in_channels = (
            observation_space.shape if channels_last else (*observation_space.shape[1:], observation_space.shape[0])
        )
        super().__init__(observation_space, features_dim=channels * (height - 2) * (width - 2))
        self.channels_last = channels_last
        self.cnn = nn.Sequential(nn.Conv2d(in_channels, channels, kernel_size=3, stride=1), nn.ReLU(), nn.Flatten())

    def forward(self, observations: th.Tensor) -> th.Tensor:
        observations = observations.float()
        if self.channels_last:
            observations = observations.permute(0, 3, 1, 2)
        return self.cnn(observations)

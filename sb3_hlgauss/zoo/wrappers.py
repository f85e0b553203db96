"""Environment wrappers our zoo configs name with ``env_wrapper``."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from stable_baselines3.common.atari_wrappers import AtariWrapper as SB3AtariWrapper


class AtariWrapper(SB3AtariWrapper):
    """SB3's :class:`~stable_baselines3.common.atari_wrappers.AtariWrapper` (the zoo's usual Atari
    pre-processing: no-op reset, frame skip with max-pooling, episodic life, fire reset, 84x84 grey
    frames, reward clipping to {-1, 0, 1}) that works with both ``<Game>NoFrameskip-v4`` and
    ``ALE/<Game>-v5``.

    ``ALE/...-v5`` environments already repeat each action 4 times inside the emulator (and use
    sticky actions with probability 0.25, as in the paper); wrapping them with ``frame_skip=4`` again
    would act every 16 frames. When the environment skips frames itself, the wrapper's own frame skip
    is turned off.
    """

    def __init__(self, env: gym.Env, frame_skip: int = 4, **kwargs: Any) -> None:
        env_frameskip = getattr(env.unwrapped, "_frameskip", 1)
        if isinstance(env_frameskip, int) and env_frameskip > 1:
            frame_skip = 1
        super().__init__(env, frame_skip=frame_skip, **kwargs)

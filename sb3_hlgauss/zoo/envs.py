"""Register the environment families our zoo configs use (MinAtar v1, ALE).

Importing this module registers them, so it can also be named with the zoo's own flag:
``python -m rl_zoo3.train ... --gym-packages sb3_hlgauss.zoo.envs``. Missing optional
packages (``minatar``, ``ale-py``) are skipped silently: their ids just stay unregistered.
"""

from __future__ import annotations

import gymnasium as gym

MINATAR_GAMES = ("Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders")
MINATAR_ENV_IDS = tuple(f"MinAtar/{game}-v1" for game in MINATAR_GAMES)


def register_envs() -> None:
    """Register MinAtar (``MinAtar/<Game>-v1``) and ALE (``ALE/<Game>-v5``, ``<Game>NoFrameskip-v4``) ids.

    Idempotent.
    """
    if MINATAR_ENV_IDS[0] not in gym.registry:
        try:
            import minatar.gym

            minatar.gym.register_envs()
        except ImportError:
            pass
    if "ALE/Pong-v5" not in gym.registry:
        try:
            import ale_py

            gym.register_envs(ale_py)
        except ImportError:
            pass


register_envs()

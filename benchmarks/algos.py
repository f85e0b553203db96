"""Agents and environment wrappers used by the benchmark suites.

Nothing here re-implements a classification loss: HL-Gauss, Two-Hot, C51 and the
categorical-MSE ablation all run through :class:`sb3_hlgauss.HLGaussDQN` (and so through
``sb3_hlgauss.common.losses``). The two scalar baselines are SB3's own DQN (Huber loss) and
:class:`MSEDQN`, SB3's DQN with ``F.mse_loss`` in place of ``F.smooth_l1_loss``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3 import DQN
from torch.nn import functional as F

#: Variants of a DQN critic: name -> (algorithm, loss). ``loss=None``: scalar head.
DQN_VARIANTS: dict[str, tuple[str, str | None]] = {
    "mse": ("mse_dqn", None),
    "huber": ("dqn", None),
    "hl_gauss": ("hlgauss_dqn", "hl_gauss"),
    "two_hot": ("hlgauss_dqn", "two_hot"),
    "c51": ("hlgauss_dqn", "c51"),
    "categorical_mse": ("hlgauss_dqn", "categorical_mse"),
}
#: Variants of a SAC critic (Suite D).
SAC_VARIANTS: dict[str, tuple[str, str | None]] = {
    "sac": ("sac", None),
    "sac_hl_gauss": ("hlgauss_sac", "hl_gauss"),
}
VARIANTS = {**DQN_VARIANTS, **SAC_VARIANTS}


class MSEDQN(DQN):
    """SB3's DQN with the mean squared TD error instead of the Huber loss: the paper's regression
    baseline. Everything else (target network, gradient clipping, exploration) is SB3's DQN."""

    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)

        losses = []
        for _ in range(gradient_steps):
            replay_data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)  # type: ignore[union-attr]
            discounts = replay_data.discounts if replay_data.discounts is not None else self.gamma
            with th.no_grad():
                next_q_values, _ = self.q_net_target(replay_data.next_observations).max(dim=1)
                target_q_values = replay_data.rewards + (1 - replay_data.dones) * discounts * next_q_values.reshape(-1, 1)
            current_q_values = th.gather(self.q_net(replay_data.observations), dim=1, index=replay_data.actions.long())
            loss = F.mse_loss(current_q_values, target_q_values)
            losses.append(loss.item())

            self.policy.optimizer.zero_grad()
            loss.backward()
            th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
            self.policy.optimizer.step()

        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/loss", np.mean(losses))


class UniformRewardNoise(gym.RewardWrapper):
    """Adds ``eps ~ U(0, eta)`` to every reward (the paper's noisy-reward experiment).

    The noise has its own generator, seeded from the run's seed, so that runs are reproducible
    and independent of the environment's own randomness.
    """

    def __init__(self, env: gym.Env, eta: float, seed: int | None = None) -> None:
        super().__init__(env)
        if eta < 0:
            raise ValueError(f"eta must be >= 0, got {eta}")
        self.eta = float(eta)
        self.noise_rng = np.random.default_rng(seed)

    def reward(self, reward: float) -> float:
        if self.eta == 0.0:
            return reward
        return float(reward) + float(self.noise_rng.uniform(0.0, self.eta))


def register_envs() -> None:
    """Register the MinAtar environments if MinAtar is installed (a no-op otherwise)."""
    try:
        import minatar.gym
    except ImportError:  # pragma: no cover - optional dependency
        return
    if "MinAtar/Breakout-v1" not in gym.registry:
        minatar.gym.register_envs()


def make_env(env_id: str, seed: int, reward_noise: float = 0.0, max_episode_steps: int | None = None) -> gym.Env:
    """One environment for training (with optional reward noise) or evaluation (``reward_noise=0``)."""
    register_envs()
    env = gym.make(env_id)
    if max_episode_steps is not None:
        env = gym.wrappers.TimeLimit(env, max_episode_steps=max_episode_steps)
    if reward_noise:
        env = UniformRewardNoise(env, reward_noise, seed=seed + 10_007)
    env = gym.wrappers.RecordEpisodeStatistics(env)
    return env


def algorithm_class(name: str) -> type:
    """The SB3-compatible class of an algorithm name used in the suites."""
    if name == "mse_dqn":
        return MSEDQN
    if name == "dqn":
        return DQN
    if name == "hlgauss_dqn":
        from sb3_hlgauss import HLGaussDQN

        return HLGaussDQN
    if name == "sac":
        from stable_baselines3 import SAC

        return SAC
    if name == "hlgauss_sac":
        from sb3_hlgauss.hlgauss_sac import HLGaussSAC  # built separately; Suite D needs it

        return HLGaussSAC
    raise ValueError(f"Unknown algorithm {name!r}")


def resolve_policy_kwargs(policy_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Turn the JSON-friendly policy kwargs of a suite (class names as strings) into real ones."""
    kwargs = dict(policy_kwargs)
    extractor = kwargs.get("features_extractor_class")
    if extractor == "MinAtarCNN":
        from sb3_hlgauss.common.torch_layers import MinAtarCNN

        kwargs["features_extractor_class"] = MinAtarCNN
    elif isinstance(extractor, str):
        raise ValueError(f"Unknown features extractor {extractor!r}")
    return kwargs

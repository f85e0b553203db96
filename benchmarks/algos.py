"""Agents and environment wrappers used by the benchmark suites.

Nothing here re-implements a classification loss: HL-Gauss, Two-Hot, C51 and the
categorical-MSE ablation all run through :class:`sb3_hlgauss.HLGaussDQN` (and so through
``sb3_hlgauss.common.losses``), as do :class:`~sb3_hlgauss.HLGaussSAC` and :class:`~sb3_hlgauss.HLGaussPPO`.
The two scalar baselines are SB3's own DQN (Huber loss) and
:class:`~sb3_hlgauss.baselines.MSEDQN`, SB3's DQN with ``F.mse_loss`` in place of ``F.smooth_l1_loss``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3 import DQN

from sb3_hlgauss.baselines import MSEDQN

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
#: Variants of a PPO critic (Suite E): SB3's PPO (MSE on the lambda-returns) and HLGaussPPO.
PPO_VARIANTS: dict[str, tuple[str, str | None]] = {
    "ppo": ("ppo", None),
    "ppo_hl_gauss": ("hlgauss_ppo", "hl_gauss"),
}
VARIANTS = {**DQN_VARIANTS, **SAC_VARIANTS, **PPO_VARIANTS}


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
    if name == "ppo":
        from stable_baselines3 import PPO

        return PPO
    if name == "hlgauss_ppo":
        from sb3_hlgauss import HLGaussPPO

        return HLGaussPPO
    raise ValueError(f"Unknown algorithm {name!r}")


def start_from_target_distribution(model: Any, value: float) -> None:
    """Benchmark-only initialisation of a :class:`~sb3_hlgauss.HLGaussDQN` head (suite ``c51_init``): every
    action's distribution starts as the loss's target distribution for the return ``value`` instead of the
    uniform one that the zero-initialised output layer gives, in the online and the target network.

    It is the initialisation of HLGaussPPO's value head (:class:`~sb3_hlgauss.common.on_policy.CategoricalValueHead`:
    zero weights, bias the log of the target probabilities floored at its ``INITIAL_PROBS_FLOOR``), applied
    to the Q-network's output layer, whose units are ``n_actions`` blocks of ``num_bins`` logits.
    """
    import torch as th

    from sb3_hlgauss.common.on_policy import CategoricalValueHead

    value_loss = model.value_loss
    q_net = model.q_net
    output = q_net.q_net[-1]
    with th.no_grad():
        probs = value_loss.to_probs(th.tensor([value], dtype=th.float64, device=value_loss.centers.device))[0]
        logits = probs.clamp_min(CategoricalValueHead.INITIAL_PROBS_FLOOR).log()
        output.weight.zero_()
        output.bias.copy_(logits.repeat(q_net.n_actions))
    model.q_net_target.load_state_dict(q_net.state_dict())


#: Activation functions a suite may name in ``policy_kwargs`` (JSON-friendly strings).
ACTIVATIONS = {"ReLU": "ReLU", "Tanh": "Tanh"}


def resolve_policy_kwargs(policy_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Turn the JSON-friendly policy kwargs of a suite (class names as strings) into real ones."""
    kwargs = dict(policy_kwargs)
    activation = kwargs.get("activation_fn")
    if isinstance(activation, str):
        import torch.nn

        if activation not in ACTIVATIONS:
            raise ValueError(f"Unknown activation function {activation!r}; known: {sorted(ACTIVATIONS)}")
        kwargs["activation_fn"] = getattr(torch.nn, ACTIVATIONS[activation])
    extractor = kwargs.get("features_extractor_class")
    if extractor == "MinAtarCNN":
        from sb3_hlgauss.common.torch_layers import MinAtarCNN

        kwargs["features_extractor_class"] = MinAtarCNN
    elif isinstance(extractor, str):
        raise ValueError(f"Unknown features extractor {extractor!r}")
    return kwargs


def resolve_schedules(algo_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Turn the zoo's ``"lin_<x>"`` strings (``learning_rate``, ``clip_range``) into linear schedules."""
    kwargs = dict(algo_kwargs)
    for key in ("learning_rate", "clip_range", "clip_range_vf"):
        value = kwargs.get(key)
        if isinstance(value, str) and value.startswith("lin_"):
            kwargs[key] = LinearSchedule(float(value[4:]))
    return kwargs


class LinearSchedule:
    """``progress_remaining * initial`` (the zoo's ``lin_<initial>``), picklable for the run's processes."""

    def __init__(self, initial: float) -> None:
        self.initial = initial

    def __call__(self, progress_remaining: float) -> float:
        return progress_remaining * self.initial

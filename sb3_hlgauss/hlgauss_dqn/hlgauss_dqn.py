"""DQN with a classification critic (HL-Gauss, Two-Hot, C51, ...)."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.dqn import DQN

from sb3_hlgauss.common.base_class import ClassificationCriticMixin, check_action_space
from sb3_hlgauss.common.checks import FiniteTransitionsMixin
from sb3_hlgauss.hlgauss_dqn.policies import (
    CategoricalQNetwork,
    CnnPolicy,
    HLGaussDQNPolicy,
    MlpPolicy,
    MultiInputPolicy,
)

SelfHLGaussDQN = TypeVar("SelfHLGaussDQN", bound="HLGaussDQN")


def _select_action(logits: th.Tensor, actions: th.Tensor) -> th.Tensor:
    """Logits ``(batch, n_actions, num_bins)`` of one action per sample -> ``(batch, num_bins)``."""
    index = actions.long().view(-1, 1, 1).expand(-1, 1, logits.shape[-1])
    return logits.gather(1, index).squeeze(1)


class HLGaussDQN(FiniteTransitionsMixin, ClassificationCriticMixin, DQN):
    """
    Deep Q-Network trained by classification.

    Paper: *Stop Regressing: Training Value Functions via Classification for Scalable Deep RL*,
    Farebrother et al., ICML 2024, https://arxiv.org/abs/2403.03950

    The Q-network outputs ``num_bins`` logits per action over a fixed support; Q-values are the
    means of these distributions in return units (the loss's ``to_value``). The TD target
    ``r + gamma^n (1 - done) max_a' Q_target(s', a')``
    is turned into target probabilities by the selected loss (HL-Gauss by default) and the logits
    of the taken actions are trained with cross-entropy instead of SB3's Huber loss.
    ``loss="c51"`` projects the target network's whole distribution instead (Bellemare et al., 2017).

    Everything else is SB3's :class:`~stable_baselines3.DQN`: replace ``DQN`` with ``HLGaussDQN``.

    The loss settings (``loss``, ``num_bins``, ``v_min``, ``v_max``, ``sigma_ratio``, ``value_transform``,
    ``loss_kwargs``) are keyword-only and come after SB3's own arguments, so that every call of SB3's
    algorithm, positional arguments included, works unchanged; ``None`` means the documented default.

    :param policy: The policy model to use (MlpPolicy, CnnPolicy, MultiInputPolicy)
    :param env: The environment to learn from (if registered in Gym, can be str)
    :param learning_rate: The learning rate, it can be a function
        of the current progress remaining (from 1 to 0)
    :param buffer_size: size of the replay buffer
    :param learning_starts: how many steps of the model to collect transitions for before learning starts
    :param batch_size: Minibatch size for each gradient update
    :param tau: the soft update coefficient ("Polyak update", between 0 and 1) default 1 for hard update
    :param gamma: the discount factor
    :param train_freq: Update the model every ``train_freq`` steps. Alternatively pass a tuple of frequency
        and unit like ``(5, "step")`` or ``(2, "episode")``.
    :param gradient_steps: How many gradient steps to do after each rollout (-1: as many as env steps)
    :param replay_buffer_class: Replay buffer class to use (for instance ``HerReplayBuffer``).
    :param replay_buffer_kwargs: Keyword arguments to pass to the replay buffer on creation.
    :param optimize_memory_usage: Enable a memory efficient variant of the replay buffer
    :param n_steps: When n_step > 1, uses n-step return (with the NStepReplayBuffer)
    :param target_update_interval: update the target network every ``target_update_interval`` env steps
    :param exploration_fraction: fraction of entire training period over which the exploration rate is reduced
    :param exploration_initial_eps: initial value of random action probability
    :param exploration_final_eps: final value of random action probability
    :param max_grad_norm: The maximum value for the gradient clipping
    :param stats_window_size: Window size for the rollout logging
    :param tensorboard_log: the log location for tensorboard (if None, no logging)
    :param policy_kwargs: additional arguments to be passed to the policy on creation
    :param verbose: Verbosity level: 0 for no output, 1 for info messages, 2 for debug messages
    :param seed: Seed for the pseudo random generators
    :param device: Device (cpu, cuda, ...) on which the code should be run.
    :param _init_setup_model: Whether or not to build the network at the creation of the instance
    :param loss: Name of the value loss: ``"hl_gauss"``, ``"two_hot"``, ``"c51"``,
        ``"categorical_mse"`` or one added with :func:`~sb3_hlgauss.register_loss` (None: ``"hl_gauss"``)
    :param num_bins: Number of bins of the support (None: 101)
    :param v_min: Lowest value of a hand-set support, in return units (None: the support follows the
        returns, ``value_scale="auto"``; with only ``v_max`` given: -10000.0)
    :param v_max: Highest value of a hand-set support, in return units (None: as ``v_min``; 10000.0)
    :param sigma_ratio: HL-Gauss only: standard deviation of the Gaussian label as a multiple of the
        bin width (None: the loss's default, 0.75 as in the paper)
    :param value_transform: ``"symlog"`` or ``"identity"``: transform applied to targets before
        binning; the bins are uniform in transformed units (None: ``"identity"`` with
        ``value_scale="auto"``, ``"symlog"`` with a hand-set support)
    :param loss_kwargs: Further keyword arguments of the loss (e.g. ``sigma`` in transformed units;
        None: none)
    :param value_scale: ``"auto"``: the support is ``[-5, 5]`` times a running scale of the discounted
        returns (:class:`~sb3_hlgauss.common.value_scale.RunningReturnScale`), so no range is chosen by hand;
        ``"fixed"``: the support is ``[v_min, v_max]`` (None: ``"auto"`` unless ``v_min`` or ``v_max`` is given)
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": MlpPolicy,
        "CnnPolicy": CnnPolicy,
        "MultiInputPolicy": MultiInputPolicy,
    }
    q_net: CategoricalQNetwork
    q_net_target: CategoricalQNetwork
    policy: HLGaussDQNPolicy

    def __init__(
        self,
        policy: str | type[HLGaussDQNPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 1e-4,
        buffer_size: int = 1_000_000,
        learning_starts: int = 100,
        batch_size: int = 32,
        tau: float = 1.0,
        gamma: float = 0.99,
        train_freq: int | tuple[int, str] = 4,
        gradient_steps: int = 1,
        replay_buffer_class: type[ReplayBuffer] | None = None,
        replay_buffer_kwargs: dict[str, Any] | None = None,
        optimize_memory_usage: bool = False,
        n_steps: int = 1,
        target_update_interval: int = 10_000,
        exploration_fraction: float = 0.1,
        exploration_initial_eps: float = 1.0,
        exploration_final_eps: float = 0.05,
        max_grad_norm: float = 10,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
        *,
        loss: str | None = None,
        num_bins: int | None = None,
        v_min: float | None = None,
        v_max: float | None = None,
        sigma_ratio: float | None = None,
        value_transform: str | None = None,
        loss_kwargs: dict[str, Any] | None = None,
        value_scale: str | None = None,
    ) -> None:
        env = check_action_space(
            env, (spaces.Discrete,), type(self).__name__, "For continuous actions use HLGaussSAC or HLGaussTD3.", verbose
        )
        super().__init__(
            policy,
            env,
            learning_rate=learning_rate,
            buffer_size=buffer_size,
            learning_starts=learning_starts,
            batch_size=batch_size,
            tau=tau,
            gamma=gamma,
            train_freq=train_freq,
            gradient_steps=gradient_steps,
            replay_buffer_class=replay_buffer_class,
            replay_buffer_kwargs=replay_buffer_kwargs,
            optimize_memory_usage=optimize_memory_usage,
            n_steps=n_steps,
            target_update_interval=target_update_interval,
            exploration_fraction=exploration_fraction,
            exploration_initial_eps=exploration_initial_eps,
            exploration_final_eps=exploration_final_eps,
            max_grad_norm=max_grad_norm,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            policy_kwargs=policy_kwargs,
            verbose=verbose,
            seed=seed,
            device=device,
            _init_setup_model=False,
        )
        self._set_value_loss_settings(
            loss, num_bins, v_min, v_max, sigma_ratio, value_transform, loss_kwargs, value_scale
        )
        if _init_setup_model:
            self._setup_model()

    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        # Switch to train mode (this affects batch norm / dropout)
        self.policy.set_training_mode(True)
        # Update learning rate according to schedule
        self._update_learning_rate(self.policy.optimizer)

        losses = []
        clipped = []
        for _ in range(gradient_steps):
            # Sample replay buffer
            replay_data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)  # type: ignore[union-attr]
            # For n-step replay, discount factor is gamma**n_steps (when no early termination)
            discounts = replay_data.discounts if replay_data.discounts is not None else self.gamma

            with th.no_grad():
                # Compute the next Q-values using the target network
                next_logits = self.q_net_target(replay_data.next_observations)
                # Follow greedy policy: use the one with the highest value (to_value, in return units)
                next_q_values, next_actions = self.value_loss.to_value(next_logits).max(dim=1)
                # Only distributional losses (C51) bootstrap from the greedy action's whole distribution
                next_logits = _select_action(next_logits, next_actions) if self.value_loss.distributional else None
                # r + gamma^n (1 - done) Q_target(s', a*), as target probabilities over the bins
                target = self.value_loss.td_target(
                    replay_data.rewards, (1 - replay_data.dones) * discounts, next_logits, next_values=next_q_values
                )

            # Logits of the actions taken, trained with cross-entropy against the target probabilities
            logits = _select_action(self.q_net(replay_data.observations), replay_data.actions.view(-1))
            loss = self.value_loss(logits, target)
            losses.append(loss.item())
            self._check_finite_loss(losses[-1])
            clipped.append(target.clipped)

            # Optimize the policy
            self.policy.optimizer.zero_grad()
            loss.backward()
            # Clip gradient norm
            th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
            self.policy.optimizer.step()

        # Increase update counter
        self._n_updates += gradient_steps

        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/loss", np.mean(losses))
        # Targets clipped to the support (train/target_clip_fraction) and the last batch's logits (train/q_mean)
        self._record_critic_stats(logits, clipped)

    def learn(
        self: SelfHLGaussDQN,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 4,
        tb_log_name: str = "HLGaussDQN",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfHLGaussDQN:
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )

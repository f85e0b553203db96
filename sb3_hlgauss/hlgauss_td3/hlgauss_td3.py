"""TD3 with a classification critic (HL-Gauss, Two-Hot, C51, ...)."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.noise import ActionNoise
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import polyak_update
from stable_baselines3.td3 import TD3

from sb3_hlgauss.common.base_class import ClassificationCriticMixin, check_action_space
from sb3_hlgauss.common.checks import FiniteTransitionsMixin
from sb3_hlgauss.common.continuous_critic import CategoricalContinuousCritic, CategoricalCriticAlgorithmMixin
from sb3_hlgauss.hlgauss_td3.policies import CnnPolicy, HLGaussTD3Policy, MlpPolicy, MultiInputPolicy

SelfHLGaussTD3 = TypeVar("SelfHLGaussTD3", bound="HLGaussTD3")


class HLGaussTD3(FiniteTransitionsMixin, CategoricalCriticAlgorithmMixin, ClassificationCriticMixin, TD3):
    """
    Twin Delayed DDPG whose critics are trained by classification.

    Paper: *Stop Regressing: Training Value Functions via Classification for Scalable Deep RL*,
    Farebrother et al., ICML 2024, https://arxiv.org/abs/2403.03950 (here applied to TD3,
    Fujimoto et al., 2018, https://arxiv.org/abs/1802.09477).

    Each of the ``n_critics`` critic heads outputs ``num_bins`` logits for ``(s, a)``; its Q-value is
    the mean of that distribution in return units (the loss's ``to_value``). The TD target
    ``y = r + gamma (1 - done) min_j Q_target_j(s', a')``, with TD3's target policy smoothing
    ``a' = clip(mu_target(s') + clip(eps, -c, c), -1, 1)``, is turned into target probabilities by the
    selected loss and every head is trained with cross-entropy (the critic loss is the sum over heads).
    The actor is updated every ``policy_delay`` critic updates to maximise the Q-value of
    the first head, as in TD3. ``loss="c51"`` projects the distribution of the target head with the
    lowest Q-value.

    Everything else is SB3's :class:`~stable_baselines3.TD3`: replace ``TD3`` with ``HLGaussTD3``.

    The loss settings (``loss``, ``num_bins``, ``v_min``, ``v_max``, ``sigma_ratio``, ``value_transform``,
    ``loss_kwargs``) are keyword-only and come after SB3's own arguments, so that every call of SB3's
    algorithm, positional arguments included, works unchanged; ``None`` means the documented default.

    :param policy: The policy model to use (MlpPolicy, CnnPolicy, MultiInputPolicy)
    :param env: The environment to learn from (if registered in Gym, can be str)
    :param learning_rate: learning rate for adam optimizer,
        the same learning rate will be used for all networks (Q-Values, Actor and Value function)
        it can be a function of the current progress remaining (from 1 to 0)
    :param buffer_size: size of the replay buffer
    :param learning_starts: how many steps of the model to collect transitions for before learning starts
    :param batch_size: Minibatch size for each gradient update
    :param tau: the soft update coefficient ("Polyak update", between 0 and 1)
    :param gamma: the discount factor
    :param train_freq: Update the model every ``train_freq`` steps. Alternatively pass a tuple of frequency
        and unit like ``(5, "step")`` or ``(2, "episode")``.
    :param gradient_steps: How many gradient steps to do after each rollout (-1: as many as env steps)
    :param action_noise: the action noise type (None by default), this can help
        for hard exploration problem. Cf common.noise for the different action noise type.
    :param replay_buffer_class: Replay buffer class to use (for instance ``HerReplayBuffer``).
    :param replay_buffer_kwargs: Keyword arguments to pass to the replay buffer on creation.
    :param optimize_memory_usage: Enable a memory efficient variant of the replay buffer
    :param n_steps: When n_step > 1, uses n-step return (with the NStepReplayBuffer)
    :param policy_delay: Policy and target networks will only be updated once every policy_delay steps
        per training steps. The Q values will be updated policy_delay more often (update every training step).
    :param target_policy_noise: Standard deviation of Gaussian noise added to target policy
        (smoothing noise)
    :param target_noise_clip: Limit for absolute value of target policy smoothing noise.
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
    policy: HLGaussTD3Policy
    critic: CategoricalContinuousCritic
    critic_target: CategoricalContinuousCritic

    def __init__(
        self,
        policy: str | type[HLGaussTD3Policy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 1e-3,
        buffer_size: int = 1_000_000,
        learning_starts: int = 100,
        batch_size: int = 256,
        tau: float = 0.005,
        gamma: float = 0.99,
        train_freq: int | tuple[int, str] = 1,
        gradient_steps: int = 1,
        action_noise: ActionNoise | None = None,
        replay_buffer_class: type[ReplayBuffer] | None = None,
        replay_buffer_kwargs: dict[str, Any] | None = None,
        optimize_memory_usage: bool = False,
        n_steps: int = 1,
        policy_delay: int = 2,
        target_policy_noise: float = 0.2,
        target_noise_clip: float = 0.5,
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
        env = check_action_space(env, (spaces.Box,), type(self).__name__, "For discrete actions use HLGaussDQN.", verbose)
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
            action_noise=action_noise,
            replay_buffer_class=replay_buffer_class,
            replay_buffer_kwargs=replay_buffer_kwargs,
            optimize_memory_usage=optimize_memory_usage,
            n_steps=n_steps,
            policy_delay=policy_delay,
            target_policy_noise=target_policy_noise,
            target_noise_clip=target_noise_clip,
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

        # Update learning rate according to lr schedule
        self._update_learning_rate([self.actor.optimizer, self.critic.optimizer])

        actor_losses, critic_losses = [], []
        clipped = []
        for _ in range(gradient_steps):
            self._n_updates += 1
            # Sample replay buffer
            replay_data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)  # type: ignore[union-attr]

            with th.no_grad():
                # Select action according to policy and add clipped noise
                noise = replay_data.actions.clone().data.normal_(0, self.target_policy_noise)
                noise = noise.clamp(-self.target_noise_clip, self.target_noise_clip)
                next_actions = (self.actor_target(replay_data.next_observations) + noise).clamp(-1, 1)

            # Critic loss: cross-entropy of every head against the target probabilities of
            # y = r + gamma (1 - done) min_j Q_target_j(s', a')
            critic_loss, target, current_logits = self._critic_loss(replay_data, next_actions)
            critic_losses.append(critic_loss.item())
            self._check_finite_loss(critic_losses[-1])
            clipped.append(target.clipped)

            # Optimize the critics
            self.critic.optimizer.zero_grad()
            critic_loss.backward()
            self.critic.optimizer.step()

            # Delayed policy updates
            if self._n_updates % self.policy_delay == 0:
                # Compute actor loss (Q-value of the first head: the mean of its distribution)
                actor_loss = -self.critic.q1_forward(replay_data.observations, self.actor(replay_data.observations)).mean()
                actor_losses.append(actor_loss.item())

                # Optimize the actor
                self.actor.optimizer.zero_grad()
                actor_loss.backward()
                self.actor.optimizer.step()

                polyak_update(self.critic.parameters(), self.critic_target.parameters(), self.tau)
                polyak_update(self.actor.parameters(), self.actor_target.parameters(), self.tau)
                # Copy running stats, see GH issue #996
                polyak_update(self.critic_batch_norm_stats, self.critic_batch_norm_stats_target, 1.0)
                polyak_update(self.actor_batch_norm_stats, self.actor_batch_norm_stats_target, 1.0)

        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        if len(actor_losses) > 0:
            self.logger.record("train/actor_loss", np.mean(actor_losses))
        self.logger.record("train/critic_loss", np.mean(critic_losses))
        # Targets clipped to the support (train/target_clip_fraction) and every head's logits (train/q_mean)
        self._record_critic_stats(th.stack(current_logits, dim=1), clipped)

    def learn(
        self: SelfHLGaussTD3,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 4,
        tb_log_name: str = "HLGaussTD3",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfHLGaussTD3:
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )

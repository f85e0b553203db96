"""Soft Actor-Critic with a classification critic (HL-Gauss, Two-Hot, C51, ...)."""

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
from stable_baselines3.sac import SAC

from sb3_hlgauss.common.base_class import ClassificationCriticMixin, check_action_space
from sb3_hlgauss.common.checks import FiniteTransitionsMixin
from sb3_hlgauss.common.continuous_critic import CategoricalContinuousCritic, CategoricalCriticAlgorithmMixin
from sb3_hlgauss.hlgauss_sac.policies import CnnPolicy, HLGaussSACPolicy, MlpPolicy, MultiInputPolicy

SelfHLGaussSAC = TypeVar("SelfHLGaussSAC", bound="HLGaussSAC")


class HLGaussSAC(FiniteTransitionsMixin, CategoricalCriticAlgorithmMixin, ClassificationCriticMixin, SAC):
    """
    Soft Actor-Critic whose critics are trained by classification.

    Paper: *Stop Regressing: Training Value Functions via Classification for Scalable Deep RL*,
    Farebrother et al., ICML 2024, https://arxiv.org/abs/2403.03950 (here applied to SAC,
    Haarnoja et al., 2018, https://arxiv.org/abs/1801.01290).

    Each of the ``n_critics`` critic heads outputs ``num_bins`` logits for ``(s, a)``; its Q-value is
    the mean of that distribution in return units (the loss's ``to_value``). The soft TD target

    ``y = r + gamma (1 - done) (min_j Q_target_j(s', a') - alpha log pi(a'|s')),  a' ~ pi(.|s')``

    is turned into target probabilities by the selected loss (HL-Gauss by default) and every head is
    trained with the cross-entropy against them (the critic loss is the sum over heads). The actor and
    the entropy coefficient are trained exactly as in SAC, on these Q-values (min over heads).

    The bootstrap distribution is that of the target head with the lowest Q-value at
    ``(s', a')``, and the entropy bonus is folded into the reward (``r - gamma (1 - done) alpha log pi``),
    so that every loss gets the same target: a scalar-target loss (HL-Gauss, Two-Hot) sees exactly ``y``
    above, and ``loss="c51"`` projects that head's whole distribution, shifted by the soft reward
    (a soft distributional Bellman target).

    Everything else is SB3's :class:`~stable_baselines3.SAC`: replace ``SAC`` with ``HLGaussSAC``.
    The default support (symlog transform, ``[-1e4, 1e4]``, 101 bins) needs no tuning for returns up
    to the ten thousands; see ``docs/sac.md`` for choosing a support.

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
    :param ent_coef: Entropy regularization coefficient (``"auto"`` to learn it, ``"auto_0.1"`` to start at 0.1)
    :param target_update_interval: update the target network every ``target_network_update_freq`` gradient steps.
    :param target_entropy: target entropy when learning ``ent_coef`` (``"auto"``: ``-dim(A)``)
    :param use_sde: Whether to use generalized State Dependent Exploration (gSDE)
    :param sde_sample_freq: Sample a new noise matrix every n steps when using gSDE (-1: once per rollout)
    :param use_sde_at_warmup: Whether to use gSDE instead of uniform sampling during the warm up phase
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
    policy: HLGaussSACPolicy
    critic: CategoricalContinuousCritic
    critic_target: CategoricalContinuousCritic

    def __init__(
        self,
        policy: str | type[HLGaussSACPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 3e-4,
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
        ent_coef: str | float = "auto",
        target_update_interval: int = 1,
        target_entropy: str | float = "auto",
        use_sde: bool = False,
        sde_sample_freq: int = -1,
        use_sde_at_warmup: bool = False,
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
            ent_coef=ent_coef,
            target_update_interval=target_update_interval,
            target_entropy=target_entropy,
            use_sde=use_sde,
            sde_sample_freq=sde_sample_freq,
            use_sde_at_warmup=use_sde_at_warmup,
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

    def train(self, gradient_steps: int, batch_size: int = 64) -> None:
        # Switch to train mode (this affects batch norm / dropout)
        self.policy.set_training_mode(True)
        # Update optimizers learning rate
        optimizers = [self.actor.optimizer, self.critic.optimizer]
        if self.ent_coef_optimizer is not None:
            optimizers += [self.ent_coef_optimizer]

        # Update learning rate according to lr schedule
        self._update_learning_rate(optimizers)

        ent_coef_losses, ent_coefs = [], []
        actor_losses, critic_losses = [], []
        clipped = []

        for gradient_step in range(gradient_steps):
            # Sample replay buffer
            replay_data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)  # type: ignore[union-attr]

            # We need to sample because `log_std` may have changed between two gradient steps
            if self.use_sde:
                self.actor.reset_noise()

            # Action by the current actor for the sampled state
            actions_pi, log_prob = self.actor.action_log_prob(replay_data.observations)
            log_prob = log_prob.reshape(-1, 1)

            ent_coef_loss = None
            if self.ent_coef_optimizer is not None and self.log_ent_coef is not None:
                # Important: detach the variable from the graph
                # so we don't change it with other losses
                # see https://github.com/rail-berkeley/softlearning/issues/60
                ent_coef = th.exp(self.log_ent_coef.detach())
                assert isinstance(self.target_entropy, float)
                ent_coef_loss = -(self.log_ent_coef * (log_prob + self.target_entropy).detach()).mean()
                ent_coef_losses.append(ent_coef_loss.item())
            else:
                ent_coef = self.ent_coef_tensor

            ent_coefs.append(ent_coef.item())

            # Optimize entropy coefficient, also called
            # entropy temperature or alpha in the paper
            if ent_coef_loss is not None and self.ent_coef_optimizer is not None:
                self.ent_coef_optimizer.zero_grad()
                ent_coef_loss.backward()
                self.ent_coef_optimizer.step()

            with th.no_grad():
                # Select action according to policy
                next_actions, next_log_prob = self.actor.action_log_prob(replay_data.next_observations)
                # entropy term, folded into the reward of the TD target by the critic loss
                next_entropy_bonus = -ent_coef * next_log_prob.reshape(-1, 1)

            # Critic loss: cross-entropy of every head against the target probabilities of
            # y = r + gamma (1 - done) (min_j Q_target_j(s', a') - alpha log pi(a'|s'))
            critic_loss, target, current_logits = self._critic_loss(replay_data, next_actions, next_entropy_bonus)
            critic_losses.append(critic_loss.item())
            self._check_finite_loss(critic_losses[-1])
            clipped.append(target.clipped)

            # Optimize the critic
            self.critic.optimizer.zero_grad()
            critic_loss.backward()
            self.critic.optimizer.step()

            # Actor: maximise the Q-value (min over heads) plus the entropy bonus, as in SAC
            min_qf_pi = self.critic.q_values(replay_data.observations, actions_pi).min(dim=1, keepdim=True).values
            actor_loss = (ent_coef * log_prob - min_qf_pi).mean()
            actor_losses.append(actor_loss.item())

            # Optimize the actor
            self.actor.optimizer.zero_grad()
            actor_loss.backward()
            self.actor.optimizer.step()

            # Update target networks
            if gradient_step % self.target_update_interval == 0:
                polyak_update(self.critic.parameters(), self.critic_target.parameters(), self.tau)
                # Copy running stats, see GH issue #996
                polyak_update(self.batch_norm_stats, self.batch_norm_stats_target, 1.0)

        self._n_updates += gradient_steps

        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/ent_coef", np.mean(ent_coefs))
        self.logger.record("train/actor_loss", np.mean(actor_losses))
        self.logger.record("train/critic_loss", np.mean(critic_losses))
        if len(ent_coef_losses) > 0:
            self.logger.record("train/ent_coef_loss", np.mean(ent_coef_losses))
        # Targets clipped to the support (train/target_clip_fraction) and every head's logits (train/q_mean)
        self._record_critic_stats(th.stack(current_logits, dim=1), clipped)

    def learn(
        self: SelfHLGaussSAC,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 4,
        tb_log_name: str = "HLGaussSAC",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfHLGaussSAC:
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )

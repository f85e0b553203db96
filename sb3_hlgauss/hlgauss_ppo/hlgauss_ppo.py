"""Proximal Policy Optimization with a classification value head (HL-Gauss, Two-Hot, ...)."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import explained_variance
from stable_baselines3.ppo import PPO

from sb3_hlgauss.common.on_policy import OnPolicyClassificationMixin
from sb3_hlgauss.hlgauss_ppo.policies import CnnPolicy, HLGaussActorCriticPolicy, MlpPolicy, MultiInputPolicy

SelfHLGaussPPO = TypeVar("SelfHLGaussPPO", bound="HLGaussPPO")


class HLGaussPPO(OnPolicyClassificationMixin, PPO):
    """
    Proximal Policy Optimization (clip version) with a categorical critic, trained by classification
    (``loss="hl_gauss"``, ...) or, by default, by the paper's "MSE + softmax" ablation on the same head
    (``loss="categorical_mse"``, see :attr:`default_loss`).

    Paper: *Stop Regressing: Training Value Functions via Classification for Scalable Deep RL*,
    Farebrother et al., ICML 2024, https://arxiv.org/abs/2403.03950 (here applied to PPO,
    Schulman et al., 2017, https://arxiv.org/abs/1707.06347).

    The value head outputs ``num_bins`` logits over a fixed support; the value is the mean of that
    distribution in return units (the loss's ``to_value``), and it is what rollout collection, GAE,
    the bootstrap of truncated episodes and ``train/explained_variance`` use. The value loss is the
    loss's (the cross-entropy against its target distribution, or the MSE of the head's mean) for the
    lambda-returns ``advantages + values`` of the rollout, in place of SB3's MSE; the policy
    loss, the entropy bonus, the KL early stop and the gradient clipping are SB3's.

    ``clip_range_vf`` keeps SB3's rule in return units: a sample whose decoded value has moved more
    than ``clip_range_vf`` from its rollout value contributes no value-loss gradient (SB3's clamp has
    zero gradient exactly there). Distributional losses (``"c51"``) are refused: a lambda-return has
    no next-state distribution to project (see ``docs/ppo.md``).

    Everything else is SB3's :class:`~stable_baselines3.PPO`: replace ``PPO`` with ``HLGaussPPO``.
    The default support follows the returns (``value_scale="auto"``), so it needs no range, with raw
    rewards as with ``VecNormalize`` reward normalisation.

    The loss settings (``loss``, ``num_bins``, ``v_min``, ``v_max``, ``sigma_ratio``, ``value_transform``,
    ``loss_kwargs``) are keyword-only and come after SB3's own arguments, so that every call of SB3's
    algorithm, positional arguments included, works unchanged; ``None`` means the documented default.

    :param policy: The policy model to use (MlpPolicy, CnnPolicy, MultiInputPolicy)
    :param env: The environment to learn from (if registered in Gym, can be str)
    :param learning_rate: The learning rate, it can be a function
        of the current progress remaining (from 1 to 0)
    :param n_steps: The number of steps to run for each environment per update
        (i.e. rollout buffer size is n_steps * n_envs where n_envs is number of environment copies running in parallel)
    :param batch_size: Minibatch size
    :param n_epochs: Number of epoch when optimizing the surrogate loss
    :param gamma: Discount factor
    :param gae_lambda: Factor for trade-off of bias vs variance for Generalized Advantage Estimator
    :param clip_range: Clipping parameter, it can be a function of the current progress
        remaining (from 1 to 0).
    :param clip_range_vf: Value clipping, in return units (it depends on the reward scaling), a float or a
        function of the current progress remaining: samples whose decoded value moved more than this from
        the rollout's value get no value-loss gradient. None (default): no clipping.
    :param normalize_advantage: Whether to normalize or not the advantage
    :param ent_coef: Entropy coefficient for the loss calculation
    :param vf_coef: Value function coefficient for the loss calculation (multiplies the cross-entropy;
        SB3's default 0.5, see ``docs/ppo.md`` for the measurement)
    :param max_grad_norm: The maximum value for the gradient clipping
    :param use_sde: Whether to use generalized State Dependent Exploration (gSDE)
        instead of action noise exploration (default: False)
    :param sde_sample_freq: Sample a new noise matrix every n steps when using gSDE
        Default: -1 (only sample at the beginning of the rollout)
    :param rollout_buffer_class: Rollout buffer class to use. If ``None``, it will be automatically selected.
    :param rollout_buffer_kwargs: Keyword arguments to pass to the rollout buffer on creation
    :param target_kl: Limit the KL divergence between updates (None: no limit)
    :param stats_window_size: Window size for the rollout logging
    :param tensorboard_log: the log location for tensorboard (if None, no logging)
    :param policy_kwargs: additional arguments to be passed to the policy on creation
    :param verbose: Verbosity level: 0 for no output, 1 for info messages, 2 for debug messages
    :param seed: Seed for the pseudo random generators
    :param device: Device (cpu, cuda, ...) on which the code should be run.
    :param _init_setup_model: Whether or not to build the network at the creation of the instance
    :param loss: Name of the value loss: ``"hl_gauss"``, ``"two_hot"``, ``"categorical_mse"`` or one added
        with :func:`~sb3_hlgauss.register_loss` (None: ``"categorical_mse"``, see :attr:`default_loss`;
        distributional losses are refused)
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
    policy: HLGaussActorCriticPolicy

    def __init__(
        self,
        policy: str | type[HLGaussActorCriticPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 3e-4,
        n_steps: int = 2048,
        batch_size: int = 64,
        n_epochs: int = 10,
        gamma: float = 0.99,
        gae_lambda: float = 0.95,
        clip_range: float | Schedule = 0.2,
        clip_range_vf: float | Schedule | None = None,
        normalize_advantage: bool = True,
        ent_coef: float = 0.0,
        vf_coef: float = 0.5,
        max_grad_norm: float = 0.5,
        use_sde: bool = False,
        sde_sample_freq: int = -1,
        rollout_buffer_class: type[RolloutBuffer] | None = None,
        rollout_buffer_kwargs: dict[str, Any] | None = None,
        target_kl: float | None = None,
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
        super().__init__(
            policy,
            env,
            learning_rate=learning_rate,
            n_steps=n_steps,
            batch_size=batch_size,
            n_epochs=n_epochs,
            gamma=gamma,
            gae_lambda=gae_lambda,
            clip_range=clip_range,
            clip_range_vf=clip_range_vf,
            normalize_advantage=normalize_advantage,
            ent_coef=ent_coef,
            vf_coef=vf_coef,
            max_grad_norm=max_grad_norm,
            use_sde=use_sde,
            sde_sample_freq=sde_sample_freq,
            rollout_buffer_class=rollout_buffer_class,
            rollout_buffer_kwargs=rollout_buffer_kwargs,
            target_kl=target_kl,
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

    def train(self) -> None:
        """
        Update policy using the currently gathered rollout buffer.
        """
        # Switch to train mode (this affects batch norm / dropout)
        self.policy.set_training_mode(True)
        # Update optimizer learning rate
        self._update_learning_rate(self.policy.optimizer)
        # Compute current clip range
        clip_range = self.clip_range(self._current_progress_remaining)  # type: ignore[operator]
        # Optional: clip range for the value function
        clip_range_vf = None
        if self.clip_range_vf is not None:
            clip_range_vf = self.clip_range_vf(self._current_progress_remaining)  # type: ignore[operator]

        entropy_losses = []
        pg_losses, value_losses = [], []
        clip_fractions = []
        clipped_targets, stopped_values = [], []

        continue_training = True
        # train for n_epochs epochs
        for epoch in range(self.n_epochs):
            approx_kl_divs = []
            # Do a complete pass on the rollout buffer
            for rollout_data in self.rollout_buffer.get(self.batch_size):
                actions = rollout_data.actions
                if isinstance(self.action_space, spaces.Discrete):
                    # Convert discrete action from float to long
                    actions = rollout_data.actions.long().flatten()

                # The value head's logits (batch, num_bins) in place of SB3's values
                value_logits, log_prob, entropy = self.policy.evaluate_actions_with_value_logits(
                    rollout_data.observations, actions
                )
                # Normalize advantage
                advantages = rollout_data.advantages
                # Normalization does not make sense if mini batchsize == 1, see GH issue #325
                if self.normalize_advantage and len(advantages) > 1:
                    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)

                # ratio between old and new policy, should be one at the first iteration
                ratio = th.exp(log_prob - rollout_data.old_log_prob)

                # clipped surrogate loss
                policy_loss_1 = advantages * ratio
                policy_loss_2 = advantages * th.clamp(ratio, 1 - clip_range, 1 + clip_range)
                policy_loss = -th.min(policy_loss_1, policy_loss_2).mean()

                # Logging
                pg_losses.append(policy_loss.item())
                clip_fraction = th.mean((th.abs(ratio - 1) > clip_range).float()).item()
                clip_fractions.append(clip_fraction)

                # Value loss: cross-entropy against the target distribution of the TD(gae_lambda) target
                # (with clip_range_vf, samples whose value moved too far get no gradient, as in SB3)
                value_loss, target, stopped = self._categorical_value_loss(
                    value_logits, rollout_data.returns, rollout_data.old_values, clip_range_vf
                )
                value_losses.append(value_loss.item())
                self._check_finite_loss(value_losses[-1])
                clipped_targets.append(target.clipped)
                if stopped is not None:
                    stopped_values.append(stopped)

                # Entropy loss favor exploration
                if entropy is None:
                    # Approximate entropy when no analytical form
                    entropy_loss = -th.mean(-log_prob)
                else:
                    entropy_loss = -th.mean(entropy)

                entropy_losses.append(entropy_loss.item())

                loss = policy_loss + self.ent_coef * entropy_loss + self.vf_coef * value_loss

                # Calculate approximate form of reverse KL Divergence for early stopping
                # see issue #417: https://github.com/DLR-RM/stable-baselines3/issues/417
                # and discussion in PR #419: https://github.com/DLR-RM/stable-baselines3/pull/419
                # and Schulman blog: http://joschu.net/blog/kl-approx.html
                with th.no_grad():
                    log_ratio = log_prob - rollout_data.old_log_prob
                    approx_kl_div = th.mean((th.exp(log_ratio) - 1) - log_ratio).cpu().numpy()
                    approx_kl_divs.append(approx_kl_div)

                if self.target_kl is not None and approx_kl_div > 1.5 * self.target_kl:
                    continue_training = False
                    if self.verbose >= 1:
                        print(f"Early stopping at step {epoch} due to reaching max kl: {approx_kl_div:.2f}")
                    break

                # Optimization step
                self.policy.optimizer.zero_grad()
                loss.backward()
                # Clip grad norm
                th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
                self.policy.optimizer.step()

            self._n_updates += 1
            if not continue_training:
                break

        # The rollout's values are the decoded values (expected returns) of the categorical head
        explained_var = explained_variance(self.rollout_buffer.values.flatten(), self.rollout_buffer.returns.flatten())

        # Logs
        self.logger.record("train/entropy_loss", np.mean(entropy_losses))
        self.logger.record("train/policy_gradient_loss", np.mean(pg_losses))
        self.logger.record("train/value_loss", np.mean(value_losses))
        self.logger.record("train/approx_kl", np.mean(approx_kl_divs))
        self.logger.record("train/clip_fraction", np.mean(clip_fractions))
        self.logger.record("train/loss", loss.item())
        self.logger.record("train/explained_variance", explained_var)
        if hasattr(self.policy, "log_std"):
            self.logger.record("train/std", th.exp(self.policy.log_std).mean().item())

        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/clip_range", clip_range)
        if self.clip_range_vf is not None:
            self.logger.record("train/clip_range_vf", clip_range_vf)
        # Targets clipped to the support (train/target_clip_fraction: PPO's train/clip_fraction is the ratio's)
        self._record_value_stats(clipped_targets, stopped_values)

    def learn(
        self: SelfHLGaussPPO,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str = "HLGaussPPO",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfHLGaussPPO:
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )

"""Advantage Actor-Critic with a classification value head (HL-Gauss, Two-Hot, ...)."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import torch as th
from gymnasium import spaces
from stable_baselines3.a2c import A2C
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import explained_variance

from sb3_hlgauss.common.on_policy import OnPolicyClassificationMixin
from sb3_hlgauss.hlgauss_a2c.policies import CnnPolicy, HLGaussA2CPolicy, MlpPolicy, MultiInputPolicy

SelfHLGaussA2C = TypeVar("SelfHLGaussA2C", bound="HLGaussA2C")


class HLGaussA2C(OnPolicyClassificationMixin, A2C):
    """
    Advantage Actor-Critic (A2C) with a categorical critic, trained by classification (``loss="hl_gauss"``, ...) or,
    by default, by the paper's "MSE + softmax" ablation on the same head (``loss="categorical_mse"``, see
    :attr:`default_loss`).

    Paper: *Stop Regressing: Training Value Functions via Classification for Scalable Deep RL*,
    Farebrother et al., ICML 2024, https://arxiv.org/abs/2403.03950 (here applied to A2C,
    Mnih et al., 2016, https://arxiv.org/abs/1602.01783).

    As :class:`~sb3_hlgauss.HLGaussPPO`: the value head outputs ``num_bins`` logits, the value (for GAE,
    bootstrapping and logging) is the mean of that distribution in return units, and the value loss is
    the loss's (the cross-entropy against its target distribution, or the MSE of the head's mean) for the returns
    ``advantages + values`` instead of SB3's MSE. The policy loss and everything else are SB3's :class:`~stable_baselines3.A2C`.
    Distributional losses (``"c51"``) are refused (see ``docs/ppo.md``).

    The loss settings (``loss``, ``num_bins``, ``v_min``, ``v_max``, ``sigma_ratio``, ``value_transform``,
    ``loss_kwargs``) are keyword-only and come after SB3's own arguments; ``None`` means the documented default.

    :param policy: The policy model to use (MlpPolicy, CnnPolicy, MultiInputPolicy)
    :param env: The environment to learn from (if registered in Gym, can be str)
    :param learning_rate: The learning rate, it can be a function
        of the current progress remaining (from 1 to 0)
    :param n_steps: The number of steps to run for each environment per update
        (i.e. batch size is n_steps * n_env where n_env is number of environment copies running in parallel)
    :param gamma: Discount factor
    :param gae_lambda: Factor for trade-off of bias vs variance for Generalized Advantage Estimator.
        Equivalent to classic advantage when set to 1.
    :param ent_coef: Entropy coefficient for the loss calculation
    :param vf_coef: Value function coefficient for the loss calculation (multiplies the cross-entropy)
    :param max_grad_norm: The maximum value for the gradient clipping
    :param rms_prop_eps: RMSProp epsilon. It stabilizes square root computation in denominator
        of RMSProp update
    :param use_rms_prop: Whether to use RMSprop (default) or Adam as optimizer
    :param use_sde: Whether to use generalized State Dependent Exploration (gSDE)
        instead of action noise exploration (default: False)
    :param sde_sample_freq: Sample a new noise matrix every n steps when using gSDE
        Default: -1 (only sample at the beginning of the rollout)
    :param rollout_buffer_class: Rollout buffer class to use. If ``None``, it will be automatically selected.
    :param rollout_buffer_kwargs: Keyword arguments to pass to the rollout buffer on creation.
    :param normalize_advantage: Whether to normalize or not the advantage
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
    policy: HLGaussA2CPolicy

    def __init__(
        self,
        policy: str | type[HLGaussA2CPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 7e-4,
        n_steps: int = 5,
        gamma: float = 0.99,
        gae_lambda: float = 1.0,
        ent_coef: float = 0.0,
        vf_coef: float = 0.5,
        max_grad_norm: float = 0.5,
        rms_prop_eps: float = 1e-5,
        use_rms_prop: bool = True,
        use_sde: bool = False,
        sde_sample_freq: int = -1,
        rollout_buffer_class: type[RolloutBuffer] | None = None,
        rollout_buffer_kwargs: dict[str, Any] | None = None,
        normalize_advantage: bool = False,
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
            gamma=gamma,
            gae_lambda=gae_lambda,
            ent_coef=ent_coef,
            vf_coef=vf_coef,
            max_grad_norm=max_grad_norm,
            rms_prop_eps=rms_prop_eps,
            use_rms_prop=use_rms_prop,
            use_sde=use_sde,
            sde_sample_freq=sde_sample_freq,
            rollout_buffer_class=rollout_buffer_class,
            rollout_buffer_kwargs=rollout_buffer_kwargs,
            normalize_advantage=normalize_advantage,
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
        Update policy using the currently gathered
        rollout buffer (one gradient step over whole data).
        """
        # Switch to train mode (this affects batch norm / dropout)
        self.policy.set_training_mode(True)

        # Update optimizer learning rate
        self._update_learning_rate(self.policy.optimizer)

        # This will only loop once (get all data in one go)
        for rollout_data in self.rollout_buffer.get(batch_size=None):
            actions = rollout_data.actions
            if isinstance(self.action_space, spaces.Discrete):
                # Convert discrete action from float to long
                actions = actions.long().flatten()

            # The value head's logits (batch, num_bins) in place of SB3's values
            value_logits, log_prob, entropy = self.policy.evaluate_actions_with_value_logits(
                rollout_data.observations, actions
            )

            # Normalize advantage (not present in the original implementation)
            advantages = rollout_data.advantages
            if self.normalize_advantage:
                advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)

            # Policy gradient loss
            policy_loss = -(advantages * log_prob).mean()

            # Value loss: cross-entropy against the target distribution of the TD(gae_lambda) target
            value_loss, target, _ = self._categorical_value_loss(value_logits, rollout_data.returns)
            self._check_finite_loss(value_loss.item())

            # Entropy loss favor exploration
            if entropy is None:
                # Approximate entropy when no analytical form
                entropy_loss = -th.mean(-log_prob)
            else:
                entropy_loss = -th.mean(entropy)

            loss = policy_loss + self.ent_coef * entropy_loss + self.vf_coef * value_loss

            # Optimization step
            self.policy.optimizer.zero_grad()
            loss.backward()

            # Clip grad norm
            th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
            self.policy.optimizer.step()

        # The rollout's values are the decoded values (expected returns) of the categorical head
        explained_var = explained_variance(self.rollout_buffer.values.flatten(), self.rollout_buffer.returns.flatten())

        self._n_updates += 1
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/explained_variance", explained_var)
        self.logger.record("train/entropy_loss", entropy_loss.item())
        self.logger.record("train/policy_loss", policy_loss.item())
        self.logger.record("train/value_loss", value_loss.item())
        if hasattr(self.policy, "log_std"):
            self.logger.record("train/std", th.exp(self.policy.log_std).mean().item())
        # Targets clipped to the support (the same key as HLGaussPPO's)
        self._record_value_stats([target.clipped], [])

    def learn(
        self: SelfHLGaussA2C,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 100,
        tb_log_name: str = "HLGaussA2C",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfHLGaussA2C:
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )

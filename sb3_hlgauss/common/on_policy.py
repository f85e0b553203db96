"""Categorical value heads for on-policy actor-critic agents, shared by :class:`~sb3_hlgauss.HLGaussPPO`
and :class:`~sb3_hlgauss.HLGaussA2C`.

The critic of PPO and A2C regresses the lambda-returns ``G_t = A_t + V(s_t)`` (GAE advantages plus the
rollout's values) with an MSE. Here the value head outputs ``num_bins`` logits over the support of a
:class:`~sb3_hlgauss.common.losses.ClassificationLoss`, its value is the mean of that distribution in
return units (the loss's ``to_value``), and it is trained with the cross-entropy against the loss's
target distribution for ``G_t`` (Farebrother et al., 2024, *Stop Regressing*, arXiv:2403.03950).

The value head returns the *decoded* value when called, so that SB3's own ``forward``,
``predict_values`` and ``evaluate_actions`` (and with them rollout collection, GAE and the bootstrap
of truncated episodes) work unchanged on expected returns; the training step asks the same methods
for the logits (:meth:`CategoricalValuePolicyMixin.evaluate_actions_with_value_logits`). Every
target-distribution computation is the loss module's.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import torch as th
from stable_baselines3.common.type_aliases import Schedule
from torch import nn

from sb3_hlgauss.common.base_class import ClassificationCriticMixin
from sb3_hlgauss.common.checks import _describe
from sb3_hlgauss.common.errors import NonFiniteDataError
from sb3_hlgauss.common.losses import ClassificationLoss, TDTarget, get_loss_class
from sb3_hlgauss.common.policies import ValueLossPolicyMixin


class CategoricalValueHead(nn.Linear):
    """SB3's ``value_net`` with ``num_bins`` outputs: logits over the support of ``value_loss``.

    Calling it returns the critic's *value*, ``value_loss.to_value(logits)`` with shape ``(batch, 1)``,
    like SB3's scalar head, so that every SB3 method that calls ``value_net`` (rollout collection, GAE,
    the bootstrap of truncated episodes, ``predict_values``) gets expected returns. Inside
    :meth:`returning_logits` it returns the logits, ``(batch, num_bins)``, for the loss.

    Initialisation with a self-scaled support (``value_scale="auto"``): zero weights and biases, the uniform
    distribution, value 0. With a hand-set support: zero weights, and the bias is the log of the loss's target distribution for a
    return of 0 (floored at :attr:`INITIAL_PROBS_FLOOR`), so a fresh critic predicts that distribution for
    every input: value 0, and next to no mass on the far atoms. Why not the uniform distribution that the
    zero-initialised off-policy heads start from: the value is the mean *in return units*, and on the
    default symlog support the outer atoms are +-1e4, so the ~1% of mass that a uniform start leaves on
    each far atom takes thousands of updates to drain, and meanwhile moves the value by tens. PPO's
    advantages need accurate values from the first rollouts; measured on CartPole-v1 (zoo settings, 50k
    steps, seeds 0-2), the mean training return was 121 from a uniform start, 176 from this one, 207 for
    SB3's PPO (``benchmarks/archive/ppo_vf_coef.py``, docs/ppo.md). State-dict names are SB3's (``value_net.weight``,
    ``value_net.bias``).

    :param latent_dim: Size of the critic's latent features (``mlp_extractor.latent_dim_vf``).
    :param value_loss: The loss whose support the logits live on.
    """

    #: Smallest initial probability of a bin: the far atoms' mass moves the initial value by < 1e-3 on the
    #: default support (and the mass cancels between the two sides of a symmetric one).
    INITIAL_PROBS_FLOOR = 1e-8

    def __init__(self, latent_dim: int, value_loss: ClassificationLoss) -> None:
        super().__init__(latent_dim, value_loss.num_bins)
        nn.init.zeros_(self.weight)
        self.value_loss = value_loss
        self.outputs_logits = False
        if value_loss.return_scale is not None:
            # A self-scaled support is symmetric and narrow ([-5, 5] normalised): the uniform start has value 0
            # and no far atom to drain, and every bin stays within reach of the cross-entropy's bounded gradient.
            nn.init.zeros_(self.bias)
            return
        with th.no_grad():
            initial = value_loss.to_probs(th.zeros(1, dtype=th.float64, device=value_loss.centers.device))[0]
            self.bias.copy_(initial.clamp_min(self.INITIAL_PROBS_FLOOR).log())

    def logits(self, latent_vf: th.Tensor) -> th.Tensor:
        """The logits for the critic's latent features, ``(batch, num_bins)``."""
        return super().forward(latent_vf)

    def forward(self, latent_vf: th.Tensor) -> th.Tensor:
        logits = self.logits(latent_vf)
        if self.outputs_logits:
            return logits
        return self.value_loss.to_value(logits).unsqueeze(-1)

    @contextlib.contextmanager
    def returning_logits(self) -> Iterator[None]:
        """Inside the block, calling the head returns the logits instead of the value."""
        previous = self.outputs_logits
        self.outputs_logits = True
        try:
            yield
        finally:
            self.outputs_logits = previous


class CategoricalValuePolicyMixin(ValueLossPolicyMixin):
    """Turns an SB3 actor-critic policy (``ActorCriticPolicy`` and its subclasses) into one whose value
    head is a :class:`CategoricalValueHead`.

    Put it before the SB3 policy in the bases and store the loss settings
    (``self._store_value_loss_settings(loss, loss_kwargs)``) before calling the SB3 constructor.
    Everything else (the actor, ``net_arch=dict(pi=..., vf=...)``, ``share_features_extractor``,
    orthogonal initialisation of the other layers, the optimizer) is SB3's.
    """

    value_net: CategoricalValueHead
    mlp_extractor: Any
    optimizer_class: type[th.optim.Optimizer]
    optimizer_kwargs: dict[str, Any]
    share_features_extractor: bool

    def _build(self, lr_schedule: Schedule) -> None:
        self._build_value_loss()
        super()._build(lr_schedule)  # type: ignore[misc]
        # SB3 builds the scalar value head, initialises it and creates the optimizer in one method:
        # replace the head, then rebuild the optimizer over the new parameters.
        self.value_net = CategoricalValueHead(self.mlp_extractor.latent_dim_vf, self.value_loss)
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)  # type: ignore[call-arg]

    @contextlib.contextmanager
    def value_logits_mode(self) -> Iterator[None]:
        """Inside the block, the policy's value outputs (``forward``, ``predict_values``,
        ``evaluate_actions``) are the value head's logits, ``(batch, num_bins)``, not values."""
        with self.value_net.returning_logits():
            yield

    def evaluate_actions_with_value_logits(
        self, *args: Any, **kwargs: Any
    ) -> tuple[th.Tensor, th.Tensor, th.Tensor | None]:
        """The policy's own ``evaluate_actions`` (same arguments), with the value head's logits,
        ``(batch, num_bins)``, in place of the values: ``(value_logits, log_prob, entropy)``."""
        with self.value_logits_mode():
            return self.evaluate_actions(*args, **kwargs)  # type: ignore[attr-defined]

    def predict_value_logits(self, *args: Any, **kwargs: Any) -> th.Tensor:
        """The policy's own ``predict_values`` (same arguments), returning the logits ``(batch, num_bins)``."""
        with self.value_logits_mode():
            return self.predict_values(*args, **kwargs)  # type: ignore[attr-defined]

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()  # type: ignore[misc]
        # SB3's ActorCriticPolicy leaves it out; a policy saved on its own should keep it.
        data.update(share_features_extractor=self.share_features_extractor)
        data.update(self._value_loss_constructor_parameters())
        return data


class OnPolicyClassificationMixin(ClassificationCriticMixin):
    """Loss settings, the value loss and its logs for SB3's on-policy algorithms (PPO, A2C).

    Adds to :class:`~sb3_hlgauss.common.base_class.ClassificationCriticMixin` (settings, ``load``
    checks, saving):

    - :meth:`_categorical_value_loss`: the cross-entropy of the value head against the loss's target
      distribution for the lambda-returns, with SB3's ``clip_range_vf`` rule;
    - :meth:`_record_value_stats`: ``train/target_clip_fraction`` and ``train/n_clipped_targets``, the keys
      of every algorithm (PPO's own ``train/clip_fraction`` keeps SB3's meaning, the policy-ratio clip fraction);
    - a check of every rollout for NaN/inf observations and rewards before it is trained on (the off-policy
      algorithms' replay-buffer check, :class:`~sb3_hlgauss.common.checks.FiniteTransitionsMixin`, is not used);
    - the refusal of distributional losses (C51), whose target is not defined for a lambda-return.
    """

    #: PPO's and A2C's default value loss is the paper's "MSE + softmax" ablation on the same categorical head and
    #: self-scaled support: with the zoo's settings the cross-entropy's critic never reached Acrobot-v1's goal where
    #: SB3's did (A2C: 3 of 5 seeds; PPO: 2 of 10), and this loss learnt every seed (the no-regression panel,
    #: docs/benchmarks.md).
    default_loss: ClassVar[str] = "categorical_mse"

    rollout_buffer: Any
    clip_range_vf: Any
    _last_obs: Any
    _last_original_obs: Any
    _last_episode_starts: Any

    def _set_value_loss_settings(self, loss: str | None, *args: Any, **kwargs: Any) -> None:
        self._check_scalar_target_loss(loss)
        super()._set_value_loss_settings(loss, *args, **kwargs)
        self.n_value_targets = 0

    def _setup_model(self) -> None:
        self._check_scalar_target_loss(self.loss)  # type: ignore[attr-defined]
        super()._setup_model()
        if not hasattr(self, "n_value_targets"):
            self.n_value_targets = 0

    def _check_scalar_target_loss(self, loss: str | None) -> None:
        if loss is None:
            return
        try:
            loss_class = get_loss_class(loss)
        except ValueError:
            return  # resolve_loss_settings names the registered losses
        if loss_class.distributional:
            raise ValueError(
                f"{type(self).__name__}: loss={loss!r} is distributional: its target is the projection of the next "
                "state's whole return distribution, r + gamma Z(s'), one step at a time. The critic of an on-policy "
                "algorithm is trained on lambda-returns, built from a trajectory of rewards and of the critic's "
                "expected values, for which this package defines no distributional target. Use loss='hl_gauss' "
                "(the default) or 'two_hot' (what C51's projection of a scalar target is); see docs/ppo.md."
            )

    def _categorical_value_loss(
        self,
        value_logits: th.Tensor,
        returns: th.Tensor,
        old_values: th.Tensor | None = None,
        clip_range_vf: float | None = None,
    ) -> tuple[th.Tensor, TDTarget, th.Tensor | None]:
        """The value head's loss for the returns: the cross-entropy against the loss's target distribution, or for
        a loss in return units (``categorical_mse``) its own regression on the decoded value.

        :param value_logits: Logits of the value head, ``(batch, num_bins)``.
        :param returns: Lambda-returns ``advantages + values`` of the rollout, ``batch`` (return units).
        :param old_values: Values of the rollout (``rollout_data.old_values``, the decoded values at
            collection), needed with ``clip_range_vf``.
        :param clip_range_vf: SB3's value clipping, in return units: samples whose decoded value has
            moved more than this from ``old_values`` contribute no value-loss gradient. SB3 uses
            ``old + clamp(V - old, -c, c)`` in its MSE, whose gradient is zero exactly for those
            samples; here their logits are detached, which keeps the same rule (and the loss value
            over the whole batch) for a categorical head.
        :return: The loss (mean over the batch), the target and, with ``clip_range_vf``, the boolean
            mask of the samples whose gradient was stopped. With a self-scaled support (``value_scale="auto"``)
            a cross-entropy is multiplied by the return scale (:meth:`value_loss_weight`).
        """
        with th.no_grad():
            target = self.value_loss.target(returns, with_probs=self.value_loss.uses_target_probs)
        stopped = None
        if clip_range_vf is not None:
            assert old_values is not None, "clip_range_vf needs the rollout's values"
            with th.no_grad():
                stopped = (self.value_loss.to_value(value_logits) - old_values).abs() > clip_range_vf
            value_logits = th.where(stopped.unsqueeze(-1), value_logits.detach(), value_logits)
        value_loss, weight = self.value_loss(value_logits, target), self.value_loss_weight()
        return (value_loss if weight == 1.0 else value_loss * weight), target, stopped

    def value_loss_weight(self) -> float:
        """The weight of the cross-entropy in the value loss: the return scale with ``value_scale="auto"``, else 1.

        Why: the policy and value losses share one optimizer step and one gradient clip (``max_grad_norm``), and
        ``vf_coef`` and ``max_grad_norm`` were tuned for SB3's MSE, whose gradient grows with the error in return
        units. The cross-entropy's gradient is bounded whatever the error, so with SB3's settings the policy
        gradient took the clip and the critic barely learnt (A2C on CartPole-v1: explained variance about 0).
        Weighted by the return scale, the value loss is in return units again (benchmarks/panel.py, docs/ppo.md).
        A hand-set support keeps 0.4.0's weight, 1, and so does a loss already in return units (``categorical_mse``).
        """
        if self.value_loss.return_scale is None or self.value_loss.in_return_units:
            return 1.0
        return self.value_loss.support_scale

    def _record_value_stats(self, clipped: list[th.Tensor], stopped: list[th.Tensor]) -> None:
        """Log the targets clipped to the support (and those whose gradient ``clip_range_vf`` stopped).

        :param clipped: Clip masks of the targets of every minibatch of the last ``train()`` call.
        :param stopped: Masks of the samples whose value gradient ``clip_range_vf`` stopped (empty without it).
        """
        n_clipped = int(sum(c.sum() for c in clipped))  # one device sync, after the last update
        n_targets = sum(c.numel() for c in clipped)
        self.n_clipped_targets += n_clipped
        self.n_value_targets += n_targets
        self.logger.record("train/target_clip_fraction", n_clipped / max(n_targets, 1))
        self.logger.record("train/n_clipped_targets", self.n_clipped_targets)
        self.logger.record("train/value_mean", float(np.mean(self.rollout_buffer.values)))
        self._record_return_scale()
        if stopped:
            self.logger.record("train/clip_fraction_vf", int(sum(s.sum() for s in stopped)) / max(n_targets, 1))

    def collect_rollouts(self, *args: Any, **kwargs: Any) -> bool:
        """SB3's ``collect_rollouts``, then a check that the rollout's observations and rewards are finite.

        A NaN/inf reward would otherwise surface as non-finite lambda-returns (a ``CriticDivergedError``
        that blames the critic); it raises :class:`~sb3_hlgauss.common.errors.NonFiniteDataError`
        naming what was non-finite, the env and the rollout step, before anything is trained on it.
        """
        continue_training = super().collect_rollouts(*args, **kwargs)  # type: ignore[misc]
        self._check_finite_rollout()
        if self.value_loss.return_scale is not None:
            # Once a rollout, after its values and returns were computed: one scale for the whole rollout.
            # The dones of step t are the episode starts of step t + 1 (the last step's: _last_episode_starts).
            # A truncated episode's last reward holds SB3's bootstrap gamma V(s_T): its return is counted whole.
            buffer = self.rollout_buffer
            dones = np.concatenate([buffer.episode_starts[1:], self._last_episode_starts[None]], axis=0)
            self.value_loss.return_scale.update_rollout(buffer.rewards, dones)
        return continue_training

    def _check_finite_rollout(self) -> None:
        buffer = self.rollout_buffer
        observations = buffer.observations
        arrays = {"reward": buffer.rewards}
        if isinstance(observations, dict):
            arrays.update({f"observation {key!r}": value for key, value in observations.items()})
        else:
            arrays["observation"] = observations
        # One reduction per array on the hot path; the diagnosis runs only after a check failed.
        if all(array.dtype.kind not in "fc" or math.isfinite(float(np.sum(array))) for array in arrays.values()):
            return
        problems = []
        for what, array in arrays.items():
            if array.dtype.kind in "fc" and not np.isfinite(array).all():
                step, env = (int(i) for i in np.argwhere(~np.isfinite(array.reshape(*array.shape[:2], -1)))[0][:2])
                problem = _describe(array[step, env])
                problems.append(f"the {what} of env {env} at rollout step {step} {problem}")
        if not problems:
            return  # finite values whose sum overflowed
        # The env's state no longer matches the last observation: the next learn() resets it.
        self._last_obs = None
        self._last_original_obs = None
        original = " (VecNormalize'd values)" if self._vec_normalize_env is not None else ""  # type: ignore[attr-defined]
        raise NonFiniteDataError(
            f"{type(self).__name__}: non-finite data{original} in the rollout ending at num_timesteps="
            f"{self.num_timesteps}: {'; '.join(problems)}. The rollout was not trained on; the model can be saved. "  # type: ignore[attr-defined]
            "Fix (or wrap) the environment, then continue with model.set_env(env) and "
            "model.learn(..., reset_num_timesteps=False)."
        )

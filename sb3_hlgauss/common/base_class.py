"""Algorithm-side plumbing shared by every classification-critic algorithm."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import maybe_make_env
from stable_baselines3.common.type_aliases import GymEnv

from sb3_hlgauss.common.losses import ClassificationLoss, make_loss

#: Default support: wide enough for the returns of most Gymnasium tasks without tuning.
#: The symlog transform keeps the resolution fine near zero (see the README's "Choosing the support").
DEFAULT_LOSS = "hl_gauss"
DEFAULT_NUM_BINS = 101
DEFAULT_V_MIN = -10_000.0
DEFAULT_V_MAX = 10_000.0
DEFAULT_VALUE_TRANSFORM = "symlog"


def check_action_space(
    env: GymEnv | str | None,
    supported: tuple[type[spaces.Space], ...],
    algorithm: str,
    hint: str,
    verbose: int = 0,
) -> GymEnv | None:
    """Make ``env`` if it is an id and raise a clear ``ValueError`` if its action space is not supported.

    :return: The environment (made from its id if needed), to pass on to SB3.
    """
    if env is None:
        return None
    env = maybe_make_env(env, verbose)
    if not isinstance(env.action_space, supported):
        names = ", ".join(space.__name__ for space in supported)
        raise ValueError(
            f"{algorithm} supports {names} action spaces only, got {env.action_space}. {hint}"
        )
    return env


class ClassificationCriticMixin:
    """Loss settings, model set-up and logging shared by HLGaussDQN, HLGaussSAC and HLGaussTD3.

    The loss settings are constructor arguments of the algorithm (so that RL Zoo
    hyperparameter files and Optuna samplers set them by name) and plain attributes (so that
    they are saved with the model and restored by ``load``). The support and its loss module are
    rebuilt from those attributes in ``_setup_model``, never frozen at ``__init__``, so a model
    loaded with overridden settings gets a consistent critic.
    """

    value_loss: ClassificationLoss
    policy_kwargs: dict[str, Any]
    policy: Any
    logger: Any

    def _set_value_loss_settings(
        self,
        loss: str,
        num_bins: int,
        v_min: float,
        v_max: float,
        sigma_ratio: float | None,
        value_transform: str,
        loss_kwargs: dict[str, Any] | None,
    ) -> None:
        self.loss = loss
        self.num_bins = num_bins
        self.v_min = v_min
        self.v_max = v_max
        self.sigma_ratio = sigma_ratio
        self.value_transform = value_transform
        self.loss_kwargs = dict(loss_kwargs or {})
        for key in ("loss", "loss_kwargs"):
            if key in self.policy_kwargs:
                raise ValueError(
                    f"policy_kwargs[{key!r}] is set by the algorithm: pass the loss settings "
                    "(loss, num_bins, v_min, v_max, sigma_ratio, value_transform, loss_kwargs) "
                    f"to {type(self).__name__} itself"
                )
        # Fail now, with the loss's own message, rather than deep inside _setup_model.
        self._make_value_loss()
        self.n_clipped_targets = 0

    def _value_loss_kwargs(self) -> dict[str, Any]:
        kwargs = dict(
            num_bins=self.num_bins,
            v_min=self.v_min,
            v_max=self.v_max,
            value_transform=self.value_transform,
            sigma_ratio=self.sigma_ratio,
        )
        kwargs.update(getattr(self, "loss_kwargs", {}) or {})
        return {key: value for key, value in kwargs.items() if value is not None}

    def _make_value_loss(self) -> ClassificationLoss:
        return make_loss(self.loss, **self._value_loss_kwargs())

    def _setup_model(self) -> None:
        # The policy builds the loss from these; keep them out of the user's policy_kwargs
        # (which are saved as given and compared on load).
        user_policy_kwargs = self.policy_kwargs
        self.policy_kwargs = {**user_policy_kwargs, "loss": self.loss, "loss_kwargs": self._value_loss_kwargs()}
        try:
            super()._setup_model()  # type: ignore[misc]
        finally:
            self.policy_kwargs = user_policy_kwargs
        self.value_loss = self.policy.value_loss
        if not hasattr(self, "n_clipped_targets"):
            self.n_clipped_targets = 0

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "value_loss", "_q_logits_to_log"]  # type: ignore[misc]

    def _check_finite_loss(self, loss_value: float) -> None:
        """Stop before a non-finite loss reaches the weights (non-finite targets are caught by the loss)."""
        if not math.isfinite(loss_value):
            raise ValueError(
                f"{type(self).__name__}: non-finite loss ({loss_value}) at update {self._n_updates}: "  # type: ignore[attr-defined]
                "the critic's outputs are NaN/inf (try a lower learning rate or gradient clipping)."
            )

    def _record_critic_stats(self, losses: list[float], q_logits: th.Tensor, clipped: list[th.Tensor]) -> None:
        """Log the critic loss, the targets clipped to the support and (when the logs are written) the mean Q-value.

        :param losses: Critic loss of each gradient step.
        :param q_logits: Critic logits (e.g. of the last batch, any shape ``(..., K)``) whose mean
            decoded Q-value is logged as ``train/q_mean``.
        :param clipped: Boolean clip masks of the targets of each gradient step.
        """
        n_clipped = int(sum(c.sum() for c in clipped))
        n_targets = sum(c.numel() for c in clipped)
        self.n_clipped_targets += n_clipped
        self.logger.record("train/loss", float(np.mean(losses)))
        self.logger.record("train/clip_fraction", n_clipped / max(n_targets, 1))
        self.logger.record("train/n_clipped_targets", self.n_clipped_targets)
        # Decoding Q-values takes a handful of tensor operations, a cost comparable to the loss's own at
        # small batch sizes: keep the logits and decode them only when the logs are written.
        self._q_logits_to_log = q_logits.detach()

    def _record_q_mean(self) -> None:
        q_logits = getattr(self, "_q_logits_to_log", None)
        if q_logits is not None:
            self.logger.record("train/q_mean", float(self.value_loss.to_value(q_logits).mean()))
            self._q_logits_to_log = None

    def dump_logs(self, *args: Any, **kwargs: Any) -> None:
        self._record_q_mean()
        super().dump_logs(*args, **kwargs)  # type: ignore[misc]

    def learn(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().learn(*args, **kwargs)  # type: ignore[misc]
        finally:
            # Leave the last batch's mean Q-value in logger.name_to_value, as the other train/ keys are.
            self._record_q_mean()

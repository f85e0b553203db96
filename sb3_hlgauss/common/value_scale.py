"""A value scale that chooses itself: the support of a categorical critic follows the size of the returns.

A categorical critic needs a support, and a support sized by hand (``v_min``, ``v_max``) is the one setting
that users get wrong (too narrow: targets clip; too wide: a few bins carry every return, and with a symlog
transform the loss weights samples by about ``1 / (1 + |Q|)^2``). SimbaV2 (Lee et al., 2025) and BRC
(Nauman et al., 2025) avoid the choice by dividing rewards by a running scale of the discounted return and
keeping a fixed support in those normalised units. :class:`RunningReturnScale` is SimbaV2's reward
normaliser (``scale_rl/agents/wrappers/normalization.py``) turned around: instead of dividing the
rewards, it multiplies the support, so that the critic, its targets and every value the model reports
stay in return units (``to_value`` is ``scale * sum_i p_i z_i``), while the loss and the resolution are
those of the normalised support ``[-edge, edge]``.

The scale is ``max(sqrt(Var[G] + eps), max|G| / edge)`` over the running discounted return
``G <- r + gamma G`` (reset when an episode starts) of every reward the algorithm collects: the first term is
the return scaling of SB3's ``VecNormalize`` (what SimbaV2 found to matter on Hopper), the second keeps every
return seen inside the support. Its statistics are buffers of the loss (saved with the policy, restored
exactly); the running returns of the current episodes are not saved (``load`` starts new episodes).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch as th
from torch import nn


class RunningReturnScale(nn.Module):
    """Scale of the returns, from the running discounted return of the collected rewards.

    :param gamma: The algorithm's discount factor (the running return's).
    :param edge: Edge of the normalised support ``[-edge, edge]``: the largest return seen is mapped to it
        at most (SimbaV2's ``normalized_g_max``, 5).
    :param eps: Added to the variance (SimbaV2's and ``VecNormalize``'s 1e-8).
    :param initial_scale: Scale before any reward was seen.
    """

    count: th.Tensor
    mean: th.Tensor
    var: th.Tensor
    max_abs: th.Tensor

    def __init__(self, gamma: float, edge: float, eps: float = 1e-8, initial_scale: float = 1.0) -> None:
        super().__init__()
        if not (isinstance(gamma, (int, float)) and 0.0 <= gamma <= 1.0):
            raise ValueError(f"RunningReturnScale: gamma must be a number in [0, 1], got {gamma!r}")
        if not (isinstance(edge, (int, float)) and math.isfinite(edge) and edge > 0):
            raise ValueError(f"RunningReturnScale: edge must be a finite number > 0, got {edge!r}")
        self.gamma = float(gamma)
        self.edge = float(edge)
        self.eps = float(eps)
        self.initial_scale = float(initial_scale)
        # float64 CPU statistics: updated from numpy rewards every step, never on the training device's hot path.
        self.register_buffer("count", th.zeros((), dtype=th.float64))
        self.register_buffer("mean", th.zeros((), dtype=th.float64))
        self.register_buffer("var", th.zeros((), dtype=th.float64))
        self.register_buffer("max_abs", th.zeros((), dtype=th.float64))
        #: The scale as a Python float: read by the loss on every call without a device transfer.
        self.value = self.initial_scale
        self._returns: np.ndarray | None = None
        self._episode_start: np.ndarray | None = None
        self.register_load_state_dict_post_hook(lambda module, _: module._refresh())

    def _apply(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        # The statistics stay float64 on the CPU whatever device or dtype the critic moves to.
        return self

    def _refresh(self) -> None:
        if float(self.count) == 0:
            self.value = self.initial_scale
            return
        self.value = max(math.sqrt(float(self.var) + self.eps), float(self.max_abs) / self.edge)

    def reset_episodes(self) -> None:
        """Forget the running returns of the current episodes (the environments were reset)."""
        self._returns = None
        self._episode_start = None

    def update(self, rewards: Any, dones: Any) -> None:
        """Add one step of every environment: ``rewards`` and ``dones`` of shape ``(n_envs,)``."""
        rewards = np.asarray(rewards, dtype=np.float64).reshape(-1)
        dones = np.asarray(dones, dtype=bool).reshape(-1)
        if self._returns is None or self._returns.shape != rewards.shape:
            self._returns = np.zeros_like(rewards)
            self._episode_start = np.ones_like(dones)
        self._returns = rewards + self.gamma * np.where(self._episode_start, 0.0, self._returns)
        self._episode_start = dones
        self.add_returns(self._returns)

    def update_rollout(self, rewards: np.ndarray, dones: np.ndarray) -> None:
        """Add a rollout, ``(n_steps, n_envs)`` rewards and the ``dones`` of each step."""
        for step_rewards, step_dones in zip(rewards, dones):
            self.update(step_rewards, step_dones)

    def add_returns(self, returns: np.ndarray) -> None:
        """Merge a batch of returns into the statistics (Chan et al.'s parallel mean and variance)."""
        returns = np.asarray(returns, dtype=np.float64).reshape(-1)
        if returns.size == 0:
            return
        if not np.all(np.isfinite(returns)):
            raise ValueError(f"RunningReturnScale: non-finite returns {returns[~np.isfinite(returns)][:3]}")
        count, mean, var = float(self.count), float(self.mean), float(self.var)
        batch_count, batch_mean, batch_var = returns.size, float(returns.mean()), float(returns.var())
        total = count + batch_count
        delta = batch_mean - mean
        new_mean = mean + delta * batch_count / total
        new_var = (var * count + batch_var * batch_count + delta**2 * count * batch_count / total) / total
        self.count.fill_(total)
        self.mean.fill_(new_mean)
        self.var.fill_(new_var)
        self.max_abs.fill_(max(float(self.max_abs), float(np.abs(returns).max())))
        self._refresh()

    def state(self) -> dict[str, float]:
        """The statistics and the scale, as plain numbers (for logs and result files)."""
        return dict(scale=self.value, count=float(self.count), mean=float(self.mean),
                    std=math.sqrt(float(self.var)), max_abs=float(self.max_abs))

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, edge={self.edge}, scale={self.value:.4g}"

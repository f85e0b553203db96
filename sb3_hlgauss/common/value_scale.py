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

import dataclasses
import math
from typing import Any

import numpy as np
import torch as th
from torch import nn


_SAVED = ("count", "mean", "var", "max_abs")


@dataclasses.dataclass(slots=True)
class _Statistics:
    """The running statistics as plain attributes: updated on every env step, where setting an attribute of an
    ``nn.Module`` (a few microseconds each) would cost more than the arithmetic."""

    count: float = 0.0
    mean: float = 0.0
    var: float = 0.0
    max_abs: float = 0.0
    #: Running discounted return of each env's current episode, and 0 where an episode starts, 1 where it goes on.
    returns: np.ndarray | None = None
    continuing: np.ndarray | None = None


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
        self._stats = _Statistics()
        # float64 CPU buffers mirror the statistics whenever a state dict is taken, so they are saved with the policy.
        for name in _SAVED:
            self.register_buffer(name, th.zeros((), dtype=th.float64))
        #: The scale as a Python float: read by the loss on every call without a device transfer.
        self.value = self.initial_scale
        self.register_load_state_dict_post_hook(lambda module, _: module._read_buffers())

    def _apply(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        # The statistics stay float64 on the CPU whatever device or dtype the critic moves to.
        return self

    def _save_to_state_dict(self, destination: dict[str, Any], prefix: str, keep_vars: bool) -> None:
        for name in _SAVED:
            getattr(self, name).fill_(getattr(self._stats, name))
        super()._save_to_state_dict(destination, prefix, keep_vars)

    def _read_buffers(self) -> None:
        for name in _SAVED:
            setattr(self._stats, name, float(getattr(self, name)))
        self.value = self._scale()

    def _scale(self) -> float:
        stats = self._stats
        if stats.count == 0:
            return self.initial_scale
        return max(math.sqrt(stats.var + self.eps), stats.max_abs / self.edge)

    def reset_episodes(self) -> None:
        """Forget the running returns of the current episodes (the environments were reset)."""
        self._stats.returns = self._stats.continuing = None

    def update(self, rewards: Any, dones: Any) -> None:
        """Add one step of every environment: ``rewards`` and ``dones`` of shape ``(n_envs,)``."""
        stats = self._stats
        rewards = np.asarray(rewards, dtype=np.float64).reshape(-1)
        if stats.returns is None or stats.returns.shape != rewards.shape:
            stats.returns = np.zeros_like(rewards)
            stats.continuing = np.zeros_like(rewards)
        stats.returns = rewards + self.gamma * stats.continuing * stats.returns
        stats.continuing = 1.0 - np.asarray(dones, dtype=np.float64).reshape(-1)
        self.add_returns(stats.returns)

    def update_rollout(self, rewards: np.ndarray, dones: np.ndarray) -> None:
        """Add a rollout, ``(n_steps, n_envs)`` rewards and the ``dones`` of each step."""
        for step_rewards, step_dones in zip(rewards, dones):
            self.update(step_rewards, step_dones)

    def add_returns(self, returns: np.ndarray) -> None:
        """Merge a batch of returns into the statistics (Chan et al.'s parallel mean and variance)."""
        returns = np.asarray(returns, dtype=np.float64).reshape(-1)
        batch_count = returns.size
        if batch_count == 0:
            return
        # Called on every env step: Python arithmetic for one env, plain sums for several (np.var costs ~10x).
        if batch_count == 1:
            batch_mean = float(returns[0])
            batch_var, batch_max = 0.0, abs(batch_mean)
        else:
            batch_mean = float(returns.sum()) / batch_count
            deviations = returns - batch_mean
            batch_var = float(deviations @ deviations) / batch_count
            batch_max = max(float(returns.max()), -float(returns.min()))
        if not (math.isfinite(batch_mean) and math.isfinite(batch_var)):
            raise ValueError(f"RunningReturnScale: non-finite returns {returns[~np.isfinite(returns)][:3]}")
        stats = self._stats
        count, mean = stats.count, stats.mean
        total = count + batch_count
        delta = batch_mean - mean
        stats.mean = mean + delta * batch_count / total
        stats.var = (stats.var * count + batch_var * batch_count + delta**2 * count * batch_count / total) / total
        stats.count = total
        stats.max_abs = max(stats.max_abs, batch_max)
        self.__dict__["value"] = self._scale()  # a plain attribute: skip nn.Module.__setattr__ on the hot path

    def state(self) -> dict[str, float]:
        """The statistics and the scale, as plain numbers (for logs and result files)."""
        stats = self._stats
        return dict(scale=self.value, count=stats.count, mean=stats.mean, std=math.sqrt(stats.var),
                    max_abs=stats.max_abs)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, edge={self.edge}, scale={self.value:.4g}"

"""Classification losses for value functions.

Implements the losses compared in *Stop Regressing: Training Value Functions via
Classification for Scalable Deep RL* (Farebrother et al., ICML 2024,
arXiv:2403.03950): a critic outputs ``K`` logits over a fixed support, its
scalar value is the expectation over the bin centres, and it is trained with
the cross-entropy against a target distribution built from the TD target.

This module is the single implementation of that math: every algorithm of the
package (DQN, SAC, TD3, PPO, A2C) and every benchmark calls it.

The support
-----------
One canonical grid is shared by every loss so that the same
``(v_min, v_max, num_bins)`` means the same critic whatever the loss:
``K + 1`` edges ``linspace(h(v_min), h(v_max), K + 1)`` and ``K`` bin centres
half-way between them (the histogram grid of HL-Gauss, Imani & White 2018).
Two-Hot and C51 use those centres as their atoms. ``h`` is the value transform
(identity by default, or ``symlog``); ``v_min`` and ``v_max`` are always given in
value (return) units.

Targets outside the representable range of a loss (the outer edges for
HL-Gauss, the outer centres for Two-Hot and C51) are clipped, and every
:class:`TDTarget` says which ones were, so that the algorithms can log the
clipped fraction.

Losses are registered by name (``"hl_gauss"``, ``"two_hot"``, ``"c51"``,
``"categorical_mse"``); :func:`register_loss` adds user-defined ones.
"""

from __future__ import annotations

import inspect
import math
import numbers
from typing import Any, ClassVar, NamedTuple, TypeVar

import torch as th
from torch import nn
from torch.nn import functional as F

from sb3_hlgauss.common.errors import CriticDivergedError
from sb3_hlgauss.common.transforms import IdentityTransform, ValueTransform, make_value_transform
from sb3_hlgauss.common.value_scale import RunningReturnScale


class TDTarget(NamedTuple):
    """A TD target turned into what a classification critic is trained on.

    :ivar probs: Target probabilities over the bins, shape ``(*batch, K)``; ``None`` when the target was built
        for a loss that reads only :attr:`value` (``target(..., with_probs=False)``).
    :ivar value: The scalar target clipped to :attr:`ClassificationLoss.value_range`, shape
        ``batch``, in value (return) units. For the built-in losses it is the mean of ``probs`` over
        :meth:`ClassificationLoss.atoms` (within the tolerances stated in ``docs/losses.md``).
    :ivar clipped: Boolean mask, shape ``batch``: which scalar targets lay outside the
        representable range and were clipped.
    """

    probs: th.Tensor | None
    value: th.Tensor
    clipped: th.Tensor


def _as_float(x: th.Tensor) -> th.Tensor:
    """Promote to at least float32: targets are built in full precision even under mixed precision."""
    if x.dtype is th.float32 or x.dtype is th.float64:  # the hot path: no dispatch at all
        return x
    return x.to(th.promote_types(x.dtype, th.float32))


def _reshape_discounts(discounts: th.Tensor | float, shape: th.Size) -> th.Tensor | float:
    return discounts.reshape(shape) if isinstance(discounts, th.Tensor) else discounts


def _check_not_empty(logits: th.Tensor) -> None:
    if logits.numel() == 0:
        raise ValueError(f"Empty batch: logits of shape {tuple(logits.shape)} hold no sample (the mean loss would be NaN)")


#: Largest ``|v_min|``, ``|v_max|`` accepted (return units): ``r + gamma V`` and the squared errors
#: of ``categorical_mse`` stay finite in float32 (max ~3.4e38) for any support within it.
MAX_ABS_VALUE = 1e18
#: Each bin must span at least this many float32 steps (ulps) at the support's largest magnitude in
#: transformed units, i.e. ``bin_width >= 2**-15 * max(|h(v_min)|, |h(v_max)|)``: then a float32 target
#: is placed within 1/256 of a bin, the edges are strictly increasing in float32 and every target
#: distribution of the built-in losses is non-negative and sums to 1 within :data:`PROBS_ATOL`.
MIN_ULPS_PER_BIN = 2**8
_FLOAT32_EPS = float(th.finfo(th.float32).eps)  # 2**-23
#: Tolerance on the sum of a target distribution (float32), stated and tested for every accepted support.
PROBS_ATOL = 1e-5


def _check_number(name: str, value: Any) -> float:
    """``value`` as a float; a TypeError naming ``name`` if it is not a real number (bools and strings are not)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    return float(value)


def check_num_bins(num_bins: Any) -> int:
    """``num_bins`` as an int; an error naming it unless it is an integer >= 2 (``51.0`` and ``"51"`` are not)."""
    if isinstance(num_bins, bool) or not isinstance(num_bins, numbers.Integral):
        raise TypeError(f"num_bins must be an integer >= 2, got {num_bins!r} ({type(num_bins).__name__})")
    if num_bins < 2:
        raise ValueError(f"num_bins must be an integer >= 2, got {num_bins}")
    return int(num_bins)


class ClassificationLoss(nn.Module):
    """Base class of the value losses: a categorical critic over a fixed support.

    The critic's scalar value is the mean of its predicted distribution in value (return) units,
    ``sum_i p_i z_i`` over the atoms ``z_i = h^-1(c_i)`` (:meth:`to_value`), and every built-in loss
    builds target distributions whose mean over the same atoms is the (clipped) TD target, so that
    the value a critic reports is the expected return it was trained on, also for stochastic
    targets and any value transform ``h``.

    Subclasses implement :meth:`_probs` (clipped transformed target -> target probabilities) or,
    when they need the target in return units too, :meth:`_target_probs`; they may override
    :meth:`td_target` (C51 projects a whole distribution) or :meth:`forward` (the MSE ablation).

    :param v_min: Lowest value the support covers, in value (return) units.
    :param v_max: Highest value the support covers, in value (return) units.
    :param num_bins: Number of bins ``K`` (an integer >= 2).
    :param value_transform: Name of the value transform (``"identity"`` or ``"symlog"``)
        applied to targets before binning; the support is uniform in transformed units.
    :raises TypeError: if a setting has the wrong type.
    :raises ValueError: if the support is empty, reaches beyond :data:`MAX_ABS_VALUE`, or has bins
        finer than float32 can resolve (:data:`MIN_ULPS_PER_BIN`).
    """

    name: ClassVar[str] = ""
    #: True when the loss builds its target from the whole next-state distribution (C51).
    distributional: ClassVar[bool] = False
    #: True when the loss value is in (squared) return units, as a regression's is; False for a cross-entropy,
    #: whose value and gradient do not grow with the error (see ``OnPolicyClassificationMixin.value_loss_weight``).
    in_return_units: ClassVar[bool] = False
    #: False when :meth:`forward` reads only the target's value, not its probabilities (the MSE ablation): the
    #: on-policy algorithms then skip building them.
    uses_target_probs: ClassVar[bool] = True

    centers: th.Tensor
    edges: th.Tensor

    def __init__(
        self,
        v_min: float = -10.0,
        v_max: float = 10.0,
        num_bins: int = 51,
        value_transform: str | ValueTransform | None = "identity",
    ) -> None:
        super().__init__()
        num_bins = check_num_bins(num_bins)
        v_min, v_max = _check_number("v_min", v_min), _check_number("v_max", v_max)
        if not (math.isfinite(v_min) and math.isfinite(v_max)):
            raise ValueError(f"v_min and v_max must be finite, got v_min={v_min}, v_max={v_max}")
        if v_min >= v_max:
            raise ValueError(f"v_min must be < v_max, got v_min={v_min} >= v_max={v_max}")
        if max(abs(v_min), abs(v_max)) > MAX_ABS_VALUE:
            raise ValueError(
                f"The support [v_min={v_min!r}, v_max={v_max!r}] reaches beyond +-{MAX_ABS_VALUE:g}: "
                "TD targets and squared errors on it would overflow float32 (max 3.4e38)"
            )
        self.v_min = v_min
        self.v_max = v_max
        self.num_bins = num_bins
        self.value_transform = make_value_transform(value_transform)

        low, high = self.value_transform.forward(th.tensor([v_min, v_max], dtype=th.float64)).tolist()
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(
                f"value_transform {self.value_transform.name!r} maps [v_min={v_min:g}, v_max={v_max:g}] to "
                f"[{low}, {high}], not a finite increasing range (narrower than float64 resolves there)"
            )
        #: Bin width in transformed units.
        self.bin_width = (high - low) / num_bins
        largest = max(abs(low), abs(high))
        if self.bin_width < MIN_ULPS_PER_BIN * _FLOAT32_EPS * largest:
            raise ValueError(
                f"The bins of the support [v_min={v_min!r}, v_max={v_max!r}] with num_bins={num_bins} "
                f"({self.value_transform.name} units: width {self.bin_width:.3g} at magnitude {largest:.3g}) are finer "
                f"than float32 can resolve: each bin must span >= {MIN_ULPS_PER_BIN} float32 steps, i.e. width >= "
                f"{MIN_ULPS_PER_BIN * _FLOAT32_EPS * largest:.3g}. Use fewer bins or a wider range."
            )
        edges = th.linspace(low, high, num_bins + 1, dtype=th.float64)
        centers = (edges[:-1] + edges[1:]) / 2
        atoms = self.value_transform.inverse(centers)
        # Python floats, read on every call: no tensor-to-scalar transfer in the training step.
        self._edge_range = (float(edges[0]), float(edges[-1]))
        self._center_range = (float(centers[0]), float(centers[-1]))
        self._atom_range = (float(atoms[0]), float(atoms[-1]))
        # Non-persistent: the support is rebuilt from the settings, never read from a checkpoint.
        # float32 copies for the common case, float64 masters for float64 callers.
        self.register_buffer("edges", edges.float(), persistent=False)
        self.register_buffer("centers", centers.float(), persistent=False)
        self.register_buffer("_atoms32", atoms.float(), persistent=False)
        self.register_buffer("_edges64", edges, persistent=False)
        self.register_buffer("_centers64", centers, persistent=False)
        self.register_buffer("_atoms64", atoms, persistent=False)
        #: With a :class:`~sb3_hlgauss.common.value_scale.RunningReturnScale` attached (:meth:`attach_return_scale`),
        #: ``v_min``/``v_max`` are in normalised units and the support in return units is ``scale`` times them.
        self.return_scale: RunningReturnScale | None = None

    def attach_return_scale(self, return_scale: RunningReturnScale) -> None:
        """Make the support follow ``return_scale``: the atoms in return units become ``scale * z_i``.

        Targets are divided by the scale before they are binned, and :meth:`to_value` multiplies by it, so
        that every value in and out of the loss stays in return units.
        """
        if not isinstance(return_scale, RunningReturnScale):
            raise TypeError(f"attach_return_scale expects a RunningReturnScale, got {return_scale!r}")
        self.return_scale = return_scale

    @property
    def support_scale(self) -> float:
        """Return units per normalised unit of the support (1.0 without a return scale)."""
        return 1.0 if self.return_scale is None else self.return_scale.value

    # ------------------------------------------------------------------ support
    @property
    def target_range(self) -> tuple[float, float]:
        """Interval (transformed units) that targets are clipped to: ``h`` of :attr:`value_range`."""
        return self._edge_range

    @property
    def value_range(self) -> tuple[float, float]:
        """Interval (return units) that targets are clipped to: ``[v_min, v_max]`` (HL-Gauss); losses whose
        target mean must be an atom mean (Two-Hot, C51) use the outer atoms."""
        scale = self.support_scale
        return self.v_min * scale, self.v_max * scale

    def bin_centers(self, dtype: th.dtype = th.float32) -> th.Tensor:
        """Bin centres ``c_i`` in ``dtype`` (transformed units)."""
        return self.centers if dtype == th.float32 else self._centers64.to(dtype)

    def bin_edges(self, dtype: th.dtype = th.float32) -> th.Tensor:
        """Bin edges in ``dtype`` (transformed units)."""
        return self.edges if dtype == th.float32 else self._edges64.to(dtype)

    def atoms(self, dtype: th.dtype = th.float32) -> th.Tensor:
        """The support points in value (return) units, ``z_i = h^-1(c_i)``: the values a categorical
        critic's distribution lives on (C51's atoms); with a return scale, ``scale * h^-1(c_i)``."""
        atoms = self._atoms32 if dtype == th.float32 else self._atoms64.to(dtype)
        return atoms if self.return_scale is None else atoms * self.return_scale.value

    # ---------------------------------------------------------- logits -> value
    def to_value(self, logits: th.Tensor) -> th.Tensor:
        """Scalar value of a categorical critic: the mean of its distribution in return units,
        ``sum_i softmax(logits)_i z_i`` with ``z_i = h^-1(c_i)``.

        Greedy actions and the lowest of several critic heads are taken on this value.

        :param logits: Logits of shape ``(*batch, K)``.
        :return: Values of shape ``batch``, in value units.
        """
        logits = _as_float(logits)
        return th.softmax(logits, dim=-1) @ self.atoms(logits.dtype)

    def expectation(self, logits: th.Tensor) -> th.Tensor:
        """``sum_i softmax(logits)_i c_i``: the mean in *transformed* units.

        Not the critic's value unless the transform is the identity (``h^-1`` of it is not the mean
        return, by Jensen's inequality): use :meth:`to_value`.
        """
        logits = _as_float(logits)
        return th.softmax(logits, dim=-1) @ self.bin_centers(logits.dtype)

    # -------------------------------------------------------- scalar -> probs
    def target(self, targets: th.Tensor, with_probs: bool = True) -> TDTarget:
        """Turn scalar targets (value units, any shape) into a :class:`TDTarget`.

        :param with_probs: False: leave ``probs`` out (``None``), for a loss that reads only the clipped value
            (:attr:`uses_target_probs`); the value and the clip mask are the same either way.

        :raises CriticDivergedError: if a target is NaN or infinite (targets on the CPU; on another device
            their probabilities are NaN instead, so that the loss is NaN, which ``train()`` refuses with
            a ``CriticDivergedError`` before the optimizer step).
        """
        if not isinstance(targets, th.Tensor):
            targets = th.as_tensor(targets, device=self.centers.device)
        targets = _as_float(targets)
        finite = None
        if targets.device.type == "cpu":
            # One reduction on the hot path: the sum is finite when every target is (the exact test runs
            # only if it is not, since finite targets near float max can overflow the sum).
            if not math.isfinite(targets.sum().item()) and not bool(th.isfinite(targets).all()):
                raise CriticDivergedError(
                    f"Non-finite TD targets ({int((~th.isfinite(targets)).sum())} of {targets.numel()} are NaN or inf): "
                    "the critic has diverged (try a lower learning rate or gradient clipping)."
                )
        else:
            # No host sync on an accelerator: a non-finite target is binned as 0 (no index leaves the support)
            # and its probabilities and value are set to NaN below, which makes the loss NaN.
            finite = th.isfinite(targets)
            targets = th.where(finite, targets, targets.new_zeros(()))
        low, high = self.value_range
        values = targets.clamp(low, high)
        clipped = values != targets
        probs = None
        if with_probs:
            transformed = self.value_transform.forward(values / self.support_scale).clamp(*self.target_range)
            probs = self._target_probs(values, transformed)
        if finite is not None:
            if probs is not None:
                probs = probs.masked_fill(~finite.unsqueeze(-1), float("nan"))
            values = values.masked_fill(~finite, float("nan"))
        return TDTarget(probs, values, clipped)

    def to_probs(self, targets: th.Tensor) -> th.Tensor:
        """Target probabilities ``q(y)`` of shape ``(*targets.shape, K)`` (targets in value units, clipped)."""
        return self.target(targets).probs

    def _target_probs(self, values: th.Tensor, transformed: th.Tensor) -> th.Tensor:
        """Target probabilities for clipped targets, given in value units and in transformed units.

        The built-in losses override this; a user-defined loss implements :meth:`_probs` instead.
        """
        return self._probs(transformed)

    def _probs(self, transformed: th.Tensor) -> th.Tensor:
        """Target probabilities for clipped targets given in transformed units.

        For :meth:`to_value` to report what the critic was trained on, the mean of the returned
        distribution over :meth:`atoms` should be ``h^-1(transformed)``.
        """
        raise NotImplementedError

    def td_target(
        self,
        rewards: th.Tensor,
        discounts: th.Tensor | float,
        next_logits: th.Tensor | None,
        next_values: th.Tensor | None = None,
    ) -> TDTarget:
        """Target of the Bellman update ``r + discount * V(s')``.

        :param rewards: Rewards, ``batch`` elements (any shape with that many elements).
        :param discounts: ``gamma^n (1 - done)`` per sample (or a float).
        :param next_logits: Logits of the bootstrap distribution at the next state, ``(*batch, K)``.
            May be ``None`` when ``next_values`` is given and the loss is not
            :attr:`distributional` (only C51 needs the distribution itself).
        :param next_values: ``V(s')`` in value units if the caller has it already (it is
            ``to_value(next_logits)``, possibly with a term such as SAC's entropy folded in);
            distributional losses (C51) shift the next-state distribution to have this value.
        """
        rewards, discounts, next_values = self._bellman_inputs(rewards, discounts, next_logits, next_values)
        return self.target(rewards + discounts * next_values)

    def _bellman_inputs(
        self,
        rewards: th.Tensor,
        discounts: th.Tensor | float,
        next_logits: th.Tensor | None,
        next_values: th.Tensor | None,
    ) -> tuple[th.Tensor, th.Tensor | float, th.Tensor]:
        """Rewards, discounts and next values reshaped to the batch shape of ``next_logits`` (or of ``next_values``)."""
        if next_logits is None:
            if next_values is None:
                raise ValueError("td_target needs next_logits or next_values")
            if self.distributional:
                raise ValueError(f"{type(self).__name__} is distributional: td_target needs next_logits")
            return rewards.reshape(next_values.shape), _reshape_discounts(discounts, next_values.shape), next_values
        batch_shape = next_logits.shape[:-1]
        if next_values is None:
            next_values = self.to_value(next_logits)
        if next_values.shape != batch_shape:
            next_values = next_values.reshape(batch_shape)
        return rewards.reshape(batch_shape), _reshape_discounts(discounts, batch_shape), next_values

    # ------------------------------------------------------------------- loss
    def forward(self, logits: th.Tensor, target: TDTarget | th.Tensor) -> th.Tensor:
        """Mean cross-entropy ``-sum_i q_i log softmax(logits)_i`` over the batch.

        :param logits: Critic logits ``(*batch, K)``, at least one sample.
        :param target: A :class:`TDTarget`, or scalar targets in value units.
        """
        _check_not_empty(logits)
        if not isinstance(target, TDTarget):
            target = self.target(target)
        # cross_entropy with class probabilities: one fused call for log_softmax, product, sum and mean.
        logits, probs = _as_float(logits), target.probs
        if logits.dim() != 2:  # (*batch, K) -> (N, K); a (N, K) batch, the common case, needs no view
            logits, probs = logits.reshape(-1, self.num_bins), probs.reshape(-1, self.num_bins)
        return F.cross_entropy(logits, probs)

    def extra_repr(self) -> str:
        scale = "" if self.return_scale is None else f", return_scale={self.return_scale.value:.4g}"
        return (
            f"v_min={self.v_min}, v_max={self.v_max}, num_bins={self.num_bins}, "
            f"value_transform={self.value_transform.name!r}{scale}"
        )


LossT = TypeVar("LossT", bound=type[ClassificationLoss])

#: Registry of value losses, name -> class. Extend it with :func:`register_loss`.
LOSSES: dict[str, type[ClassificationLoss]] = {}


def register_loss(name: str | LossT | None = None) -> Any:
    """Register a :class:`ClassificationLoss` subclass so algorithms can select it by name.

    Usable as ``@register_loss`` (uses ``cls.name``) or ``@register_loss("my_loss")``.

    Example
    -------
    >>> from sb3_hlgauss import ClassificationLoss, register_loss
    >>> @register_loss("one_hot")
    ... class OneHot(ClassificationLoss):
    ...     def _probs(self, z):
    ...         index = ((z - self.edges[0]) / self.bin_width).long().clamp(0, self.num_bins - 1)
    ...         return th.nn.functional.one_hot(index, self.num_bins).to(z.dtype)
    """

    def decorator(cls: LossT) -> LossT:
        if not (isinstance(cls, type) and issubclass(cls, ClassificationLoss)):
            raise TypeError(f"register_loss expects a ClassificationLoss subclass, got {cls!r}")
        key = registered_name if registered_name is not None else cls.name
        if not key:
            raise ValueError(f"{cls.__name__} needs a name: set `name` on the class or call register_loss('name')")
        cls.name = key
        LOSSES[key] = cls
        return cls

    if isinstance(name, type):
        registered_name = None
        return decorator(name)
    registered_name = name
    return decorator


def available_losses() -> list[str]:
    """Names of the registered losses."""
    return sorted(LOSSES)


def get_loss_class(name: str) -> type[ClassificationLoss]:
    """The loss class registered under ``name``.

    :raises ValueError: naming the registered losses, if ``name`` is unknown.
    """
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        raise ValueError(f"Unknown loss {name!r}. Registered losses: {available_losses()}") from None


def make_loss(name: str, **kwargs: Any) -> ClassificationLoss:
    """Build the loss registered under ``name``.

    Keyword arguments set to ``None`` take the loss's default; an argument the loss does
    not take (e.g. ``sigma_ratio`` for ``"two_hot"``) is an error rather than silently ignored.
    """
    cls = get_loss_class(name)
    kwargs = {key: value for key, value in kwargs.items() if value is not None}
    parameters = inspect.signature(cls.__init__).parameters
    takes_var_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    unknown = sorted(set(kwargs) - set(parameters)) if not takes_var_kwargs else []
    if unknown:
        allowed = sorted(key for key in parameters if key != "self")
        raise ValueError(f"Loss {name!r} does not take {unknown}; its parameters are {allowed}")
    return cls(**kwargs)


#: Solved centre tables of :class:`HLGaussLoss` by settings (float32, CPU), the oldest dropped first.
_CENTRE_TABLES: dict[tuple[Any, ...], th.Tensor] = {}
_CENTRE_TABLES_SIZE = 32


@register_loss("hl_gauss")
class HLGaussLoss(ClassificationLoss):
    """HL-Gauss: histogram loss with Gaussian labels (Imani & White, 2018), as in
    Farebrother et al. (2024), Section 3.

    The target probability of bin ``i`` is the mass of ``N(mu, sigma^2)`` in that bin (transformed
    units), renormalised to the support:
    ``q_i = (Phi((e_{i+1} - mu) / sigma) - Phi((e_i - mu) / sigma)) / (Phi((e_K - mu) / sigma) - Phi((e_0 - mu) / sigma))``.

    With the identity transform ``mu = y``, the paper's label, whose mean is ``y`` (up to ~1e-5 bin
    widths, and short of ``y`` by up to ``0.4 sigma`` within ``2 sigma`` of ``v_min``/``v_max`` where the
    Gaussian is cut). With another transform, the mean *in return units* of a Gaussian centred on
    ``h(y)`` is not ``y`` (for symlog about ``(1 + |y|)(exp(sigma^2 / 2) - 1)`` too far from 0, 1.1%
    on the default support, which bootstrapping with ``gamma = 0.99`` would compound into a
    many-fold overestimate). ``mu`` is then moved so that the label's mean over the atoms is ``y``:
    the centre that achieves it is a fixed function of ``h(y)``, solved once at construction
    (fixed-point iteration ``mu <- mu + h(y) - h(sum_i q_i z_i)`` in float64) on a grid of
    :attr:`CENTRE_TABLE_POINTS_PER_BIN` points per bin and interpolated linearly in the training step.
    ``docs/losses.md`` states the remaining bias.

    :param sigma_ratio: ``sigma`` as a multiple of the bin width (the paper recommends 0.75),
        in ``[1e-3, num_bins]``.
    :param sigma: ``sigma`` in *transformed* units (value units only with the identity transform),
        the bin width being ``(h(v_max) - h(v_min)) / num_bins``; an alternative to ``sigma_ratio``
        (the paper finds the best absolute ``sigma`` roughly independent of the number of bins).
        Giving both is an error.
    """

    #: Points per bin of the table of Gaussian centres (non-identity transforms, see the class docstring).
    CENTRE_TABLE_POINTS_PER_BIN: ClassVar[int] = 4
    #: Accepted ``sigma_ratio`` range, in bin widths: ``[1e-3, max(2, num_bins / 4)]``. Below it the label
    #: is a one-hot histogram; above it the Gaussian covers more than a quarter of the support (a
    #: ``sigma`` meant in return units on a symlog support, say).
    SIGMA_RATIO_MIN: ClassVar[float] = 1e-3
    SIGMA_RATIO_MAX_MIN: ClassVar[float] = 2.0

    #: ``mu(t) - t`` on :attr:`CENTRE_TABLE_POINTS_PER_BIN` points per bin (float32; ``None`` with the identity transform).
    _centre_offsets: th.Tensor | None

    def __init__(
        self,
        v_min: float = -10.0,
        v_max: float = 10.0,
        num_bins: int = 51,
        value_transform: str | ValueTransform | None = "identity",
        sigma_ratio: float | None = None,
        sigma: float | None = None,
    ) -> None:
        super().__init__(v_min, v_max, num_bins, value_transform)
        if sigma is not None and sigma_ratio is not None:
            raise ValueError(
                f"HL-Gauss got both sigma={sigma!r} and sigma_ratio={sigma_ratio!r}: give one "
                "(sigma is sigma_ratio * bin width, in transformed units)"
            )
        units = f"{self.value_transform.name} units, bin width {self.bin_width:.4g}"
        if sigma is not None:
            sigma = _check_number("sigma", sigma)
            if not (math.isfinite(sigma) and sigma > 0):
                raise ValueError(f"sigma must be a finite number > 0 ({units}), got {sigma!r}")
            sigma_ratio = sigma / self.bin_width
            where = f"sigma={sigma:g} ({units}) is sigma_ratio={sigma_ratio:.4g} bin widths"
        else:
            sigma_ratio = 0.75 if sigma_ratio is None else _check_number("sigma_ratio", sigma_ratio)
            where = f"sigma_ratio={sigma_ratio!r}"
        largest = max(self.SIGMA_RATIO_MAX_MIN, self.num_bins / 4)
        if not (math.isfinite(sigma_ratio) and self.SIGMA_RATIO_MIN <= sigma_ratio <= largest):
            raise ValueError(
                f"HL-Gauss: {where}; it must lie in [{self.SIGMA_RATIO_MIN:g}, {largest:g}] bin widths "
                f"(at most a quarter of the support; sigma is in transformed units, {units})"
            )
        self.sigma_ratio = float(sigma_ratio)
        #: Standard deviation of the Gaussian label, in transformed units.
        self.sigma = self.sigma_ratio * self.bin_width
        self.register_buffer("_scaled_edges", (self._edges64 / (math.sqrt(2.0) * self.sigma)).float(), persistent=False)
        self._corrects_mean = not isinstance(self.value_transform, IdentityTransform)
        # Solved here, in float64 on the CPU from the settings, so that the training step never solves it
        # on the training device; a non-persistent buffer, so that .to(device) moves it with the support.
        offsets = self._centre_table() if self._corrects_mean else None
        self.register_buffer("_centre_offsets", offsets, persistent=False)

    def _centre_table(self) -> th.Tensor:
        """The solved table as float32, shared between losses of the same settings: a model builds its loss
        several times (checking its settings, in the policy, in ``load``), and solving costs ~20 ms at 101 bins."""
        transform = self.value_transform
        if vars(transform):  # a transform with parameters of its own: not identified by its class
            return self._solve_centre_offsets().float()
        key = (type(self), type(transform), self.v_min, self.v_max, self.num_bins, self.sigma_ratio,
               self.CENTRE_TABLE_POINTS_PER_BIN)
        table = _CENTRE_TABLES.get(key)
        if table is None:
            table = self._solve_centre_offsets().float()
            if len(_CENTRE_TABLES) >= _CENTRE_TABLES_SIZE:
                del _CENTRE_TABLES[next(iter(_CENTRE_TABLES))]
            _CENTRE_TABLES[key] = table
        return table.clone()  # each loss owns its buffer

    def _solve_centre_offsets(self, max_steps: int = 30, tol: float = 1e-12) -> th.Tensor:
        """``mu(t) - t`` on the grid ``t_j`` (transformed units) where ``mu(t)`` is the Gaussian centre whose
        histogram has mean ``h^-1(t)`` over the atoms (float64, on the support's device; clamped to the
        support where unreachable)."""
        low, high = self.target_range
        points = self.CENTRE_TABLE_POINTS_PER_BIN * self.num_bins + 1
        grid = th.linspace(low, high, points, dtype=th.float64, device=self._edges64.device)
        centre = grid.clone()
        for _ in range(max_steps):
            mean = self._windowed_mean(centre)
            moved = (centre + grid - self.value_transform.forward(mean)).clamp(low, high)
            # Interior points converge in ~10 steps; points held at the ends by the clamp stop moving.
            converged = float((moved - centre).abs().max()) < tol
            centre = moved
            if converged:
                break
        return centre - grid

    def _windowed_mean(self, centre: th.Tensor, half_width_sigmas: float = 9.0) -> th.Tensor:
        """Mean over the atoms (return units) of :meth:`_gaussian_histogram` of each centre (float64),
        summing only the bins within ``half_width_sigmas`` sigma of it (the rest holds < 1e-18 of the
        mass): O(points x sigma_ratio) instead of O(points x K), so large supports solve their table fast."""
        edges, atoms = self.bin_edges(th.float64), self._atoms64  # normalised atoms: the table is in support units
        window = min(self.num_bins, 2 * math.ceil(half_width_sigmas * self.sigma_ratio) + 2)
        first = ((centre - half_width_sigmas * self.sigma - edges[0]) / self.bin_width).floor()
        first = first.clamp(0, self.num_bins - window).long()
        bins = first.unsqueeze(-1) + th.arange(window, device=centre.device)  # (points, window)
        scale = 1.0 / (math.sqrt(2.0) * self.sigma)
        cdf = th.special.erf((th.cat([edges[bins], edges[bins[:, -1:] + 1]], dim=-1) - centre.unsqueeze(-1)) * scale)
        mass = th.diff(cdf, dim=-1).clamp_(min=0.0)
        return (mass * atoms[bins]).sum(-1) / mass.sum(-1)

    def _gaussian_histogram(self, centre: th.Tensor) -> th.Tensor:
        """Mass of ``N(centre, sigma^2)`` in each bin, renormalised to the support (transformed units)."""
        scale = 1.0 / (math.sqrt(2.0) * self.sigma)
        # erf((e_i - mu) / (sqrt(2) sigma)) as scale * e_i - scale * mu: one fused subtraction.
        scaled_edges = self._scaled_edges if centre.dtype == th.float32 else self.bin_edges(centre.dtype) * scale
        cdf = th.special.erf(th.sub(scaled_edges, centre.unsqueeze(-1), alpha=scale))
        # The (1 + erf) / 2 of Phi cancels in the ratio. The clamp removes the ulp-sized negative
        # differences a float erf can give between equal arguments; the normaliser is > 0 because mu
        # lies on the support.
        mass = th.diff(cdf, dim=-1).clamp_(min=0.0)
        return mass / mass.sum(dim=-1, keepdim=True)

    def _target_probs(self, values: th.Tensor, transformed: th.Tensor) -> th.Tensor:
        if self._centre_offsets is None:  # the identity transform: the paper's label
            return self._gaussian_histogram(transformed)
        # The centre whose label has mean y in return units: linear interpolation in the solved table.
        offsets = self._centre_offsets.to(transformed.dtype)
        position = (transformed - self.target_range[0]) * (self.CENTRE_TABLE_POINTS_PER_BIN / self.bin_width)
        index = position.floor().clamp_(0, offsets.numel() - 2)
        fraction = (position - index).clamp_(0.0, 1.0)
        index = index.long()
        offset = th.lerp(offsets[index], offsets[index + 1], fraction)
        return self._gaussian_histogram(transformed + offset)

    def _probs(self, transformed: th.Tensor) -> th.Tensor:
        return self._target_probs(self.value_transform.inverse(transformed), transformed)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, sigma_ratio={self.sigma_ratio}"


def _project_on_atoms(
    values: th.Tensor, transformed: th.Tensor, weights: th.Tensor | None, loss: ClassificationLoss
) -> th.Tensor:
    """Split each point's weight between the two atoms around it, linearly in *return* units, so
    that the mean over the atoms is preserved: ``(*batch, K)`` probabilities.

    :param values: Points in return units, clipped to the outer atoms, shape ``(*batch, M)``.
    :param transformed: ``h(values)`` (used only to find the neighbouring atoms), same shape.
    :param weights: Probability of each point (``None``: 1), same shape.
    """
    atoms = loss.atoms(values.dtype)
    num_bins = loss.num_bins
    # Lower neighbour, from the uniform grid in transformed units; at most K - 2 so that the pair is
    # distinct and a point on the last atom keeps all of its weight.
    lower = ((transformed - float(loss._center_range[0])) / loss.bin_width).floor_().clamp_(0, num_bins - 2).long()
    low_atoms, high_atoms = atoms[lower], atoms[lower + 1]
    # In [0, 1] whatever the rounding of h: non-negative probabilities that sum to the weight.
    upper = ((values - low_atoms) / (high_atoms - low_atoms)).clamp_(0.0, 1.0)
    many = weights is not None and values.shape[-1] > 64
    if weights is None:
        weights = th.ones_like(upper)
    probs = th.zeros((*values.shape[:-1], num_bins), dtype=values.dtype, device=values.device)
    probs.scatter_add_(-1, lower, weights * (1.0 - upper))
    probs.scatter_add_(-1, lower + 1, weights * upper)
    if many:
        # Many atoms can land in one bin, and a float32 scatter-add sums them one by one (error ~K eps):
        # renormalising brings the sum back to 1 within PROBS_ATOL.
        probs = probs / probs.sum(dim=-1, keepdim=True)
    return probs


@register_loss("two_hot")
class TwoHotLoss(ClassificationLoss):
    """Two-Hot: all mass on the two atoms adjacent to the target, split so that the mean over the
    atoms (return units) equals the target exactly (Schrittwieser et al., 2020; Farebrother et al., 2024).
    With the identity transform this is the usual linear split between bin centres.

    Targets are clipped to the outer atoms ``[z_0, z_{K-1}]``, the range a mean can reach.
    """

    @property
    def target_range(self) -> tuple[float, float]:
        return self._center_range

    @property
    def value_range(self) -> tuple[float, float]:
        scale = self.support_scale
        return self._atom_range[0] * scale, self._atom_range[1] * scale

    def _target_probs(self, values: th.Tensor, transformed: th.Tensor) -> th.Tensor:
        return _project_on_atoms(values.unsqueeze(-1), transformed.unsqueeze(-1), None, self)

    def _probs(self, transformed: th.Tensor) -> th.Tensor:
        return self._target_probs(self.value_transform.inverse(transformed) * self.support_scale, transformed)


@register_loss("c51")
class C51Loss(TwoHotLoss):
    """C51 (Bellemare et al., 2017): the categorical projection of the distributional
    Bellman target, the distributional baseline of Farebrother et al. (2024).

    The distribution lives on the atoms ``z_j = h^-1(c_j)`` (return units) and its value is its
    mean. Each atom of the next-state distribution is shifted to ``r + discount * z_j``, clipped to
    the outer atoms, and its probability split between its two neighbouring atoms linearly in return
    units, which preserves the mean (the projection of Rowland et al., 2018, on a non-uniform grid).
    A scalar target (no next-state distribution) is projected as a Dirac, i.e. Two-Hot.
    """

    distributional = True

    def td_target(
        self,
        rewards: th.Tensor,
        discounts: th.Tensor | float,
        next_logits: th.Tensor | None,
        next_values: th.Tensor | None = None,
    ) -> TDTarget:
        if next_logits is None:
            raise ValueError(f"{type(self).__name__} is distributional: td_target needs next_logits")
        next_logits = _as_float(next_logits)
        next_probs = th.softmax(next_logits, dim=-1)
        atoms = self.atoms(next_logits.dtype)
        distribution_values = next_probs @ atoms
        rewards, discounts, next_values = self._bellman_inputs(
            rewards, discounts, next_logits, distribution_values if next_values is None else next_values
        )
        # The scalar target is only logged and counted as clipped; the distribution is what is learnt.
        expected = self.target(rewards + discounts * next_values)

        if isinstance(discounts, th.Tensor):
            discounts = discounts.unsqueeze(-1)
        # Atoms shifted so that the distribution's value is next_values (e.g. SAC's entropy term);
        # the offset is 0 when next_values is not given.
        next_atoms = atoms + (next_values - distribution_values).unsqueeze(-1)
        # nan_to_num: off the CPU, target() does not raise on a non-finite target (no host sync); keep every
        # index inside the support and carry the NaN of expected.probs into the projection instead.
        shifted = (rewards.unsqueeze(-1) + discounts * next_atoms).nan_to_num().clamp(*self.value_range)
        transformed = self.value_transform.forward(shifted / self.support_scale)
        probs = _project_on_atoms(shifted, transformed, next_probs, self)
        if not transformed.is_cpu:
            probs = probs.masked_fill(expected.probs[..., :1].isnan(), float("nan"))
        return TDTarget(probs, expected.value, expected.clipped)


@register_loss("categorical_mse")
class CategoricalMSELoss(TwoHotLoss):
    """Ablation of Farebrother et al. (2024), Section 5: a categorical head trained with
    MSE on its value ("MSE + softmax"). Same parameterisation as the classification losses,
    regression loss on the value in return units: ``0.5 (sum_i p_i z_i - y)^2``, whose minimiser is
    the mean target (a regression in transformed units would estimate ``h^-1(E[h(y)])`` instead).
    """

    in_return_units = True
    uses_target_probs = False

    def forward(self, logits: th.Tensor, target: TDTarget | th.Tensor) -> th.Tensor:
        _check_not_empty(logits)
        if not isinstance(target, TDTarget):
            target = self.target(target, with_probs=False)
        value = self.to_value(logits)
        return 0.5 * F.mse_loss(value, target.value.to(value.dtype))

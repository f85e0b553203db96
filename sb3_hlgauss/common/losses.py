"""Classification losses for value functions.

Implements the losses compared in *Stop Regressing: Training Value Functions via
Classification for Scalable Deep RL* (Farebrother et al., ICML 2024,
arXiv:2403.03950): a critic outputs ``K`` logits over a fixed support, its
scalar value is the expectation over the bin centres, and it is trained with
the cross-entropy against a target distribution built from the TD target.

This module is the single implementation of that math: every algorithm of the
package (DQN, SAC, TD3) and every benchmark calls it.

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
from typing import Any, ClassVar, NamedTuple, TypeVar

import torch as th
from torch import nn
from torch.nn import functional as F

from sb3_hlgauss.common.transforms import ValueTransform, make_value_transform


class TDTarget(NamedTuple):
    """A TD target turned into what a classification critic is trained on.

    :param probs: Target probabilities over the bins, shape ``(*batch, K)``.
    :param scalar: The scalar target after the value transform and clipping to the
        representable range, shape ``batch`` (transformed units).
    :param clipped: Boolean mask, shape ``batch``: which scalar targets lay outside
        the representable range and were clipped.
    """

    probs: th.Tensor
    scalar: th.Tensor
    clipped: th.Tensor


def _as_float(x: th.Tensor) -> th.Tensor:
    """Promote to at least float32: targets are built in full precision even under mixed precision."""
    if x.dtype is th.float32 or x.dtype is th.float64:  # the hot path: no dispatch at all
        return x
    return x.to(th.promote_types(x.dtype, th.float32))


def _reshape_discounts(discounts: th.Tensor | float, shape: th.Size) -> th.Tensor | float:
    return discounts.reshape(shape) if isinstance(discounts, th.Tensor) else discounts


class ClassificationLoss(nn.Module):
    """Base class of the value losses: a categorical critic over a fixed support.

    Subclasses implement :meth:`_probs` (scalar target -> target probabilities) and
    may override :meth:`td_target` (C51 projects a whole distribution) or
    :meth:`forward` (the MSE ablation).

    :param v_min: Lowest value the support covers, in value (return) units.
    :param v_max: Highest value the support covers, in value (return) units.
    :param num_bins: Number of bins ``K`` (>= 2).
    :param value_transform: Name of the value transform (``"identity"`` or ``"symlog"``)
        applied to targets before binning; the support is uniform in transformed units.
    """

    name: ClassVar[str] = ""
    #: True when the loss builds its target from the whole next-state distribution (C51).
    distributional: ClassVar[bool] = False

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
        if isinstance(num_bins, bool) or not isinstance(num_bins, int) and not float(num_bins).is_integer():
            raise ValueError(f"num_bins must be an integer >= 2, got {num_bins!r}")
        num_bins = int(num_bins)
        if num_bins < 2:
            raise ValueError(f"num_bins must be an integer >= 2, got {num_bins}")
        v_min, v_max = float(v_min), float(v_max)
        if not (math.isfinite(v_min) and math.isfinite(v_max)):
            raise ValueError(f"v_min and v_max must be finite, got v_min={v_min}, v_max={v_max}")
        if v_min >= v_max:
            raise ValueError(f"v_min must be < v_max, got v_min={v_min} >= v_max={v_max}")
        self.v_min = v_min
        self.v_max = v_max
        self.num_bins = num_bins
        self.value_transform = make_value_transform(value_transform)

        low, high = self.value_transform.forward(th.tensor([v_min, v_max], dtype=th.float64)).tolist()
        edges = th.linspace(low, high, num_bins + 1, dtype=th.float64)
        #: Bin width in transformed units.
        self.bin_width = (high - low) / num_bins
        # Python floats, read on every call: no tensor-to-scalar transfer in the training step.
        self._edge_range = (float(edges[0]), float(edges[-1]))
        self._center_range = (float((edges[0] + edges[1]) / 2), float((edges[-2] + edges[-1]) / 2))
        centers = (edges[:-1] + edges[1:]) / 2
        # Non-persistent: the support is rebuilt from the settings, never read from a checkpoint.
        # float32 copies for the common case, float64 masters for float64 callers.
        self.register_buffer("edges", edges.float(), persistent=False)
        self.register_buffer("centers", centers.float(), persistent=False)
        self.register_buffer("_edges64", edges, persistent=False)
        self.register_buffer("_centers64", centers, persistent=False)

    # ------------------------------------------------------------------ support
    @property
    def target_range(self) -> tuple[float, float]:
        """Interval (transformed units) that targets are clipped to: the outer bin edges."""
        return self._edge_range

    def bin_centers(self, dtype: th.dtype = th.float32) -> th.Tensor:
        """Bin centres in ``dtype`` (transformed units)."""
        return self.centers if dtype == th.float32 else self._centers64.to(dtype)

    def bin_edges(self, dtype: th.dtype = th.float32) -> th.Tensor:
        """Bin edges in ``dtype`` (transformed units)."""
        return self.edges if dtype == th.float32 else self._edges64.to(dtype)

    # ---------------------------------------------------------- logits -> value
    def expectation(self, logits: th.Tensor) -> th.Tensor:
        """``sum_i softmax(logits)_i c_i``: the value in transformed units.

        The value transform is increasing, so greedy actions can be taken on this directly.
        """
        logits = _as_float(logits)
        return th.softmax(logits, dim=-1) @ self.bin_centers(logits.dtype)

    def to_value(self, logits: th.Tensor) -> th.Tensor:
        """Scalar value of a categorical critic: ``h^-1(sum_i softmax(logits)_i c_i)``.

        :param logits: Logits of shape ``(*batch, K)``.
        :return: Values of shape ``batch``, in value units.
        """
        return self.value_transform.inverse(self.expectation(logits))

    # -------------------------------------------------------- scalar -> probs
    def target(self, targets: th.Tensor) -> TDTarget:
        """Turn scalar targets (value units, any shape) into a :class:`TDTarget`.

        :raises ValueError: if a target is NaN or infinite.
        """
        if not isinstance(targets, th.Tensor):
            targets = th.as_tensor(targets, device=self.centers.device)
        targets = _as_float(targets)
        # One reduction on the hot path: the sum is finite when every target is (the exact test runs
        # only if it is not, since finite targets near float max can overflow the sum).
        if not math.isfinite(targets.sum().item()) and not bool(th.isfinite(targets).all()):
            raise ValueError(
                f"Non-finite TD targets ({int((~th.isfinite(targets)).sum())} of {targets.numel()} are NaN or inf): "
                "the rewards contain NaN/inf or the critic has diverged."
            )
        transformed = self.value_transform.forward(targets)
        low, high = self.target_range
        clamped = transformed.clamp(low, high)
        return TDTarget(self._probs(clamped), clamped, clamped != transformed)

    def to_probs(self, targets: th.Tensor) -> th.Tensor:
        """Target probabilities ``q(y)`` of shape ``(*targets.shape, K)`` (targets in value units, clipped)."""
        return self.target(targets).probs

    def _probs(self, transformed: th.Tensor) -> th.Tensor:
        """Target probabilities for clipped targets given in transformed units."""
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
        return rewards.reshape(batch_shape), _reshape_discounts(discounts, batch_shape), next_values.reshape(batch_shape)

    # ------------------------------------------------------------------- loss
    def forward(self, logits: th.Tensor, target: TDTarget | th.Tensor) -> th.Tensor:
        """Mean cross-entropy ``-sum_i q_i log softmax(logits)_i`` over the batch.

        :param logits: Critic logits ``(*batch, K)``.
        :param target: A :class:`TDTarget`, or scalar targets in value units.
        """
        if not isinstance(target, TDTarget):
            target = self.target(target)
        # cross_entropy with class probabilities: one fused call for log_softmax, product, sum and mean.
        return F.cross_entropy(_as_float(logits).reshape(-1, self.num_bins), target.probs.reshape(-1, self.num_bins))

    def extra_repr(self) -> str:
        return (
            f"v_min={self.v_min}, v_max={self.v_max}, num_bins={self.num_bins}, "
            f"value_transform={self.value_transform.name!r}"
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


@register_loss("hl_gauss")
class HLGaussLoss(ClassificationLoss):
    """HL-Gauss: histogram loss with Gaussian labels (Imani & White, 2018), as in
    Farebrother et al. (2024), Section 3.

    The target probability of bin ``i`` is the mass of ``N(y, sigma^2)`` in that bin,
    renormalised to the support:
    ``q_i = (Phi((e_{i+1} - y) / sigma) - Phi((e_i - y) / sigma)) / (Phi((e_K - y) / sigma) - Phi((e_0 - y) / sigma))``.

    :param sigma_ratio: ``sigma`` as a multiple of the bin width (the paper recommends 0.75).
    :param sigma: ``sigma`` in transformed value units; overrides ``sigma_ratio`` when given
        (the paper finds the best absolute ``sigma`` roughly independent of the number of bins).
    """

    def __init__(
        self,
        v_min: float = -10.0,
        v_max: float = 10.0,
        num_bins: int = 51,
        value_transform: str | ValueTransform | None = "identity",
        sigma_ratio: float = 0.75,
        sigma: float | None = None,
    ) -> None:
        super().__init__(v_min, v_max, num_bins, value_transform)
        if sigma is not None:
            if not (math.isfinite(float(sigma)) and float(sigma) > 0):
                raise ValueError(f"sigma must be a finite number > 0, got {sigma!r}")
            sigma_ratio = float(sigma) / self.bin_width
        if not (math.isfinite(float(sigma_ratio)) and float(sigma_ratio) > 0):
            raise ValueError(f"sigma_ratio must be a finite number > 0, got {sigma_ratio!r}")
        self.sigma_ratio = float(sigma_ratio)
        #: Standard deviation of the Gaussian label, in transformed units.
        self.sigma = self.sigma_ratio * self.bin_width
        self.register_buffer("_scaled_edges", (self._edges64 / (math.sqrt(2.0) * self.sigma)).float(), persistent=False)

    def _probs(self, transformed: th.Tensor) -> th.Tensor:
        scale = 1.0 / (math.sqrt(2.0) * self.sigma)
        # erf((e_i - y) / (sqrt(2) sigma)) as scale * e_i - scale * y: one fused subtraction.
        scaled_edges = self._scaled_edges if transformed.dtype == th.float32 else self.bin_edges(transformed.dtype) * scale
        cdf = th.special.erf(th.sub(scaled_edges, transformed.unsqueeze(-1), alpha=scale))
        # The (1 + erf) / 2 of Phi cancels in the ratio; the bin masses sum to the normaliser
        # Phi(e_K) - Phi(e_0), which clipping keeps >= Phi(0) - Phi(-(e_K - e_0) / sigma) > 0.
        mass = th.diff(cdf, dim=-1)
        return mass / mass.sum(dim=-1, keepdim=True)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, sigma_ratio={self.sigma_ratio}"


def _triangle_weights(points: th.Tensor, centers: th.Tensor, width: float) -> th.Tensor:
    """Linear-interpolation weights of ``points`` on a uniform grid, shape ``(*points.shape, K)``.

    ``max(0, 1 - |x - c_i| / w)`` puts all mass on the two centres around ``x`` (one if ``x``
    is a centre) and sums to 1 for ``x`` in ``[c_0, c_{K-1}]``.
    """
    return (1.0 - (points.unsqueeze(-1) - centers).abs() / width).clamp_(min=0.0)


@register_loss("two_hot")
class TwoHotLoss(ClassificationLoss):
    """Two-Hot: all mass on the two bin centres adjacent to the target, split so that the
    expectation equals the target exactly (Schrittwieser et al., 2020; Farebrother et al., 2024).

    Targets are clipped to ``[c_0, c_{K-1}]``, the range an expectation can reach.
    """

    @property
    def target_range(self) -> tuple[float, float]:
        return self._center_range

    def _probs(self, transformed: th.Tensor) -> th.Tensor:
        return _triangle_weights(transformed, self.bin_centers(transformed.dtype), self.bin_width)


@register_loss("c51")
class C51Loss(TwoHotLoss):
    """C51 (Bellemare et al., 2017): the categorical projection of the distributional
    Bellman target, the distributional baseline of Farebrother et al. (2024).

    Each atom ``z_j`` of the next-state distribution is shifted to ``r + discount * z_j``,
    clipped, and its probability split linearly between its two neighbouring atoms.
    A scalar target (no next-state distribution) is projected as a Dirac, i.e. Two-Hot.
    The atoms are the canonical bin centres, so the grid matches HL-Gauss for the same
    ``(v_min, v_max, num_bins)``.
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
        distribution_values = self.to_value(next_logits)
        rewards, discounts, next_values = self._bellman_inputs(
            rewards, discounts, next_logits, distribution_values if next_values is None else next_values
        )
        # The scalar target is only logged and counted as clipped; the distribution is what is learnt.
        expected = self.target(rewards + discounts * next_values)

        atoms = self.bin_centers(next_logits.dtype)
        low, high = self.target_range
        if isinstance(discounts, th.Tensor):
            discounts = discounts.unsqueeze(-1)
        # Atoms in value units, shifted so that the distribution's value is next_values (e.g. SAC's
        # entropy term); the offset is 0 when next_values is not given.
        next_atoms = self.value_transform.inverse(atoms) + (next_values - distribution_values).unsqueeze(-1)
        shifted = rewards.unsqueeze(-1) + discounts * next_atoms
        shifted = self.value_transform.forward(shifted).clamp(low, high)
        # Split each shifted atom's probability between its lower and upper neighbouring atoms.
        # Clamping the lower index to K - 2 keeps the two distinct, so an atom that lands exactly on
        # a support point (including the last one) keeps all of its mass.
        position = (shifted - atoms[0]) / self.bin_width
        lower = position.floor().clamp_(0, self.num_bins - 2)
        upper_weight = position - lower
        next_probs = th.softmax(next_logits, dim=-1)
        lower = lower.long()
        probs = th.zeros_like(next_probs)
        probs.scatter_add_(-1, lower, next_probs * (1.0 - upper_weight))
        probs.scatter_add_(-1, lower + 1, next_probs * upper_weight)
        return TDTarget(probs, expected.scalar, expected.clipped)


@register_loss("categorical_mse")
class CategoricalMSELoss(TwoHotLoss):
    """Ablation of Farebrother et al. (2024), Section 5: a categorical head trained with
    MSE on its expected value ("MSE + softmax"). Same parameterisation as the
    classification losses, regression loss: ``0.5 (E_p[c] - h(y))^2``.
    """

    def forward(self, logits: th.Tensor, target: TDTarget | th.Tensor) -> th.Tensor:
        if not isinstance(target, TDTarget):
            target = self.target(target)
        expected = self.expectation(logits)
        return 0.5 * F.mse_loss(expected, target.scalar.to(expected.dtype))


"""Invertible value transforms applied to targets before binning.

A classification critic needs a fixed support. When the scale of the returns is
unknown or spans orders of magnitude, binning ``h(y)`` instead of ``y`` keeps a
fixed support usable: the support is uniform in ``h``-space and the critic's
scalar value is ``h^{-1}(E_p[h])``. ``symlog`` is the transform of DreamerV3
(Hafner et al., 2023) and TD-MPC2 (Hansen et al., 2024).

Transforms are registered by name so that algorithms and zoo hyperparameter
files can select them with a string (``value_transform: symlog``).
"""

from __future__ import annotations

from typing import ClassVar

import torch as th


class ValueTransform:
    """An invertible, monotonically increasing map ``h`` on the real line."""

    name: ClassVar[str]

    def forward(self, values: th.Tensor) -> th.Tensor:
        raise NotImplementedError

    def inverse(self, values: th.Tensor) -> th.Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class IdentityTransform(ValueTransform):
    """``h(y) = y``: bins are spaced uniformly in value units (the paper's setting)."""

    name = "identity"

    def forward(self, values: th.Tensor) -> th.Tensor:
        return values

    def inverse(self, values: th.Tensor) -> th.Tensor:
        return values


class SymlogTransform(ValueTransform):
    """``h(y) = sign(y) log(1 + |y|)``, inverse ``sign(x) (exp(|x|) - 1)``."""

    name = "symlog"

    def forward(self, values: th.Tensor) -> th.Tensor:
        return values.abs().log1p().copysign(values)

    def inverse(self, values: th.Tensor) -> th.Tensor:
        return values.abs().expm1().copysign(values)


VALUE_TRANSFORMS: dict[str, type[ValueTransform]] = {
    IdentityTransform.name: IdentityTransform,
    SymlogTransform.name: SymlogTransform,
}


def register_value_transform(cls: type[ValueTransform]) -> type[ValueTransform]:
    """Class decorator adding a user-defined :class:`ValueTransform` to the registry under ``cls.name``."""
    if not isinstance(cls, type) or not issubclass(cls, ValueTransform):
        raise TypeError(f"register_value_transform expects a ValueTransform subclass, got {cls!r}")
    VALUE_TRANSFORMS[cls.name] = cls
    return cls


def make_value_transform(name: str | ValueTransform | None) -> ValueTransform:
    """Return the transform registered under ``name`` (``None`` means ``"identity"``)."""
    if isinstance(name, ValueTransform):
        return name
    if name is None:
        name = "identity"
    try:
        return VALUE_TRANSFORMS[name]()
    except KeyError:
        raise ValueError(
            f"Unknown value_transform {name!r}. Registered value transforms: {sorted(VALUE_TRANSFORMS)}"
        ) from None

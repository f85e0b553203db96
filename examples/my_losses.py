"""A user-defined value loss: histogram labels from a Laplace kernel instead of a Gaussian.

This module is *your* code, not part of sb3-hlgauss: importing it registers the loss under the
name ``"hl_laplace"``, after which ``HLGaussDQN(..., loss="hl_laplace")``, ``HLGaussSAC`` and RL Zoo
hyperparameter files (``loss: hl_laplace``) can select it by name.

The target probability of bin ``i`` is the mass of a Laplace distribution centred on the (clipped)
target ``y`` in that bin, renormalised to the support -- HL-Gauss with the Gaussian CDF replaced:

    q_i = (F(e_{i+1} - y) - F(e_i - y)) / (F(e_K - y) - F(e_0 - y)),
    F(x) = 1/2 + 1/2 sign(x) (1 - exp(-|x| / b)),     b = scale_ratio * bin width.

A Laplace label has heavier tails than a Gaussian one of the same width. ``scale_ratio=0.5`` gives a
standard deviation of ``sqrt(2) * 0.5 = 0.71`` bin widths, close to HL-Gauss's 0.75.
"""

from __future__ import annotations

import math

import torch as th

from sb3_hlgauss import ClassificationLoss, register_loss


@register_loss("hl_laplace")
class HLLaplaceLoss(ClassificationLoss):
    """Histogram loss with Laplace labels.

    :param scale_ratio: Laplace scale ``b`` as a multiple of the bin width.
    """

    def __init__(
        self,
        v_min: float = -10.0,
        v_max: float = 10.0,
        num_bins: int = 51,
        value_transform: str = "identity",
        scale_ratio: float = 0.5,
    ) -> None:
        # The base class builds the support: bin_edges() (K + 1), bin_centers() (K), self.bin_width.
        super().__init__(v_min, v_max, num_bins, value_transform)
        if not (math.isfinite(scale_ratio) and scale_ratio > 0):
            raise ValueError(f"scale_ratio must be > 0, got {scale_ratio}")
        self.scale_ratio = float(scale_ratio)
        self.scale = self.scale_ratio * self.bin_width

    def _probs(self, transformed: th.Tensor) -> th.Tensor:
        # `transformed`: targets already value-transformed and clipped to self.target_range (the outer edges).
        x = (self.bin_edges(transformed.dtype) - transformed.unsqueeze(-1)) / self.scale  # (*batch, K + 1)
        # 2 F(x) - 1 = sign(x) (1 - exp(-|x|)); the affine part cancels in the ratio, as in HL-Gauss.
        cdf = th.sign(x) * -th.expm1(-x.abs())
        return (cdf[..., 1:] - cdf[..., :-1]) / (cdf[..., -1:] - cdf[..., :1])

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, scale_ratio={self.scale_ratio}"

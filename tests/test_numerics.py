"""Property tests over the whole space of supports the losses accept (hypothesis).

The accepted space (``sb3_hlgauss.common.losses``): ``|v_min|, |v_max| <= MAX_ABS_VALUE`` (1e18) and bins
spanning at least ``MIN_ULPS_PER_BIN`` float32 steps at the support's largest magnitude, for any
number of bins and both transforms. Everything outside is rejected at construction (tested here too).
On every accepted support, every target distribution (float32) is finite, non-negative and sums to 1
within ``PROBS_ATOL`` (1e-5), for any finite float32 target, reward or discount.
"""

import math

import pytest
import torch as th
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sb3_hlgauss import make_loss
from sb3_hlgauss.common.losses import MAX_ABS_VALUE, MIN_ULPS_PER_BIN, PROBS_ATOL

LOSS_NAMES = ["hl_gauss", "two_hot", "c51", "categorical_mse"]
FLOAT32_MAX = float(th.finfo(th.float32).max)
finite_float32 = st.floats(-FLOAT32_MAX, FLOAT32_MAX, allow_nan=False, allow_infinity=False, width=32)


def _transformed(value: float, transform: str) -> float:
    return value if transform == "identity" else math.copysign(math.log1p(abs(value)), value)


def accepts(v_min: float, v_max: float, num_bins: int, transform: str) -> bool:
    low, high = _transformed(v_min, transform), _transformed(v_max, transform)
    largest = max(abs(low), abs(high))
    return (
        v_min < v_max
        and max(abs(v_min), abs(v_max)) <= MAX_ABS_VALUE
        and (high - low) / num_bins >= MIN_ULPS_PER_BIN * 2.0**-23 * largest
    )


@st.composite
def accepted_supports(draw):
    """Any accepted support: centres and widths over 21 orders of magnitude, 2 to 2048 bins."""
    transform = draw(st.sampled_from(["identity", "symlog"]))
    centre = draw(st.sampled_from([-1.0, 1.0])) * 10.0 ** draw(st.floats(-3, 18))
    half_width = 10.0 ** draw(st.floats(-3, 18))
    v_min = max(centre - half_width, -MAX_ABS_VALUE)
    v_max = min(centre + half_width, MAX_ABS_VALUE)
    num_bins = draw(st.integers(2, 2048))
    if not accepts(v_min, v_max, num_bins, transform):
        # The largest number of bins float32 resolves on this range, if any.
        low, high = _transformed(v_min, transform), _transformed(v_max, transform)
        largest = max(abs(low), abs(high))
        num_bins = int((high - low) / (MIN_ULPS_PER_BIN * 2.0**-23 * largest)) if largest > 0 else num_bins
        assume(num_bins >= 2 and accepts(v_min, v_max, num_bins, transform))
    return v_min, v_max, num_bins, transform


def build(name, support):
    v_min, v_max, num_bins, transform = support
    return make_loss(name, v_min=v_min, v_max=v_max, num_bins=num_bins, value_transform=transform)


def assert_distributions(probs: th.Tensor) -> None:
    assert th.isfinite(probs).all()
    assert (probs >= 0).all()
    assert float((probs.sum(-1) - 1).abs().max()) <= PROBS_ATOL


@pytest.mark.parametrize("name", LOSS_NAMES)
@settings(max_examples=80, deadline=None)
@given(support=accepted_supports(), targets=st.lists(finite_float32, min_size=1, max_size=8), spread=st.floats(0, 1))
def test_targets_are_distributions_on_every_accepted_support(name, support, targets, spread):
    loss = build(name, support)
    # Targets anywhere in float32, plus targets spread over the support itself.
    inside = [loss.v_min + spread * (loss.v_max - loss.v_min)]
    values = th.tensor(targets + inside, dtype=th.float32)
    target = loss.target(values)
    assert_distributions(target.probs)
    low, high = loss.value_range
    low32, high32 = th.tensor([low, high], dtype=th.float32).tolist()  # the clip happens in float32
    assert target.clipped.tolist() == [bool(v < low32 or v > high32) for v in values.tolist()]
    decoded = target.probs.double() @ loss.atoms(th.float64)
    assert ((decoded >= loss.atoms(th.float64)[0] - 1e-6 * abs(low)) & (decoded <= loss.atoms(th.float64)[-1] + 1e-6 * abs(high))).all()
    logits = th.randn(len(values), loss.num_bins)
    assert math.isfinite(float(loss(logits, target)))


@settings(max_examples=150, deadline=None)
@given(
    support=accepted_supports(),
    rewards=st.lists(finite_float32, min_size=1, max_size=6),
    discount=st.floats(0, 1),
    logit_scale=st.floats(0, 50),
    seed=st.integers(0, 2**16),
)
def test_c51_projections_are_distributions_on_every_accepted_support(support, rewards, discount, logit_scale, seed):
    """0.2.0 gave entries down to -1.2e-4 when huge rewards clipped the shifted atoms."""
    loss = build("c51", support)
    generator = th.Generator().manual_seed(seed)
    next_logits = logit_scale * th.randn(len(rewards), loss.num_bins, generator=generator)
    target = loss.td_target(th.tensor(rewards, dtype=th.float32), discount, next_logits)
    assert_distributions(target.probs)


@pytest.mark.parametrize("transform", ["identity", "symlog"])
def test_categorical_mse_is_finite_on_the_largest_accepted_support(transform):
    """0.2.0 overflowed to inf on identity supports reaching ~1e19."""
    loss = make_loss("categorical_mse", v_min=-MAX_ABS_VALUE, v_max=MAX_ABS_VALUE, num_bins=51, value_transform=transform)
    logits = th.zeros(4, 51)
    logits[:, 0] = 50.0  # all mass on the lowest atom, targets at the highest: the largest error
    assert math.isfinite(float(loss(logits, th.full((4,), MAX_ABS_VALUE))))


@settings(max_examples=100, deadline=None)
@given(
    v_min=st.floats(-1e30, 1e30, allow_nan=False),
    width=st.floats(1e-9, 1e31, allow_nan=False),
    num_bins=st.integers(2, 4096),
    transform=st.sampled_from(["identity", "symlog"]),
)
def test_a_support_outside_the_accepted_space_is_rejected_at_construction(v_min, width, num_bins, transform):
    v_max = v_min + width
    assume(v_max > v_min)
    if accepts(v_min, v_max, num_bins, transform):
        build("hl_gauss", (v_min, v_max, num_bins, transform))
    else:
        with pytest.raises(ValueError, match="float32|reaches beyond|increasing range"):
            build("hl_gauss", (v_min, v_max, num_bins, transform))

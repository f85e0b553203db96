"""Numerics of the loss module against formulas computed independently here."""

import math

import numpy as np
import pytest
import torch as th
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sb3_hlgauss import (
    LOSSES,
    ClassificationLoss,
    HLGaussLoss,
    TDTarget,
    available_losses,
    make_loss,
    make_value_transform,
    register_loss,
)
from sb3_hlgauss.common.losses import MIN_ULPS_PER_BIN

SCALAR_LOSSES = ["hl_gauss", "two_hot", "c51", "categorical_mse"]


def reference_hl_gauss(y: float, v_min: float, v_max: float, num_bins: int, sigma: float) -> np.ndarray:
    """Paper formula, scalar Python: clip y to the support, then normalised Gaussian CDF differences."""
    y = min(max(y, v_min), v_max)
    edges = [v_min + (v_max - v_min) * i / num_bins for i in range(num_bins + 1)]
    phi = [0.5 * (1.0 + math.erf((e - y) / (sigma * math.sqrt(2.0)))) for e in edges]
    norm = phi[-1] - phi[0]
    return np.array([(phi[i + 1] - phi[i]) / norm for i in range(num_bins)])


def reference_c51(next_probs, reward, discount, atoms):
    """Bellemare et al. (2017), Algorithm 1, one sample at a time, with the l == u case handled."""
    num_atoms = len(atoms)
    delta = atoms[1] - atoms[0]
    projected = np.zeros(num_atoms)
    for j in range(num_atoms):
        tz = min(max(reward + discount * atoms[j], atoms[0]), atoms[-1])
        b = min(max((tz - atoms[0]) / delta, 0.0), num_atoms - 1.0)
        lower, upper = math.floor(b), math.ceil(b)
        if lower == upper:
            projected[lower] += next_probs[j]
        else:
            projected[lower] += next_probs[j] * (upper - b)
            projected[upper] += next_probs[j] * (b - lower)
    return projected


def float32_resolves(support) -> bool:
    """The construction-time rule of the losses (identity transform): bins span >= MIN_ULPS_PER_BIN float32 steps."""
    v_min, v_max, num_bins = support
    return (v_max - v_min) / num_bins >= MIN_ULPS_PER_BIN * 2.0**-23 * max(abs(v_min), abs(v_max))


supports = (
    st.tuples(
        st.floats(-1000, 1000, allow_nan=False),
        st.floats(0.1, 2000, allow_nan=False),
        st.integers(2, 256),
    )
    .map(lambda t: (t[0], t[0] + t[1], t[2]))
    .filter(float32_resolves)
)


@pytest.mark.parametrize("name", SCALAR_LOSSES)
@settings(max_examples=40, deadline=None)
@given(support=supports, targets=st.lists(st.floats(-5000, 5000, allow_nan=False), min_size=1, max_size=16))
def test_target_probs_are_distributions(name, support, targets):
    v_min, v_max, num_bins = support
    loss = make_loss(name, v_min=v_min, v_max=v_max, num_bins=num_bins)
    target = loss.target(th.tensor(targets, dtype=th.float64))
    assert target.probs.shape == (len(targets), num_bins)
    assert (target.probs >= 0).all()
    th.testing.assert_close(target.probs.sum(-1), th.ones(len(targets), dtype=th.float64))
    low, high = loss.value_range  # return units
    expected_clipped = [(y < low) or (y > high) for y in targets]
    assert target.clipped.tolist() == expected_clipped


@settings(max_examples=60, deadline=None)
@given(
    support=supports,
    sigma_ratio=st.floats(0.05, 5.0),
    y=st.floats(-5000, 5000, allow_nan=False),
)
def test_hl_gauss_matches_gaussian_cdf_formula(support, sigma_ratio, y):
    v_min, v_max, num_bins = support
    assume(sigma_ratio <= max(2.0, num_bins / 4))  # the accepted range
    loss = HLGaussLoss(v_min=v_min, v_max=v_max, num_bins=num_bins, sigma_ratio=sigma_ratio)
    expected = reference_hl_gauss(y, v_min, v_max, num_bins, sigma_ratio * (v_max - v_min) / num_bins)
    np.testing.assert_allclose(loss.to_probs(th.tensor([y], dtype=th.float64))[0].numpy(), expected, atol=1e-9)


def test_hl_gauss_default_sigma_is_three_quarters_of_bin_width():
    loss = make_loss("hl_gauss", v_min=-10, v_max=10, num_bins=51)
    assert loss.sigma == pytest.approx(0.75 * 20 / 51)
    absolute = make_loss("hl_gauss", v_min=-10, v_max=10, num_bins=51, sigma=0.2)
    assert absolute.sigma == pytest.approx(0.2) and absolute.sigma_ratio == pytest.approx(0.2 * 51 / 20)


@settings(max_examples=60, deadline=None)
@given(support=supports, u=st.floats(0.0, 1.0))
def test_hl_gauss_expectation_recovers_in_range_target(support, u):
    """Tolerance: for y at least 4 sigma inside the support, the expectation of the binned Gaussian
    differs from y by the truncated tail mass times the range, Phi(-4) (v_max - v_min), plus the
    discretisation (aliasing) error of a Gaussian sampled at bin centres, bounded by
    2 w exp(-2 pi^2 sigma^2 / w^2) (Poisson summation), plus float64 rounding."""
    v_min, v_max, num_bins = support
    loss = HLGaussLoss(v_min=v_min, v_max=v_max, num_bins=num_bins)
    margin = 4 * loss.sigma
    if v_max - v_min <= 2 * margin:
        return
    y = v_min + margin + u * (v_max - v_min - 2 * margin)
    probs = loss.to_probs(th.tensor([y], dtype=th.float64))[0]
    decoded = float((probs * loss.bin_centers(th.float64)).sum())
    width = loss.bin_width
    phi_minus_4 = 0.5 * math.erfc(4 / math.sqrt(2))
    tolerance = (
        phi_minus_4 * (v_max - v_min)
        + 2 * width * math.exp(-2 * math.pi**2 * (loss.sigma / width) ** 2)
        + 1e-6 * (abs(v_min) + abs(v_max))
    )
    assert abs(decoded - y) <= tolerance


def test_hl_gauss_edge_bias_points_inwards():
    """The documented pitfall: a target at the edge decodes inwards (about 9.73 on the Atari grid)."""
    loss = make_loss("hl_gauss", v_min=-10, v_max=10, num_bins=51, value_transform="identity")
    assert float(loss.to_value(th.log(loss.to_probs(th.tensor([10.0]))))[0]) == pytest.approx(9.73, abs=0.01)


@settings(max_examples=60, deadline=None)
@given(support=supports, y=st.floats(-5000, 5000, allow_nan=False))
def test_two_hot_is_exact(support, y):
    v_min, v_max, num_bins = support
    loss = make_loss("two_hot", v_min=v_min, v_max=v_max, num_bins=num_bins)
    probs = loss.to_probs(th.tensor([y], dtype=th.float64))[0]
    centers = loss.bin_centers(th.float64)
    clipped = min(max(y, float(centers[0])), float(centers[-1]))
    assert float((probs * centers).sum()) == pytest.approx(clipped, abs=1e-6 * (1 + abs(clipped)))
    nonzero = th.nonzero(probs > 1e-12).flatten()
    assert 1 <= len(nonzero) <= 2
    if len(nonzero) == 2:
        assert int(nonzero[1] - nonzero[0]) == 1


@settings(max_examples=40, deadline=None)
@given(
    num_bins=st.integers(2, 64),
    rewards=st.lists(st.floats(-30, 30, allow_nan=False), min_size=1, max_size=8),
    gamma=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**16),
)
def test_c51_projection_matches_reference_and_conserves_mass(num_bins, rewards, gamma, seed):
    loss = make_loss("c51", v_min=-10, v_max=10, num_bins=num_bins)
    generator = th.Generator().manual_seed(seed)
    next_logits = th.randn(len(rewards), num_bins, generator=generator, dtype=th.float64)
    dones = th.randint(0, 2, (len(rewards),), generator=generator).double()
    discounts = gamma * (1 - dones)
    target = loss.td_target(th.tensor(rewards, dtype=th.float64), discounts, next_logits)
    th.testing.assert_close(target.probs.sum(-1), th.ones(len(rewards), dtype=th.float64))
    atoms = loss.bin_centers(th.float64).numpy()
    next_probs = th.softmax(next_logits, -1).numpy()
    for i, reward in enumerate(rewards):
        expected = reference_c51(next_probs[i], reward, float(discounts[i]), atoms)
        np.testing.assert_allclose(target.probs[i].numpy(), expected, atol=1e-6)


def test_c51_projection_keeps_mass_when_atoms_land_on_support_points():
    """r = 0 and discount = 1 map every atom onto itself (lower == upper): the projection is the identity."""
    loss = make_loss("c51", v_min=-10, v_max=10, num_bins=51)
    next_logits = th.randn(4, 51, dtype=th.float64)
    target = loss.td_target(th.zeros(4, dtype=th.float64), th.ones(4, dtype=th.float64), next_logits)
    th.testing.assert_close(target.probs, th.softmax(next_logits, -1))


@pytest.mark.parametrize("name", ["hl_gauss", "two_hot", "c51"])
def test_cross_entropy_gradient_is_softmax_minus_target(name):
    loss = make_loss(name, v_min=-5, v_max=5, num_bins=21)
    logits = th.randn(8, 21, dtype=th.float64, requires_grad=True)
    target = loss.target(th.linspace(-7, 7, 8, dtype=th.float64))
    loss(logits, target).backward()
    expected = (th.softmax(logits.detach(), -1) - target.probs) / 8  # mean over the batch
    th.testing.assert_close(logits.grad, expected)


def test_cross_entropy_value_matches_definition():
    loss = make_loss("hl_gauss", v_min=0, v_max=1, num_bins=8)
    logits = th.randn(5, 8, dtype=th.float64)
    targets = th.rand(5, dtype=th.float64)
    probs = loss.to_probs(targets)
    expected = -(probs * th.log(th.softmax(logits, -1))).sum(-1).mean()
    th.testing.assert_close(loss(logits, targets), expected)


def test_categorical_mse_ablation_is_mse_on_expected_value():
    loss = make_loss("categorical_mse", v_min=-10, v_max=10, num_bins=51)
    logits = th.randn(6, 51, dtype=th.float64)
    targets = th.linspace(-3, 3, 6, dtype=th.float64)
    expected = 0.5 * ((th.softmax(logits, -1) * loss.bin_centers(th.float64)).sum(-1) - targets).pow(2).mean()
    th.testing.assert_close(loss(logits, targets), expected)


@pytest.mark.parametrize("name", SCALAR_LOSSES)
def test_a_target_without_probs_has_the_same_value_and_clip_mask(name):
    """target(..., with_probs=False) leaves out only the probabilities; categorical_mse, which reads only the value,
    gives the same loss from either target (and the on-policy algorithms build it without them)."""
    loss = make_loss(name, v_min=-10, v_max=10, num_bins=11)
    targets = th.linspace(-12, 12, 7)
    full, value_only = loss.target(targets), loss.target(targets, with_probs=False)
    assert value_only.probs is None
    th.testing.assert_close(value_only.value, full.value, rtol=0, atol=0)
    assert th.equal(value_only.clipped, full.clipped) and int(full.clipped.sum()) == 2
    if not loss.uses_target_probs:
        logits = th.randn(7, 11)
        th.testing.assert_close(loss(logits, value_only), loss(logits, full), rtol=0, atol=0)
        th.testing.assert_close(loss(logits, targets), loss(logits, full), rtol=0, atol=0)
    assert loss.uses_target_probs == (name != "categorical_mse")


def test_the_on_policy_default_builds_no_labels(monkeypatch):
    """HLGaussPPO's default loss (categorical_mse) reads only the clipped return: no label is built in train()."""
    from sb3_hlgauss import HLGaussPPO
    from sb3_hlgauss.common.losses import CategoricalMSELoss

    model = HLGaussPPO("MlpPolicy", "CartPole-v1", n_steps=32, batch_size=16, n_epochs=1, seed=0, device="cpu")
    assert isinstance(model.value_loss, CategoricalMSELoss)
    calls = []
    monkeypatch.setattr(CategoricalMSELoss, "_target_probs", lambda self, *a: calls.append(1) or th.zeros(()))
    model.learn(64)
    assert calls == [] and np.isfinite(model.logger.name_to_value["train/value_loss"])


@pytest.mark.parametrize("name", SCALAR_LOSSES)
@pytest.mark.parametrize("dtype", [th.float32, th.float64])
def test_any_batch_shape_and_dtype(name, dtype):
    loss = make_loss(name, v_min=-10, v_max=10, num_bins=11)
    targets = th.linspace(-12, 12, 24, dtype=dtype).reshape(2, 3, 4)
    target = loss.target(targets)
    assert target.probs.shape == (2, 3, 4, 11) and target.probs.dtype == dtype
    logits = th.zeros(2, 3, 4, 11, dtype=dtype)
    values = loss.to_value(logits)
    assert values.shape == (2, 3, 4) and values.dtype == dtype
    # Uniform logits decode to the middle of the support.
    th.testing.assert_close(values, th.zeros_like(values))
    assert loss(logits, target).shape == ()


def test_half_precision_targets_are_built_in_float32():
    loss = make_loss("hl_gauss", v_min=-10, v_max=10, num_bins=51)
    assert loss.to_probs(th.tensor([1.0], dtype=th.bfloat16)).dtype == th.float32


@pytest.mark.parametrize("name", ["hl_gauss", "two_hot"])
def test_symlog_transform(name):
    loss = make_loss(name, v_min=-1e4, v_max=1e4, num_bins=101, value_transform="symlog")
    transform = make_value_transform("symlog")
    values = th.tensor([-5000.0, -30.0, -1.0, 0.0, 0.5, 42.0, 9000.0], dtype=th.float64)
    th.testing.assert_close(transform.inverse(transform.forward(values)), values)
    # The support's edges are uniform in symlog units and its ends are v_min / v_max in return units.
    th.testing.assert_close(transform.inverse(loss.bin_edges(th.float64)[[0, -1]]), th.tensor([-1e4, 1e4], dtype=th.float64))
    if name == "two_hot":  # exact: the split is linear in return units, between the atoms h^-1(c_i)
        th.testing.assert_close(loss.to_probs(values) @ loss.atoms(th.float64), values)
    assert not loss.target(values).clipped.any()
    assert loss.target(th.tensor([2e4])).clipped.all()


def test_td_target_is_reward_plus_discounted_expected_value():
    loss = make_loss("two_hot", v_min=-10, v_max=10, num_bins=41)
    next_logits = th.randn(3, 41, dtype=th.float64)
    rewards = th.tensor([[1.0], [-0.5], [0.0]], dtype=th.float64)
    discounts = th.tensor([[0.99], [0.0], [0.9]], dtype=th.float64)
    target = loss.td_target(rewards, discounts, next_logits)
    expected = rewards.flatten() + discounts.flatten() * loss.to_value(next_logits)
    th.testing.assert_close(target.value, expected)



@pytest.mark.parametrize("name", ["hl_gauss", "two_hot", "categorical_mse"])
def test_td_target_from_next_values_alone_matches_the_one_from_logits(name):
    loss = make_loss(name, v_min=-10, v_max=10, num_bins=41)
    next_logits = th.randn(5, 41, dtype=th.float64)
    rewards, discounts = th.randn(5, 1, dtype=th.float64), th.rand(5, 1, dtype=th.float64)
    from_logits = loss.td_target(rewards, discounts, next_logits)
    from_values = loss.td_target(rewards, discounts, None, next_values=loss.to_value(next_logits))
    for a, b in zip(from_logits, from_values):
        th.testing.assert_close(a, b)


def test_distributional_td_target_needs_the_next_distribution():
    loss = make_loss("c51", v_min=-10, v_max=10, num_bins=41)
    with pytest.raises(ValueError, match="distributional: td_target needs next_logits"):
        loss.td_target(th.zeros(3), 0.99, None, next_values=th.zeros(3))
    with pytest.raises(ValueError, match="needs next_logits or next_values"):
        make_loss("hl_gauss").td_target(th.zeros(3), 0.99, None)


def test_finite_targets_near_float_max_are_not_mistaken_for_non_finite():
    # Their sum overflows to inf: the exact check must still accept them (and clip them).
    loss = make_loss("hl_gauss", v_min=-10, v_max=10, num_bins=21)
    target = loss.target(th.full((4,), 3e38))
    assert target.clipped.all() and th.isfinite(target.probs).all()


# ------------------------------------------------------------------ bad input
def test_unknown_loss_lists_registered_ones():
    with pytest.raises(ValueError, match=r"Unknown loss 'hl_gauss_typo'.*hl_gauss.*two_hot"):
        make_loss("hl_gauss_typo")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(v_min=1.0, v_max=1.0), r"v_min must be < v_max, got v_min=1.0 >= v_max=1.0"),
        (dict(v_min=5.0, v_max=-5.0), r"v_min must be < v_max"),
        (dict(v_min=float("-inf")), r"must be finite"),
        (dict(num_bins=1), r"num_bins must be an integer >= 2, got 1"),
        (dict(sigma_ratio=0.0), r"sigma_ratio=0.0; it must lie in \[0.001, 12.75\] bin widths"),
        (dict(sigma_ratio=-1.0), r"sigma_ratio=-1.0; it must lie in"),
        (dict(sigma=-0.1), r"sigma must be a finite number > 0"),
        (dict(sigma=20.0), r"sigma=20 \(identity units, bin width 0.3922\) is sigma_ratio=51 bin widths"),
        (dict(sigma=0.1, sigma_ratio=0.75), r"both sigma=0.1 and sigma_ratio=0.75"),
        (dict(v_min=15.0, v_max=15.000001), r"finer than float32 can resolve"),
        (dict(v_min=-1e39, v_max=1e39), r"reaches beyond \+-1e\+18"),
        (dict(value_transform="log"), r"Unknown value_transform 'log'.*identity.*symlog"),
    ],
)
def test_bad_settings_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_loss("hl_gauss", **kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(num_bins=2.5), r"num_bins must be an integer >= 2, got 2.5 \(float\)"),
        (dict(num_bins=51.0), r"num_bins must be an integer >= 2, got 51.0 \(float\)"),
        (dict(num_bins="51"), r"num_bins must be an integer >= 2, got '51' \(str\)"),
        (dict(num_bins=True), r"num_bins must be an integer"),
        (dict(v_min="a"), r"v_min must be a real number, got 'a' \(str\)"),
        (dict(v_max=None), r"v_max must be a real number, got None"),
        (dict(sigma_ratio="0.75"), r"sigma_ratio must be a real number, got '0.75' \(str\)"),
    ],
)
def test_settings_of_the_wrong_type_are_named(kwargs, match):
    with pytest.raises(TypeError, match=match):
        HLGaussLoss(**kwargs)


@pytest.mark.parametrize("name", SCALAR_LOSSES)
def test_empty_batch_is_an_error_not_a_nan_loss(name):
    loss = make_loss(name, v_min=-10, v_max=10, num_bins=11)
    with pytest.raises(ValueError, match="Empty batch"):
        loss(th.zeros(0, 11), th.zeros(0))


def test_argument_a_loss_does_not_take_is_an_error():
    with pytest.raises(ValueError, match=r"Loss 'two_hot' does not take \['sigma_ratio'\]"):
        make_loss("two_hot", sigma_ratio=0.5)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_targets_raise(bad):
    loss = make_loss("hl_gauss")
    with pytest.raises(ValueError, match=r"Non-finite TD targets \(1 of 3"):
        loss.target(th.tensor([0.0, bad, 1.0]))


def test_user_defined_loss_is_selectable_by_name():
    @register_loss("test_one_hot")
    class OneHot(ClassificationLoss):
        def _probs(self, transformed):
            index = ((transformed - self.edges[0]) / self.bin_width).long().clamp(0, self.num_bins - 1)
            return th.nn.functional.one_hot(index, self.num_bins).to(transformed.dtype)

    try:
        assert "test_one_hot" in available_losses()
        loss = make_loss("test_one_hot", v_min=0, v_max=10, num_bins=10)
        assert isinstance(loss, OneHot)
        assert loss.to_probs(th.tensor([3.5])).argmax().item() == 3
        assert isinstance(loss.target(th.tensor([3.5])), TDTarget)
    finally:
        LOSSES.pop("test_one_hot")


def test_register_rejects_non_loss_classes():
    with pytest.raises(TypeError, match="ClassificationLoss subclass"):
        register_loss("nope")(dict)


def test_c51_shifts_the_distribution_to_given_next_values():
    """SAC folds -alpha log pi into V(s'): C51 moves the whole next distribution by that offset."""
    loss = make_loss("c51", v_min=-20, v_max=20, num_bins=81, value_transform="identity")
    next_logits = -((th.arange(81, dtype=th.float64) - 40.0) ** 2 / 20.0).expand(3, 81)  # mass near 0
    offset = th.tensor([-1.5, 0.0, 2.25], dtype=th.float64)
    next_values = loss.to_value(next_logits) + offset
    rewards = th.tensor([0.5, -1.0, 0.0], dtype=th.float64)
    discounts = th.tensor([0.9, 0.9, 0.0], dtype=th.float64)
    target = loss.td_target(rewards, discounts, next_logits, next_values=next_values)
    decoded = (target.probs * loss.bin_centers(th.float64)).sum(-1)
    th.testing.assert_close(decoded, rewards + discounts * next_values)
    without = loss.td_target(rewards, discounts, next_logits)
    th.testing.assert_close((without.probs * loss.bin_centers(th.float64)).sum(-1), rewards + discounts * loss.to_value(next_logits))

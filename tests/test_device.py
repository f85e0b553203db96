"""Every tensor a loss or a critic creates follows the module's device, checked without a GPU.

On a GPU, a tensor created on the CPU (a factory call without ``device=``) fails as soon as it meets the
model's tensors; CI has no GPU, so two CPU-runnable checks stand in for it:

- a loss moved to PyTorch's ``meta`` device (shapes and dtypes, no data) runs ``target``, ``td_target``,
  ``to_value`` and its forward and backward on meta tensors: any tensor it creates elsewhere meets a meta
  one and fails. Meta tensors have no values, so :class:`MetaScalars` answers ``.item()`` (the loss's
  finiteness check) with 0;
- an algorithm built on the CPU learns with ``meta`` as the default device of tensor factories: a tensor
  created on the default device instead of its inputs' meets a CPU one and fails.

``tests/test_cuda.py`` runs the same paths on a real GPU where one is present.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch as th
from torch.utils._python_dispatch import TorchDispatchMode

from sb3_hlgauss import (
    HLGaussA2C,
    HLGaussDQN,
    HLGaussLoss,
    HLGaussPPO,
    HLGaussSAC,
    HLGaussTD3,
    available_losses,
    get_loss_class,
    make_loss,
)

LOSS_NAMES = available_losses()
TRANSFORMS = ["identity", "symlog"]
ON_POLICY = (HLGaussPPO, HLGaussA2C)
#: Each algorithm, an env it takes, and settings that train within a few dozen steps.
ALGOS: dict[type, tuple[str, dict[str, Any]]] = {
    HLGaussDQN: ("CartPole-v1", dict(learning_starts=16, buffer_size=100, batch_size=8, train_freq=4)),
    HLGaussSAC: ("Pendulum-v1", dict(learning_starts=16, buffer_size=100, batch_size=8, train_freq=4)),
    HLGaussTD3: ("Pendulum-v1", dict(learning_starts=16, buffer_size=100, batch_size=8, train_freq=4, policy_delay=1)),
    HLGaussPPO: ("CartPole-v1", dict(n_steps=16, batch_size=8, n_epochs=1)),
    HLGaussA2C: ("CartPole-v1", dict(n_steps=8)),
}


def _accepted_losses(algo: type) -> list[str]:
    """The registered losses ``algo`` takes: on-policy algorithms refuse distributional ones (C51)."""
    return [name for name in LOSS_NAMES if not (algo in ON_POLICY and get_loss_class(name).distributional)]


ALGO_CASES = [
    pytest.param(algo, loss, transform, id=f"{algo.__name__}-{loss}-{transform}")
    for algo in ALGOS
    for loss in _accepted_losses(algo)
    for transform in TRANSFORMS
]


class MetaScalars(TorchDispatchMode):
    """Answers ``.item()`` (and ``bool``/``float`` of a one-element tensor) on a meta tensor with 0 (``False``
    for booleans), so that code which reads a scalar runs on the meta device; everything else is unchanged."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        if func is th.ops.aten._local_scalar_dense.default and args[0].is_meta:
            dtype = args[0].dtype
            return False if dtype is th.bool else 0.0 if dtype.is_floating_point else 0
        return func(*args, **(kwargs or {}))


@pytest.fixture(autouse=True)
def _one_thread():
    th.set_num_threads(1)


@pytest.mark.parametrize("dtype", [th.float32, th.float64], ids=str)
@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("name", LOSS_NAMES)
def test_loss_runs_on_the_device_it_was_moved_to(name, transform, dtype):
    num_bins = 41
    loss = make_loss(name, v_min=-1e4, v_max=1e4, num_bins=num_bins, value_transform=transform).to("meta")
    assert all(buffer.device.type == "meta" for buffer in loss.buffers())
    rewards = th.randn(16, dtype=dtype, device="meta")
    discounts = th.rand(16, dtype=dtype, device="meta")
    next_logits = th.randn(16, num_bins, dtype=dtype, device="meta")
    logits = th.randn(16, num_bins, dtype=dtype, device="meta", requires_grad=True)
    with MetaScalars():
        target = loss.target(rewards)
        td_target = loss.td_target(rewards, discounts, next_logits)
        scalar_td_target = loss.td_target(rewards, 0.99, None, next_values=rewards) if not loss.distributional else td_target
        value = loss.to_value(logits)
        loss_value = loss(logits, td_target) + loss(logits, target) + loss(logits, rewards)
        loss_value.backward()
    for out in (*target, *td_target, *scalar_td_target, value, loss_value, logits.grad):
        assert out.device.type == "meta"
    assert target.probs.dtype == td_target.probs.dtype == value.dtype == dtype
    assert target.probs.shape == td_target.probs.shape == (16, num_bins)


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_hl_gauss_centre_table_is_a_buffer_built_at_construction(transform):
    # The mean-correcting table of a non-identity transform: solved once, on the CPU, and moved with the loss.
    loss = make_loss("hl_gauss", v_min=-1e4, v_max=1e4, num_bins=101, value_transform=transform)
    assert isinstance(loss, HLGaussLoss)
    buffers = dict(loss.named_buffers())
    if transform == "identity":
        assert "_centre_offsets" not in buffers  # the paper's label: no correction
        return
    table = buffers["_centre_offsets"]
    assert table.shape == (HLGaussLoss.CENTRE_TABLE_POINTS_PER_BIN * 101 + 1,) and bool(th.isfinite(table).all())
    assert "_centre_offsets" not in loss.state_dict()  # rebuilt from the settings, never read from a file
    assert loss.to("meta")._centre_offsets.device.type == "meta"


@pytest.mark.parametrize("algo, loss, transform", ALGO_CASES)
def test_algorithm_creates_its_tensors_on_the_model_device(algo, loss, transform):
    env, settings = ALGOS[algo]
    model = algo(
        "MlpPolicy", env, loss=loss, value_transform=transform, policy_kwargs=dict(net_arch=[8]), device="cpu", seed=0,
        **settings,
    )
    if loss == "hl_gauss" and transform != "identity":
        assert model.value_loss._centre_offsets is not None  # solved when the critic is built
    # Rollouts, targets, losses and updates, with every tensor created without a device landing on meta.
    with th.device("meta"):
        model.learn(48)
    assert model.logger.name_to_value["train/n_updates"] > 0
    assert all(tensor.device.type == "cpu" for tensor in model.policy.state_dict().values())
    # The policy carries its loss's tables to its device (a running return scale's statistics, a submodule,
    # stay on the CPU by design).
    model.policy.to("meta")
    assert model.policy.value_loss is model.value_loss
    assert all(buffer.device.type == "meta" for buffer in model.value_loss.buffers(recurse=False))

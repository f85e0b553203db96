"""CPU execution settings of the algorithms: fused Adam and denormals flushed during training."""

import pytest
import torch as th

from sb3_hlgauss import HLGaussDQN, HLGaussSAC, HLGaussTD3
from sb3_hlgauss.common.policies import default_optimizer_kwargs
from sb3_hlgauss.common.utils import denormals_are_flushed, flushed_denormals, flushes_denormals


@pytest.fixture(autouse=True)
def _denormals_as_default():
    th.set_flush_denormal(False)
    yield
    th.set_flush_denormal(False)


def test_flushed_denormals_flushes_inside_and_restores_after():
    denormal = th.tensor([1e-40], dtype=th.float64).float()  # made while denormals are kept
    assert not denormals_are_flushed() and denormal.item() > 0
    with flushed_denormals():
        assert denormals_are_flushed()
        assert (denormal * 1.0).item() == 0.0
    assert not denormals_are_flushed()
    assert (denormal * 1.0).item() > 0


def test_flushed_denormals_keeps_a_mode_the_user_set():
    th.set_flush_denormal(True)
    with flushed_denormals():
        pass
    assert denormals_are_flushed()


def test_flushes_denormals_restores_the_mode_when_training_raises():
    @flushes_denormals
    def failing_train():
        assert denormals_are_flushed()
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        failing_train()
    assert not denormals_are_flushed()


@pytest.mark.parametrize(
    "optimizer_class, kwargs, expected",
    [
        (th.optim.Adam, None, {"fused": True}),
        (th.optim.AdamW, {"eps": 1e-4}, {"eps": 1e-4, "fused": True}),
        (th.optim.Adam, {"foreach": True}, {"foreach": True}),  # the user's choice of implementation stays
        (th.optim.Adam, {"fused": False}, {"fused": False}),
        (th.optim.SGD, {"momentum": 0.9}, {"momentum": 0.9}),  # only Adam-family optimisers are fused
    ],
)
def test_default_optimizer_kwargs(optimizer_class, kwargs, expected):
    assert default_optimizer_kwargs(optimizer_class, kwargs) == expected


def test_algorithms_train_with_fused_adam_and_leave_denormal_mode_untouched():
    dqn = HLGaussDQN("MlpPolicy", "CartPole-v1", learning_starts=10, train_freq=1, seed=0)
    sac = HLGaussSAC("MlpPolicy", "Pendulum-v1", learning_starts=10, seed=0)
    td3 = HLGaussTD3("MlpPolicy", "Pendulum-v1", learning_starts=10, seed=0)
    for model, optimizers in [
        (dqn, [dqn.policy.optimizer]),
        (sac, [sac.actor.optimizer, sac.critic.optimizer]),
        (td3, [td3.actor.optimizer, td3.critic.optimizer]),
    ]:
        assert all(optimizer.param_groups[0]["fused"] for optimizer in optimizers)
        model.learn(40)
        assert model.logger.name_to_value["train/n_updates"] > 0
        assert not denormals_are_flushed()


def test_user_optimizer_settings_are_kept():
    model = HLGaussDQN(
        "MlpPolicy", "CartPole-v1", policy_kwargs=dict(optimizer_class=th.optim.SGD, optimizer_kwargs=dict(momentum=0.5))
    )
    assert isinstance(model.policy.optimizer, th.optim.SGD)
    assert "fused" not in model.policy.optimizer_kwargs


@pytest.mark.parametrize("algorithm, env_id", [(HLGaussDQN, "CartPole-v1"), (HLGaussSAC, "Pendulum-v1")])
def test_set_training_mode_reaches_every_module(algorithm, env_id):
    model = algorithm("MlpPolicy", env_id, policy_kwargs=dict(net_arch=[8]), seed=0)
    networks = [model.q_net] if algorithm is HLGaussDQN else [model.critic]
    for mode in (False, True, False):
        model.policy.set_training_mode(mode)
        assert all(module.training is mode for net in networks for module in net.modules())
    # A module switched behind the policy's back is switched back, not skipped.
    networks[0].modules().__next__().training = True
    list(networks[0].modules())[-1].train(True)
    model.policy.set_training_mode(False)
    assert not any(module.training for net in networks for module in net.modules())

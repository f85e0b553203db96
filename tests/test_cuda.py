"""GPU placement: losses, HLGaussDQN, HLGaussSAC, HLGaussTD3, HLGaussPPO and HLGaussA2C on CUDA (skipped without a GPU).

CI has no GPU, so these run only where one is present (``pytest tests/test_cuda.py``). They check what
a CPU test cannot: every tensor of the loss path follows the model to the device, a model trained on
the GPU saves and loads on the CPU with the same predictions, and the numerics match the CPU's.
``tests/test_device.py`` checks the device placement without a GPU (on PyTorch's meta device).
"""

import numpy as np
import pytest
import torch as th

from sb3_hlgauss import HLGaussA2C, HLGaussDQN, HLGaussPPO, HLGaussSAC, HLGaussTD3, available_losses, make_loss

pytestmark = pytest.mark.skipif(not th.cuda.is_available(), reason="needs a CUDA GPU")

BUILTIN_LOSSES = ["hl_gauss", "two_hot", "c51", "categorical_mse"]


@pytest.mark.parametrize("name", BUILTIN_LOSSES)
@pytest.mark.parametrize("dtype", [th.float32, th.float64])
@pytest.mark.parametrize("transform", ["identity", "symlog"])
def test_loss_on_gpu_matches_cpu(name, dtype, transform):
    assert name in available_losses()
    loss_cpu = make_loss(name, v_min=-20.0, v_max=30.0, num_bins=41, value_transform=transform)
    loss_gpu = make_loss(name, v_min=-20.0, v_max=30.0, num_bins=41, value_transform=transform).cuda()
    generator = th.Generator().manual_seed(0)
    rewards = th.randn(64, generator=generator, dtype=dtype) * 5
    discounts = th.rand(64, generator=generator, dtype=dtype)
    next_logits = th.randn(64, 41, generator=generator, dtype=dtype)
    logits = th.randn(64, 41, generator=generator, dtype=dtype, requires_grad=True)

    target_cpu = loss_cpu.td_target(rewards, discounts, next_logits)
    target_gpu = loss_gpu.td_target(rewards.cuda(), discounts.cuda(), next_logits.cuda())
    assert target_gpu.probs.device.type == "cuda" and target_gpu.probs.dtype == dtype
    tolerance = dict(rtol=1e-4, atol=1e-5) if dtype == th.float32 else dict(rtol=1e-9, atol=1e-11)
    th.testing.assert_close(target_gpu.probs.cpu(), target_cpu.probs, **tolerance)
    assert th.equal(target_gpu.clipped.cpu(), target_cpu.clipped)

    value_cpu = loss_cpu(logits, target_cpu)
    logits_gpu = logits.detach().cuda().requires_grad_(True)
    value_gpu = loss_gpu(logits_gpu, target_gpu)
    th.testing.assert_close(value_gpu.cpu(), value_cpu, **tolerance)
    value_cpu.backward()
    value_gpu.backward()
    th.testing.assert_close(logits_gpu.grad.cpu(), logits.grad, **tolerance)


def _assert_same_predictions(model, loaded, observations):
    actions, _ = model.predict(observations, deterministic=True)
    loaded_actions, _ = loaded.predict(observations, deterministic=True)
    np.testing.assert_allclose(loaded_actions, actions, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("loss", ["hl_gauss", "c51"])
def test_dqn_trains_on_gpu_and_loads_on_cpu(tmp_path, loss):
    model = HLGaussDQN(
        "MlpPolicy", "CartPole-v1", loss=loss, learning_starts=100, train_freq=1, target_update_interval=50,
        device="cuda", seed=0,
    )
    model.learn(400)
    assert model.value_loss.centers.device.type == "cuda"
    assert model.logger.name_to_value["train/n_updates"] > 0
    assert np.isfinite(model.logger.name_to_value["train/q_mean"])
    model.save(tmp_path / "dqn")
    loaded = HLGaussDQN.load(tmp_path / "dqn", device="cpu")
    assert loaded.value_loss.centers.device.type == "cpu" and loaded.loss == loss
    observations = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    q_gpu = model.q_net(model.q_net.obs_to_tensor(observations)[0])
    q_cpu = loaded.q_net(loaded.q_net.obs_to_tensor(observations)[0])
    th.testing.assert_close(q_cpu, q_gpu.cpu(), rtol=1e-4, atol=1e-4)
    _assert_same_predictions(model, loaded, observations)
    loaded.set_env(model.get_env())
    loaded.learn(100, reset_num_timesteps=False)  # continues on the CPU


@pytest.mark.parametrize("algorithm", [HLGaussSAC, HLGaussTD3])
def test_actor_critic_trains_on_gpu_and_loads_on_cpu(tmp_path, algorithm):
    model = algorithm("MlpPolicy", "Pendulum-v1", learning_starts=100, device="cuda", seed=0)
    model.learn(300)
    assert model.value_loss.centers.device.type == "cuda"
    assert np.isfinite(model.logger.name_to_value["train/critic_loss"])
    model.save(tmp_path / "model")
    loaded = algorithm.load(tmp_path / "model", device="cpu")
    observations = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32)
    _assert_same_predictions(model, loaded, observations)
    loaded.set_env(model.get_env())
    loaded.learn(100, reset_num_timesteps=False)


#: The default critic, and a symlog HL-Gauss one (its mean-correcting table of centres is a buffer of the loss).
ON_POLICY_SETTINGS = {"default": {}, "symlog": dict(v_min=-1e4, v_max=1e4, value_transform="symlog")}


@pytest.mark.parametrize("settings", ON_POLICY_SETTINGS.values(), ids=ON_POLICY_SETTINGS.keys())
@pytest.mark.parametrize("algorithm", [HLGaussPPO, HLGaussA2C])
def test_on_policy_trains_on_gpu_and_loads_on_cpu(tmp_path, algorithm, settings):
    model = algorithm("MlpPolicy", "CartPole-v1", n_steps=64, device="cuda", seed=0, **settings)
    model.learn(256)
    assert model.value_loss.centers.device.type == "cuda"
    assert all(buffer.device.type == "cuda" for buffer in model.value_loss.buffers(recurse=False))
    assert model.logger.name_to_value["train/n_updates"] > 0
    assert np.isfinite(model.logger.name_to_value["train/value_loss"])
    model.save(tmp_path / "model")
    loaded = algorithm.load(tmp_path / "model", device="cpu")
    assert loaded.value_loss.centers.device.type == "cpu"
    observations = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    values_gpu = model.policy.predict_values(model.policy.obs_to_tensor(observations)[0])
    values_cpu = loaded.policy.predict_values(loaded.policy.obs_to_tensor(observations)[0])
    th.testing.assert_close(values_cpu, values_gpu.cpu(), rtol=1e-4, atol=1e-4)
    _assert_same_predictions(model, loaded, observations)
    loaded.set_env(model.get_env())
    loaded.learn(2 * loaded.n_steps, reset_num_timesteps=False)  # continues on the CPU

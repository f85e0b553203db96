"""HLGaussTD3: runs, critic numerics, learning, round trips and errors (sb3-contrib style)."""

import math

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import SimpleMultiObsEnv
from stable_baselines3.common.noise import NormalActionNoise

from sb3_hlgauss import HLGaussSAC, HLGaussTD3
from sb3_hlgauss.common.continuous_critic import CategoricalContinuousCritic
from sb3_hlgauss.hlgauss_td3 import CnnPolicy, HLGaussTD3Policy, MlpPolicy, MultiInputPolicy
from tests.helpers import best_evaluation_return

LOSS_NAMES = ["hl_gauss", "two_hot", "c51", "categorical_mse"]


@pytest.fixture(autouse=True)
def _one_thread():
    th.set_num_threads(1)


def symlog(x: th.Tensor) -> th.Tensor:
    return th.sign(x) * th.log1p(x.abs())


def symexp(x: th.Tensor) -> th.Tensor:
    return th.sign(x) * th.expm1(x.abs())


def small_td3(env="Pendulum-v1", **kwargs) -> HLGaussTD3:
    settings = dict(
        num_bins=21, learning_starts=50, batch_size=16, buffer_size=1000,
        policy_kwargs=dict(net_arch=[32, 32]), seed=0,
    )
    settings.update(kwargs)
    return HLGaussTD3("MlpPolicy", env, **settings)


@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_run(loss):
    model = small_td3(loss=loss, v_min=-1700, v_max=100, value_transform="identity")
    model.learn(150)
    logits = model.critic(th.zeros(3, 3), th.zeros(3, 1))
    assert len(logits) == 2 and all(head.shape == (3, 21) for head in logits)
    assert model.logger.name_to_value["train/n_updates"] > 0


def test_policies_and_shared_critic():
    assert HLGaussTD3.policy_aliases == {"MlpPolicy": MlpPolicy, "CnnPolicy": CnnPolicy, "MultiInputPolicy": MultiInputPolicy}
    assert MlpPolicy is HLGaussTD3Policy
    model = small_td3()
    # SAC and TD3 share one critic class
    assert type(model.critic) is CategoricalContinuousCritic
    assert type(HLGaussSAC("MlpPolicy", "Pendulum-v1").critic) is CategoricalContinuousCritic
    env = SimpleMultiObsEnv(random_start=True, discrete_actions=False)
    model = HLGaussTD3("MultiInputPolicy", env, num_bins=11, buffer_size=200, batch_size=8, learning_starts=30, seed=0)
    model.learn(50)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(gradient_steps=2, train_freq=2, policy_delay=3),
        dict(n_steps=3),
        dict(action_noise=NormalActionNoise(np.zeros(1), 0.1 * np.ones(1))),
        dict(policy_kwargs=dict(net_arch=[16], share_features_extractor=True)),
    ],
)
def test_td3_options(kwargs):
    model = small_td3(**kwargs)
    model.learn(200)
    assert model._n_updates > 0


def test_vec_env_and_progress_bar():
    model = small_td3(env=make_vec_env("Pendulum-v1", n_envs=2, seed=0), train_freq=2, gradient_steps=2)
    model.learn(200, progress_bar=True)
    assert model.num_timesteps >= 200


@pytest.mark.parametrize("transform", ["identity", "symlog"])
def test_critic_loss_is_cross_entropy_against_smoothed_td_target(transform):
    """Loss = sum over heads of the cross-entropy against HL-Gauss probabilities of
    y = r + gamma (1 - done) min_j Q'_j(s', clip(mu'(s') + clip(eps, -c, c), -1, 1)), computed here,
    both from the shared critic loss and as logged by train()."""
    v_min, v_max, num_bins, gamma = -60.0, 20.0, 21, 0.9
    model = small_td3(
        v_min=v_min, v_max=v_max, gamma=gamma, value_transform=transform, target_policy_noise=0.3, target_noise_clip=0.4
    )
    forward, inverse = (symlog, symexp) if transform == "symlog" else (lambda x: x, lambda x: x)
    model.learn(60)
    th.manual_seed(1)
    batch = model.replay_buffer.sample(8)
    with th.no_grad():
        for param in model.critic_target.parameters():
            param.add_(0.3 * th.randn_like(param))
    low, high = forward(th.tensor([v_min, v_max], dtype=th.float64)).tolist()
    edges = th.linspace(low, high, num_bins + 1, dtype=th.float64)
    centers = (edges[:-1] + edges[1:]) / 2
    sigma = 0.75 * (high - low) / num_bins

    th.manual_seed(7)  # the smoothing noise of train()
    with th.no_grad():
        noise = th.empty_like(batch.actions).normal_(0, 0.3).clamp(-0.4, 0.4)
        next_actions = (model.actor_target(batch.next_observations) + noise).clamp(-1, 1)
        # Q-values: the means of the heads' distributions in return units, over the atoms h^-1(c_i)
        next_q = th.stack(
            [(th.softmax(h.double(), -1) * inverse(centers)).sum(-1) for h in model.critic_target(batch.next_observations, next_actions)],
            dim=1,
        ).min(dim=1).values
        y = batch.rewards.flatten().double() + gamma * (1 - batch.dones.flatten().double()) * next_q
        if transform == "identity":
            z = y.clamp(low, high).unsqueeze(-1)
            cdf = 0.5 * (1 + th.erf((edges - z) / (sigma * math.sqrt(2))))
            probs = (cdf[:, 1:] - cdf[:, :-1]) / (cdf[:, -1:] - cdf[:, :1])
        else:
            # symlog: the Gaussian's centre is moved so that the label's mean over the atoms is y
            # (test_losses checks that construction): take the loss's label of y.
            probs = model.value_loss.to_probs(y.float()).double()
        expected = sum(
            -(probs * th.log_softmax(h.double(), -1)).sum(-1).mean() for h in model.critic(batch.observations, batch.actions)
        )
    loss_value, target, _ = model._critic_loss(batch, next_actions)
    assert loss_value.item() == pytest.approx(float(expected), rel=1e-4, abs=1e-5)
    th.testing.assert_close(target.value.double().flatten(), y.clamp(v_min, v_max), rtol=1e-5, atol=1e-4)
    model.critic.optimizer.zero_grad()
    loss_value.backward()
    for q_net in model.critic.q_networks:
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in q_net.parameters())
    model.critic.optimizer.zero_grad()

    # train() computes the same critic loss (same smoothed a')
    model.replay_buffer.sample = lambda *args, **kwargs: batch  # type: ignore[method-assign]
    th.manual_seed(7)
    model.train(gradient_steps=1, batch_size=8)
    assert model.logger.name_to_value["train/critic_loss"] == pytest.approx(float(expected), rel=1e-4, abs=1e-5)


def test_delayed_actor_updates():
    model = small_td3(policy_delay=2, learning_starts=40)
    model.learn(41)  # fills the buffer, one update
    actor_before = [p.clone() for p in model.actor.parameters()]
    model.train(gradient_steps=1, batch_size=8)  # update 2: actor updated
    assert any(not th.equal(a, b) for a, b in zip(actor_before, model.actor.parameters()))
    actor_before = [p.clone() for p in model.actor.parameters()]
    model.train(gradient_steps=1, batch_size=8)  # update 3: critic only
    assert all(th.equal(a, b) for a, b in zip(actor_before, model.actor.parameters()))


@pytest.mark.slow
def test_learns_pendulum():
    """Default support (symlog, [-1e4, 1e4], 101 bins): HLGaussTD3 learns Pendulum-v1."""
    model = HLGaussTD3(
        "MlpPolicy", "Pendulum-v1", learning_rate=1e-3, batch_size=128, learning_starts=500,
        action_noise=NormalActionNoise(np.zeros(1), 0.1 * np.ones(1)), policy_kwargs=dict(net_arch=[64, 64]), seed=0,
    )
    # Seeds 0, 1, 2 reached -147, -167, -180 after 7000 steps (TD3 is noisier than SAC before that).
    assert best_evaluation_return(model, "Pendulum-v1", 12_000, threshold=-400, eval_freq=1_000) >= -400


def test_save_load(tmp_path):
    model = small_td3(loss="c51", num_bins=31, v_min=-1700, v_max=50, value_transform="identity")
    model.learn(200)
    obs = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    actions, _ = model.predict(obs, deterministic=True)
    obs_t, act_t = th.as_tensor(obs), th.as_tensor(actions)
    q_values = model.critic.q_values(obs_t, act_t).detach()
    model.save(tmp_path / "model.zip")
    model.save_replay_buffer(tmp_path / "buffer.pkl")
    del model

    loaded = HLGaussTD3.load(tmp_path / "model.zip", env=gym.make("Pendulum-v1"))
    assert (loaded.loss, loaded.num_bins, loaded.v_min, loaded.v_max, loaded.value_transform) == (
        "c51", 31, -1700, 50, "identity",
    )
    assert type(loaded.value_loss).__name__ == "C51Loss" and loaded.critic.value_loss is loaded.value_loss
    np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], actions)
    th.testing.assert_close(loaded.critic.q_values(obs_t, act_t).detach(), q_values)

    loaded.load_replay_buffer(tmp_path / "buffer.pkl")
    assert loaded.replay_buffer.size() == 200
    n_updates = loaded._n_updates
    loaded.learn(100, reset_num_timesteps=False)
    assert loaded._n_updates > n_updates and loaded.num_timesteps >= 300


def test_policy_save_load(tmp_path):
    model = small_td3(num_bins=17, sigma_ratio=0.5)
    obs = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    model.policy.save(tmp_path / "policy.pkl")
    policy = HLGaussTD3Policy.load(tmp_path / "policy.pkl")
    assert policy.value_loss.sigma_ratio == 0.5 and policy.value_loss.num_bins == 17
    np.testing.assert_array_equal(policy.predict(obs)[0], model.policy.predict(obs)[0])


def test_clipped_targets_are_logged():
    model = small_td3(v_min=-2, v_max=2, value_transform="identity", num_bins=11)
    model.learn(400)
    assert model.n_clipped_targets > 0 and model.logger.name_to_value["train/target_clip_fraction"] > 0


def test_discrete_actions_point_to_dqn():
    with pytest.raises(ValueError, match="HLGaussDQN"):
        HLGaussTD3("MlpPolicy", "CartPole-v1")


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(loss="mse"), "Unknown loss"), (dict(v_min=1, v_max=1), "v_min"), (dict(value_transform="log"), "log")],
)
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HLGaussTD3("MlpPolicy", "Pendulum-v1", **kwargs)

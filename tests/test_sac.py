"""HLGaussSAC: runs, critic numerics, learning, round trips, logging and errors (sb3-contrib style)."""

import math

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
import torch as th
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import FakeImageEnv, SimpleMultiObsEnv
from stable_baselines3.common.logger import configure

from sb3_hlgauss import HLGaussSAC
from sb3_hlgauss.common.continuous_critic import CategoricalContinuousCritic
from sb3_hlgauss.hlgauss_sac import CnnPolicy, HLGaussSACPolicy, MlpPolicy, MultiInputPolicy
from tests.helpers import best_evaluation_return

LOSS_NAMES = ["hl_gauss", "two_hot", "c51", "categorical_mse"]


@pytest.fixture(autouse=True)
def _one_thread():
    th.set_num_threads(1)


# ----------------------------------------------------------------- independent formulas
def symlog(x: th.Tensor) -> th.Tensor:
    return th.sign(x) * th.log1p(x.abs())


def symexp(x: th.Tensor) -> th.Tensor:
    return th.sign(x) * th.expm1(x.abs())


def grid(v_min: float, v_max: float, num_bins: int, transform) -> tuple[th.Tensor, th.Tensor]:
    """Edges and centres of the canonical support, in transformed units (float64)."""
    low, high = transform(th.tensor([v_min, v_max], dtype=th.float64)).tolist()
    edges = th.linspace(low, high, num_bins + 1, dtype=th.float64)
    return edges, (edges[:-1] + edges[1:]) / 2


def expected_value(logits: th.Tensor, centers: th.Tensor, inverse) -> th.Tensor:
    """The critic's value: the mean of its distribution in return units, over the atoms h^-1(c_i)."""
    return (th.softmax(logits.double(), -1) * inverse(centers)).sum(-1)


def hl_gauss_probs(y: th.Tensor, edges: th.Tensor, sigma: float) -> th.Tensor:
    """Mass of N(y, sigma^2) in each bin, renormalised to the support (Imani & White, 2018)."""
    y = y.clamp(float(edges[0]), float(edges[-1])).unsqueeze(-1)
    cdf = 0.5 * (1 + th.erf((edges - y) / (sigma * math.sqrt(2))))
    return (cdf[..., 1:] - cdf[..., :-1]) / (cdf[..., -1:] - cdf[..., :1])


def two_hot_probs(y: th.Tensor, atoms: th.Tensor) -> th.Tensor:
    """All mass on the two atoms around y (return units), with mean y."""
    y = y.clamp(float(atoms[0]), float(atoms[-1]))
    upper = th.searchsorted(atoms, y.contiguous(), right=True).clamp(1, len(atoms) - 1)
    lower = upper - 1
    w_upper = (y - atoms[lower]) / (atoms[upper] - atoms[lower])
    probs = th.zeros(*y.shape, len(atoms), dtype=th.float64)
    probs.scatter_(-1, lower.unsqueeze(-1), (1 - w_upper).unsqueeze(-1))
    probs.scatter_add_(-1, upper.unsqueeze(-1), w_upper.unsqueeze(-1))
    return probs


def small_sac(env="Pendulum-v1", **kwargs) -> HLGaussSAC:
    settings = dict(
        num_bins=21, learning_starts=50, batch_size=16, buffer_size=1000,
        policy_kwargs=dict(net_arch=[32, 32]), seed=0,
    )
    settings.update(kwargs)
    return HLGaussSAC("MlpPolicy", env, **settings)


# ----------------------------------------------------------------------------- runs
@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_run(loss):
    model = small_sac(loss=loss, v_min=-1700, v_max=100, value_transform="identity")
    model.learn(150)
    obs = th.zeros(3, 3)
    actions = th.zeros(3, 1)
    logits = model.critic(obs, actions)
    assert len(logits) == 2 and all(head.shape == (3, 21) for head in logits)
    assert model.critic.q_values(obs, actions).shape == (3, 2)
    assert model.logger.name_to_value["train/n_updates"] > 0


@pytest.mark.parametrize("n_critics", [1, 3])
def test_n_critics(n_critics):
    model = small_sac(policy_kwargs=dict(net_arch=[16], n_critics=n_critics))
    model.learn(80)
    assert len(model.critic.q_networks) == n_critics
    assert model.critic.q_values(th.zeros(2, 3), th.zeros(2, 1)).shape == (2, n_critics)


def test_cnn_policy():
    env = FakeImageEnv(screen_height=40, screen_width=40, n_channels=1, discrete=False)
    model = HLGaussSAC("CnnPolicy", env, num_bins=11, buffer_size=200, batch_size=8, learning_starts=30, seed=0)
    model.learn(50)
    assert isinstance(model.policy, CnnPolicy)
    assert isinstance(model.critic, CategoricalContinuousCritic)


def test_multi_input_policy():
    env = SimpleMultiObsEnv(random_start=True, discrete_actions=False)
    model = HLGaussSAC(
        "MultiInputPolicy", env, num_bins=11, buffer_size=200, batch_size=8, learning_starts=30,
        policy_kwargs=dict(net_arch=[16]), seed=0,
    )
    model.learn(60)
    assert isinstance(model.policy, MultiInputPolicy)


def test_policy_aliases():
    assert HLGaussSAC.policy_aliases == {"MlpPolicy": MlpPolicy, "CnnPolicy": CnnPolicy, "MultiInputPolicy": MultiInputPolicy}
    assert MlpPolicy is HLGaussSACPolicy


def test_default_support_is_the_package_default():
    from sb3_hlgauss.common import base_class

    model = HLGaussSAC("MlpPolicy", "Pendulum-v1")
    loss = model.value_loss
    assert type(loss).__name__ == "HLGaussLoss" and model.value_scale == "auto"
    assert (loss.v_min, loss.v_max, loss.num_bins, loss.value_transform.name) == (
        -base_class.AUTO_EDGE, base_class.AUTO_EDGE, base_class.DEFAULT_NUM_BINS, base_class.AUTO_VALUE_TRANSFORM,
    )
    assert loss.return_scale is not None and loss.return_scale.gamma == model.gamma
    assert model.critic.value_loss is loss and model.critic_target.value_loss is loss


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(gradient_steps=2, train_freq=2),
        dict(gradient_steps=-1, train_freq=(1, "episode")),
        dict(ent_coef="auto_0.1"),
        dict(ent_coef=0.05),
        dict(use_sde=True, sde_sample_freq=4),
        dict(n_steps=3),
        dict(target_update_interval=2, gradient_steps=2),
        dict(policy_kwargs=dict(net_arch=[16], share_features_extractor=True)),
    ],
)
def test_sac_options(kwargs):
    model = small_sac(**kwargs)
    model.learn(240)
    assert model._n_updates > 0


def test_vec_env_and_progress_bar():
    env = make_vec_env("Pendulum-v1", n_envs=2, seed=0)
    model = small_sac(env=env, train_freq=2, gradient_steps=2)
    model.learn(200, progress_bar=True)
    assert model.num_timesteps >= 200


# ------------------------------------------------------------------- critic numerics
def test_q_values_are_expectations_over_the_bins():
    model = small_sac(v_min=-50, v_max=30)
    obs, actions = th.randn(5, 3), th.rand(5, 1) * 2 - 1
    edges, centers = grid(-50, 30, 21, symlog)
    with th.no_grad():
        logits = model.critic(obs, actions)
        expected = th.stack([expected_value(head, centers, symexp) for head in logits], dim=1)
        th.testing.assert_close(model.critic.q_values(obs, actions).double(), expected, rtol=1e-5, atol=1e-5)
        th.testing.assert_close(model.critic.q1_forward(obs, actions).double(), expected[:, :1], rtol=1e-5, atol=1e-5)
        # The pessimistic head is the one with the lowest Q-value, per sample
        lowest, _ = model.critic.pessimistic(obs, actions)
        th.testing.assert_close(expected_value(lowest, centers, symexp), expected.min(dim=1).values, rtol=1e-5, atol=1e-5)


def test_pessimistic_head_is_the_lowest_mean_return_not_the_lowest_transformed_mean():
    """On a symlog support the head with the lowest mean in transformed units need not have the lowest
    Q-value (the mean in return units): the pessimistic head is chosen on the Q-value."""
    model = small_sac(v_min=-50, v_max=30)
    _, centers = grid(-50, 30, 21, symlog)
    atoms = symexp(centers)

    def peaked(*indices: int) -> th.Tensor:
        logits = th.full((1, 21), -30.0)
        logits[0, list(indices)] = 30.0
        return logits

    wide = peaked(int(th.argmin((atoms - 20).abs())), int(th.argmin((atoms + 3).abs())))  # half on ~20, half on ~-3
    narrow = peaked(int(th.argmin((atoms - 5).abs())))  # all on ~5
    transformed = [float((th.softmax(h.double(), -1) * centers).sum()) for h in (wide, narrow)]
    values = [float(expected_value(h, centers, symexp)) for h in (wide, narrow)]
    assert transformed[0] < transformed[1] and values[0] > values[1]  # the two orders disagree
    model.critic.forward = lambda obs, actions: (wide, narrow)  # type: ignore[method-assign]
    logits, q = model.critic.pessimistic(th.zeros(1, 3), th.zeros(1, 1))
    th.testing.assert_close(logits, narrow)
    assert float(q) == pytest.approx(values[1], rel=1e-5)


def _fill_and_sample(model, n=8):
    model.learn(60)
    th.manual_seed(1)
    np.random.seed(1)
    return model.replay_buffer.sample(n)


@pytest.mark.parametrize(
    "loss, transform",
    [("hl_gauss", "symlog"), ("hl_gauss", "identity"), ("two_hot", "symlog"), ("two_hot", "identity")],
)
def test_critic_loss_is_cross_entropy_against_soft_td_target(loss, transform):
    """The critic loss equals the sum over heads of the cross-entropy against the selected loss's
    probabilities of y = r + gamma (1 - done) (min_j Q'_j(s', a') - alpha log pi(a'|s')), computed here,
    both from the shared critic loss and as logged by train() (which draws a' ~ pi(.|s'))."""
    v_min, v_max, num_bins, gamma, alpha = -60.0, 20.0, 21, 0.9, 0.3
    model = small_sac(loss=loss, v_min=v_min, v_max=v_max, value_transform=transform, gamma=gamma, ent_coef=alpha)
    batch = _fill_and_sample(model)
    # Make the target network differ from the critic so that min over heads matters.
    with th.no_grad():
        for param in model.critic_target.parameters():
            param.add_(0.3 * th.randn_like(param))
    forward, inverse = (symlog, symexp) if transform == "symlog" else (lambda x: x, lambda x: x)
    edges, centers = grid(v_min, v_max, num_bins, forward)

    th.manual_seed(7)  # the draws of train(): a ~ pi(.|s) for the actor, then a' ~ pi(.|s')
    with th.no_grad():
        model.actor.action_log_prob(batch.observations)
        next_actions, next_log_prob = model.actor.action_log_prob(batch.next_observations)
        next_q = th.stack(
            [expected_value(head, centers, inverse) for head in model.critic_target(batch.next_observations, next_actions)],
            dim=1,
        ).min(dim=1).values
        y = batch.rewards.flatten().double() + gamma * (1 - batch.dones.flatten().double()) * (
            next_q - alpha * next_log_prob.double()
        )
        if loss == "two_hot":
            probs = two_hot_probs(y, inverse(centers))
        elif transform == "identity":
            probs = hl_gauss_probs(y, edges, 0.75 * float(edges[1] - edges[0]))
        else:
            # HL-Gauss on a symlog support: the Gaussian's centre is moved so that the label's mean
            # over the atoms is y (test_losses checks that construction): take the loss's label of y.
            probs = model.value_loss.to_probs(y.float()).double()
            th.testing.assert_close(probs @ inverse(centers), y.clamp(v_min, v_max), rtol=1e-3, atol=1e-3)
        heads = model.critic(batch.observations, batch.actions)
        expected = sum(-(probs * th.log_softmax(head.double(), -1)).sum(-1).mean() for head in heads)

    loss_value, target, logits = model._critic_loss(batch, next_actions, -alpha * next_log_prob.reshape(-1, 1))
    assert loss_value.item() == pytest.approx(float(expected), rel=1e-4, abs=1e-5)
    th.testing.assert_close(target.probs.double(), probs, rtol=1e-4, atol=1e-5)
    th.testing.assert_close(target.value.double().flatten(), y.clamp(v_min, v_max), rtol=1e-5, atol=1e-4)
    assert len(logits) == 2 and all(th.equal(a, b) for a, b in zip(logits, heads))

    # Gradients reach every head
    model.critic.optimizer.zero_grad()
    loss_value.backward()
    for q_net in model.critic.q_networks:
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in q_net.parameters())
    model.critic.optimizer.zero_grad()

    # train() computes the same critic loss (same a' and entropy term)
    model.replay_buffer.sample = lambda *args, **kwargs: batch  # type: ignore[method-assign]
    th.manual_seed(7)
    model.train(gradient_steps=1, batch_size=8)
    assert model.logger.name_to_value["train/critic_loss"] == pytest.approx(float(expected), rel=1e-4, abs=1e-5)


def test_c51_projects_the_pessimistic_head_with_the_soft_reward():
    """loss="c51": the target is the projection of the lowest-Q target head's distribution,
    each atom z_j moved to r + gamma (1 - done) (z_j - alpha log pi)."""
    v_min, v_max, num_bins, gamma, alpha = -30.0, 10.0, 11, 0.9, 0.2
    model = small_sac(loss="c51", v_min=v_min, v_max=v_max, num_bins=num_bins, value_transform="identity", gamma=gamma, ent_coef=alpha)
    batch = _fill_and_sample(model)
    _, centers = grid(v_min, v_max, num_bins, lambda x: x)
    width = float(centers[1] - centers[0])
    th.manual_seed(3)
    with th.no_grad():
        next_actions, next_log_prob = model.actor.action_log_prob(batch.next_observations)
    _, target, _ = model._critic_loss(batch, next_actions, -alpha * next_log_prob)
    with th.no_grad():
        heads = th.stack(model.critic_target(batch.next_observations, next_actions), dim=1).double()
        lowest = expected_value(heads, centers, lambda x: x).argmin(dim=1)
        p_next = th.softmax(heads[th.arange(8), lowest], -1)
        discount = gamma * (1 - batch.dones.double())
        shifted = (batch.rewards.double() + discount * (centers - alpha * next_log_prob.double().unsqueeze(-1))).clamp(
            float(centers[0]), float(centers[-1])
        )
        # Each shifted atom's mass split linearly between its neighbours
        weights = (1 - (shifted.unsqueeze(-1) - centers).abs() / width).clamp(min=0)
        probs = (p_next.unsqueeze(-1) * weights).sum(1)
    th.testing.assert_close(target.probs.double(), probs, rtol=1e-4, atol=1e-5)
    th.testing.assert_close(target.probs.sum(-1).double(), th.ones(8, dtype=th.float64))


def test_actor_is_trained_on_the_min_q_value():
    """One train() step logs actor_loss = mean(alpha log pi - min_j Q_j(s, pi(s))) computed here."""
    model = small_sac(ent_coef=0.1, v_min=-1e4, v_max=1e4)  # a fixed symlog support, decoded here by hand
    batch = _fill_and_sample(model)
    model.replay_buffer.sample = lambda *args, **kwargs: batch  # type: ignore[method-assign]
    critic_state = {k: v.clone() for k, v in model.critic.state_dict().items()}

    th.manual_seed(5)
    actions_pi, log_prob = model.actor.action_log_prob(batch.observations)
    th.manual_seed(5)
    model.train(gradient_steps=1, batch_size=8)
    # The actor loss uses the critic after its update: recompute it with the updated critic.
    with th.no_grad():
        _, centers = grid(-1e4, 1e4, 21, symlog)
        q = th.stack([expected_value(h, centers, symexp) for h in model.critic(batch.observations, actions_pi)], 1)
        expected = (0.1 * log_prob.double() - q.min(dim=1).values).mean()
    assert model.logger.name_to_value["train/actor_loss"] == pytest.approx(float(expected), rel=1e-4, abs=1e-4)
    assert any(not th.equal(critic_state[k], v) for k, v in model.critic.state_dict().items())


# ------------------------------------------------------------------------- learning
@pytest.mark.slow
def test_learns_pendulum():
    """Default support (symlog, [-1e4, 1e4], 101 bins): mean evaluation return >= -400 on Pendulum-v1."""
    model = HLGaussSAC(
        "MlpPolicy", "Pendulum-v1", learning_rate=1e-3, batch_size=128, learning_starts=500,
        policy_kwargs=dict(net_arch=[64, 64]), seed=0,
    )
    # Seeds 0, 1, 2 reached -143, -158, -155 after 5000 steps (-200 to -260 after 3000).
    assert best_evaluation_return(model, "Pendulum-v1", 10_000, threshold=-400, eval_freq=1_000) >= -400


# ---------------------------------------------------------------------- round trips
def test_save_load(tmp_path):
    model = small_sac(loss="two_hot", num_bins=31, v_min=-1700, v_max=50, value_transform="identity")
    model.learn(200)
    obs = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    actions, _ = model.predict(obs, deterministic=True)
    obs_t, act_t = th.as_tensor(obs), th.as_tensor(actions)
    q_values = model.critic.q_values(obs_t, act_t).detach()
    ent_coef = float(th.exp(model.log_ent_coef.detach()))
    model.save(tmp_path / "model.zip")
    model.save_replay_buffer(tmp_path / "buffer.pkl")
    del model

    loaded = HLGaussSAC.load(tmp_path / "model.zip", env=gym.make("Pendulum-v1"))
    assert (loaded.loss, loaded.num_bins, loaded.v_min, loaded.v_max, loaded.value_transform) == (
        "two_hot", 31, -1700, 50, "identity",
    )
    assert type(loaded.value_loss).__name__ == "TwoHotLoss" and loaded.critic.value_loss is loaded.value_loss
    np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], actions)
    th.testing.assert_close(loaded.critic.q_values(obs_t, act_t).detach(), q_values)
    assert float(th.exp(loaded.log_ent_coef.detach())) == pytest.approx(ent_coef)

    # Continue training, with the replay buffer restored.
    loaded.load_replay_buffer(tmp_path / "buffer.pkl")
    assert loaded.replay_buffer.size() == 200
    n_updates = loaded._n_updates
    loaded.learn(100, reset_num_timesteps=False)
    assert loaded._n_updates > n_updates and loaded.num_timesteps >= 300


def test_policy_save_load(tmp_path):
    model = small_sac(loss="hl_gauss", num_bins=17, sigma_ratio=0.5)
    obs = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    model.policy.save(tmp_path / "policy.pkl")
    policy = HLGaussSACPolicy.load(tmp_path / "policy.pkl")
    assert policy.value_loss.sigma_ratio == 0.5 and policy.value_loss.num_bins == 17
    np.testing.assert_array_equal(policy.predict(obs, deterministic=True)[0], model.policy.predict(obs, deterministic=True)[0])
    th.testing.assert_close(
        policy.critic.q_values(th.as_tensor(obs), th.zeros(6, 1)), model.critic.q_values(th.as_tensor(obs), th.zeros(6, 1))
    )


def test_load_refuses_settings_that_would_change_the_saved_critic(tmp_path):
    model = small_sac(v_max=500.0)
    model.save(tmp_path / "model.zip")
    with pytest.raises(ValueError, match=r"would change the critic's support or loss: the file was saved with v_max=500.0"):
        HLGaussSAC.load(tmp_path / "model.zip", v_max=400.0)
    loaded = HLGaussSAC.load(tmp_path / "model.zip", v_max=500.0)
    assert loaded.value_loss.v_max == 500.0 and loaded.critic.value_loss is loaded.value_loss


# -------------------------------------------------------------------------- logging
def test_clipped_targets_are_counted_and_logged(tmp_path):
    # Pendulum's rewards are <= 0 and reach -16: a support on [-2, 2] must clip, and say so.
    model = small_sac(v_min=-2, v_max=2, value_transform="identity", num_bins=11, train_freq=1)
    model.set_logger(configure(str(tmp_path), ["csv"]))
    model.learn(600, log_interval=1)
    assert model.n_clipped_targets > 0
    log = pd.read_csv(tmp_path / "progress.csv")
    for key in ("train/critic_loss", "train/actor_loss", "train/ent_coef", "train/q_mean", "train/target_clip_fraction"):
        assert key in log.columns
    # SB3's keys only: the critic loss once, and no clip_fraction (PPO's ratio clip in SB3)
    assert "train/loss" not in log.columns and "train/clip_fraction" not in log.columns
    assert log["train/target_clip_fraction"].dropna().max() > 0
    counts = log["train/n_clipped_targets"].dropna()
    # A running total: non-decreasing, and the last dump is at most the final count (training goes on after it)
    assert counts.is_monotonic_increasing and 0 < counts.iloc[-1] <= model.n_clipped_targets


def test_wide_default_support_does_not_clip_pendulum():
    model = small_sac(num_bins=101, v_min=-1e4, v_max=1e4)
    model.learn(300)
    assert model.n_clipped_targets == 0 and model.logger.name_to_value["train/target_clip_fraction"] == 0.0


# --------------------------------------------------------------------------- errors
def test_discrete_actions_point_to_dqn():
    with pytest.raises(ValueError, match="HLGaussDQN"):
        HLGaussSAC("MlpPolicy", "CartPole-v1")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(loss="huber"), "Unknown loss"),
        (dict(v_min=10, v_max=-10), "v_min"),
        (dict(num_bins=1), "num_bins"),
        (dict(sigma_ratio=-1), "sigma_ratio"),
        (dict(loss="two_hot", sigma_ratio=0.5), "sigma_ratio"),
        (dict(value_transform="log"), "log"),
        (dict(policy_kwargs=dict(loss="two_hot")), "policy_kwargs"),
    ],
)
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HLGaussSAC("MlpPolicy", "Pendulum-v1", **kwargs)


def test_nan_rewards_raise():
    class NaNReward(gym.Wrapper):
        def step(self, action):
            obs, reward, terminated, truncated, info = self.env.step(action)
            return obs, float("nan"), terminated, truncated, info

    model = small_sac(env=NaNReward(gym.make("Pendulum-v1")))
    with pytest.raises(ValueError, match="(?i)non-finite"):
        model.learn(100)

"""The self-scaled support (``value_scale="auto"``): the scale against a computed reference, decoding in
return units, save/load, VecNormalize, n-step returns, continued training and bad input."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecEnvWrapper, VecNormalize

from sb3_hlgauss import HLGaussA2C, HLGaussDQN, HLGaussPPO, HLGaussSAC, HLGaussTD3, make_loss
from sb3_hlgauss.common.value_scale import RunningReturnScale

EDGE = 5.0


def reference_scale(rewards: np.ndarray, dones: np.ndarray, gamma: float, edge: float = EDGE,
                    eps: float = 1e-8, starts: np.ndarray | None = None) -> float:
    """SimbaV2's scale computed directly: every running return ``G_t = r_t + gamma G_{t-1}`` (0 before an
    episode's first step) of a ``(steps, n_envs)`` stream; ``max(sqrt(Var G + eps), max|G| / edge)``."""
    returns = np.zeros_like(rewards, dtype=np.float64)
    previous = np.zeros(rewards.shape[1])
    new_episode = np.ones(rewards.shape[1], dtype=bool)
    for t in range(rewards.shape[0]):
        if starts is not None:
            new_episode = new_episode | starts[t]
        previous = rewards[t] + gamma * np.where(new_episode, 0.0, previous)
        returns[t] = previous
        new_episode = dones[t].astype(bool)
    return max(math.sqrt(returns.var() + eps), np.abs(returns).max() / edge)


def test_scale_tracks_a_synthetic_stream_exactly():
    rng = np.random.default_rng(0)
    scale = RunningReturnScale(gamma=0.97, edge=EDGE)
    assert scale.value == 1.0  # before any reward
    rewards = rng.normal(3.0, 2.0, size=(500, 4))
    dones = rng.random((500, 4)) < 0.03
    for t in range(0, 500, 50):  # the stream arrives in pieces of different kinds
        if t % 100 == 0:
            scale.update_rollout(rewards[t:t + 50], dones[t:t + 50])
        else:
            for r, d in zip(rewards[t:t + 50], dones[t:t + 50]):
                scale.update(r, d)
        expected = reference_scale(rewards[:t + 50], dones[:t + 50], 0.97)
        assert scale.value == pytest.approx(expected, rel=1e-9)
    # When the returns grow tenfold, so does the scale (the max term keeps them inside the support).
    for r, d in zip(10 * rewards, dones):
        scale.update(r, d)
    assert scale.value == pytest.approx(reference_scale(np.concatenate([rewards, 10 * rewards]),
                                                        np.concatenate([dones, dones]), 0.97), rel=1e-9)


@pytest.mark.parametrize("loss_name", ["hl_gauss", "two_hot", "c51", "categorical_mse"])
def test_decoded_values_and_targets_are_in_return_units(loss_name):
    loss = make_loss(loss_name, v_min=-EDGE, v_max=EDGE, num_bins=51)
    plain_atoms = loss.atoms(th.float64).clone()
    scale = RunningReturnScale(gamma=0.9, edge=EDGE)
    loss.attach_return_scale(scale)
    scale.add_returns(np.array([-40.0, 120.0]))  # std 80 > max|G| / edge = 24
    s = scale.value
    assert s == pytest.approx(max(math.sqrt(80.0**2 + 1e-8), 120.0 / EDGE))
    logits = th.randn(7, 51, dtype=th.float64)
    th.testing.assert_close(loss.to_value(logits), th.softmax(logits, -1) @ (s * plain_atoms))
    th.testing.assert_close(loss.atoms(th.float64), s * plain_atoms)
    low, high = loss.value_range
    targets = th.tensor([0.0, 0.37 * s, -2.2 * s, high + 1.0, low - 50.0], dtype=th.float64)
    target = loss.target(targets)
    assert target.clipped.tolist() == [False, False, False, True, True]  # outside the support: clipped, counted
    th.testing.assert_close(target.value, targets.clamp(low, high))
    if loss_name in ("two_hot", "c51", "categorical_mse"):  # exact atom means
        th.testing.assert_close(target.probs @ loss.atoms(th.float64), target.value)
    else:  # HL-Gauss: within its documented tolerance inside the support
        th.testing.assert_close((target.probs @ loss.atoms(th.float64))[:3], target.value[:3], atol=1e-4 * s, rtol=0)
    # The same normalised target gives the same distribution at any scale.
    unscaled = make_loss(loss_name, v_min=-EDGE, v_max=EDGE, num_bins=51)
    th.testing.assert_close(target.probs[:3], unscaled.target(targets[:3] / s).probs)


class RecordRewards(VecEnvWrapper):
    """Records the rewards and dones that the algorithm receives from ``step`` (below any VecNormalize)."""

    def __init__(self, venv):
        super().__init__(venv)
        self.rewards, self.dones = [], []

    def reset(self):
        return self.venv.reset()

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        self.rewards.append(np.array(rewards, dtype=np.float64))
        self.dones.append(np.array(dones))
        return obs, rewards, dones, infos


CASES = {
    "dqn": (HLGaussDQN, "CartPole-v1", dict(learning_starts=50, policy_kwargs=dict(net_arch=[16]))),
    "dqn_nstep": (HLGaussDQN, "CartPole-v1", dict(learning_starts=50, n_steps=3, policy_kwargs=dict(net_arch=[16]))),
    "sac": (HLGaussSAC, "Pendulum-v1", dict(learning_starts=50, policy_kwargs=dict(net_arch=[16]))),
    "td3": (HLGaussTD3, "Pendulum-v1", dict(learning_starts=50, policy_kwargs=dict(net_arch=[16]))),
    "a2c": (HLGaussA2C, "CartPole-v1", dict(n_steps=8)),
    "ppo": (HLGaussPPO, "CartPole-v1", dict(n_steps=64, batch_size=64, n_epochs=1)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_algorithm_feeds_the_scale_the_rewards_it_collects(case):
    algo, env_id, kwargs = CASES[case]
    env = RecordRewards(make_vec_env(env_id, n_envs=2, seed=0))
    model = algo("MlpPolicy", env, seed=0, **kwargs)
    assert model.value_scale == "auto" and model.value_loss.return_scale.gamma == model.gamma
    model.learn(384)
    rewards, dones = np.array(env.rewards), np.array(env.dones)
    if algo in (HLGaussA2C, HLGaussPPO):
        # On-policy: once a rollout, so the scale has seen every completed rollout (here all of them).
        assert len(rewards) % kwargs["n_steps"] == 0
    assert model.value_loss.return_scale.value == pytest.approx(reference_scale(rewards, dones, model.gamma), rel=1e-9)
    assert model.logger.name_to_value["train/value_scale"] == model.value_loss.return_scale.value
    # Continued training (reset_num_timesteps=False) continues the episodes' running returns ...
    model.learn(128, reset_num_timesteps=False)
    rewards2, dones2 = np.array(env.rewards), np.array(env.dones)
    assert model.value_loss.return_scale.value == pytest.approx(reference_scale(rewards2, dones2, model.gamma), rel=1e-9)
    # ... and a new learn() (SB3 resets the envs) starts new ones.
    n = len(env.rewards)
    model.learn(128)
    rewards3, dones3 = np.array(env.rewards), np.array(env.dones)
    starts = np.zeros_like(dones3, dtype=bool)
    starts[n] = True
    expected = reference_scale(rewards3, dones3, model.gamma, starts=starts)
    assert model.value_loss.return_scale.value == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("algo, env_id", [(HLGaussDQN, "CartPole-v1"), (HLGaussSAC, "Pendulum-v1"), (HLGaussA2C, "CartPole-v1")])
def test_save_load_round_trip_is_exact(algo, env_id, tmp_path):
    kwargs = dict(learning_starts=50) if algo is not HLGaussA2C else {}
    model = algo("MlpPolicy", env_id, seed=0, policy_kwargs=dict(net_arch=[16]), **kwargs)
    model.learn(300)
    model.save(tmp_path / "m.zip")
    loaded = algo.load(tmp_path / "m.zip")
    assert loaded.value_scale == "auto" and loaded.v_min is None
    assert loaded.value_loss.return_scale.state() == model.value_loss.return_scale.state()
    for key in ("count", "mean", "var", "max_abs"):
        assert th.equal(getattr(loaded.value_loss.return_scale, key), getattr(model.value_loss.return_scale, key))
    obs = th.as_tensor(np.stack([model.observation_space.sample() for _ in range(8)]))
    if algo is HLGaussDQN:
        th.testing.assert_close(loaded.q_net.q_values(obs), model.q_net.q_values(obs), rtol=0, atol=0)
    elif algo is HLGaussSAC:
        actions = th.as_tensor(np.stack([model.action_space.sample() for _ in range(8)]))
        th.testing.assert_close(loaded.critic.q_values(obs, actions), model.critic.q_values(obs, actions), rtol=0, atol=0)
    else:
        th.testing.assert_close(loaded.policy.predict_values(obs), model.policy.predict_values(obs), rtol=0, atol=0)
    # A loaded model keeps learning with its scale (the running returns restart with the new episodes).
    loaded.set_env(make_vec_env(env_id, n_envs=1, seed=1))
    loaded.learn(64, reset_num_timesteps=False)
    assert loaded.value_loss.return_scale.state()["count"] > model.value_loss.return_scale.state()["count"]


class ScaledReward(gym.RewardWrapper):
    """Multiplies every reward by ``factor``."""

    def __init__(self, env, factor):
        super().__init__(env)
        self.factor = factor

    def reward(self, reward):
        return self.factor * reward


@pytest.mark.parametrize("algo", [HLGaussDQN, HLGaussA2C])
def test_with_vecnormalize_the_scale_follows_the_normalised_rewards(algo):
    """VecNormalize(norm_reward=True) scales the rewards the critic is trained on; the return scale is computed
    from those, not from the raw ones (no double scaling, no scale fighting VecNormalize's)."""
    raw = make_vec_env("CartPole-v1", n_envs=2, seed=0, wrapper_class=ScaledReward, wrapper_kwargs=dict(factor=1000.0))
    normalised = RecordRewards(VecNormalize(raw, norm_obs=False, norm_reward=True, gamma=0.99))
    kwargs = dict(learning_starts=50) if algo is HLGaussDQN else {}
    model = algo("MlpPolicy", normalised, seed=0, policy_kwargs=dict(net_arch=[16]), **kwargs)
    model.learn(256)
    rewards, dones = np.array(normalised.rewards), np.array(normalised.dones)
    assert np.abs(rewards).max() < 20  # VecNormalize's rewards, not the raw 1000s
    assert model.value_loss.return_scale.value == pytest.approx(reference_scale(rewards, dones, model.gamma), rel=1e-9)


def test_bad_scale_settings_are_named():
    with pytest.raises(ValueError, match=r"gamma must be a number in \[0, 1\], got 1.5"):
        RunningReturnScale(gamma=1.5, edge=5.0)
    with pytest.raises(ValueError, match=r"edge must be a finite number > 0, got 0"):
        RunningReturnScale(gamma=0.9, edge=0)
    with pytest.raises(TypeError, match=r"attach_return_scale expects a RunningReturnScale"):
        make_loss("hl_gauss").attach_return_scale(2.0)
    with pytest.raises(ValueError, match=r"non-finite returns"):
        RunningReturnScale(gamma=0.9, edge=5.0).update([float("nan")], [False])


def test_a_hand_set_support_is_fixed_as_before():
    model = HLGaussDQN("MlpPolicy", "CartPole-v1", v_min=0.0, v_max=110.0, value_transform="identity", learning_starts=10)
    assert model.value_scale == "fixed" and model.value_loss.return_scale is None
    assert model.value_loss.value_range == (0.0, 110.0)
    model.learn(50)
    assert "train/value_scale" not in model.logger.name_to_value

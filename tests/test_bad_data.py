"""Non-finite data fails where it enters: a NaN/inf observation, reward or action is refused before the
replay buffer, with a :class:`NonFiniteDataError` naming what it was, the env and the step.

A wrapper injects NaN/inf into env 1 of a 2-env ``DummyVecEnv`` at a chosen step (both envs step in
lock-step, so the bad value arrives at ``num_timesteps == 2 * step``). Each test then checks that the
replay buffer holds finite data only (the steps before the bad one), that the model and its buffer can
be saved and loaded, and that learning goes on with a clean env.
"""

from __future__ import annotations

import re

import gymnasium as gym
import numpy as np
import pytest
import stable_baselines3 as sb3
import torch as th
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.noise import ActionNoise
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from sb3_hlgauss import HLGaussDQN, HLGaussSAC, HLGaussTD3
from sb3_hlgauss.common.errors import NonFiniteDataError

NAN, INF = float("nan"), float("inf")
ALGOS = {
    "dqn": (HLGaussDQN, "CartPole-v1", dict(target_update_interval=50)),
    "sac": (HLGaussSAC, "Pendulum-v1", dict(batch_size=16)),
    "td3": (HLGaussTD3, "Pendulum-v1", dict(batch_size=16)),
}
LEARNING_STARTS = 50
#: The step (of each env) at which the bad value is injected: past learning_starts (2 envs), so that the
#: policy acts on the observations (a NaN observation would otherwise reach SAC's actor).
BAD_STEP = 40


@pytest.fixture(autouse=True)
def _one_thread():
    th.set_num_threads(1)


class InjectNonFinite(gym.Wrapper):
    """Put ``value`` into the ``what`` of the ``at_step``-th step (counted over episodes, from 1).

    ``what``: "obs" (the next observation), "reward", "terminal" (the observation of a step made to
    terminate the episode, so it becomes the VecEnv's terminal observation), "reset" (the observation
    returned by the first reset: ``at_step`` is ignored). ``key`` picks the entry of a dict observation.
    """

    def __init__(self, env: gym.Env, what: str, at_step: int = BAD_STEP, value: float = NAN, key: str | None = None):
        super().__init__(env)
        self.what, self.at_step, self.value, self.key = what, at_step, value, key
        self.n_steps = 0
        self.n_resets = 0

    def _corrupt(self, obs):
        obs = {k: v.copy() for k, v in obs.items()} if isinstance(obs, dict) else obs.copy()
        target = obs[self.key] if self.key is not None else obs
        target.reshape(-1)[-1] = self.value
        return obs

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self.n_resets += 1
        if self.what == "reset" and self.n_resets == 1:
            obs = self._corrupt(obs)
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.n_steps += 1
        if self.n_steps == self.at_step:
            if self.what in ("obs", "terminal"):
                obs = self._corrupt(obs)
                terminated = terminated or self.what == "terminal"
            elif self.what == "reward":
                reward = self.value
        return obs, reward, terminated, truncated, info


class DictObs(gym.ObservationWrapper):
    """CartPole's observation as a dict: {"position": (x, theta), "velocity": (x_dot, theta_dot)}."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        low, high = env.observation_space.low, env.observation_space.high
        self.observation_space = gym.spaces.Dict(
            {
                "position": gym.spaces.Box(low[[0, 2]], high[[0, 2]], dtype=np.float32),
                "velocity": gym.spaces.Box(low[[1, 3]], high[[1, 3]], dtype=np.float32),
            }
        )

    def observation(self, obs):
        return {"position": obs[[0, 2]], "velocity": obs[[1, 3]]}


def make_env(env_id: str, bad: dict | None = None, dict_obs: bool = False, n_envs: int = 2, seed: int = 0):
    """A ``DummyVecEnv`` of ``n_envs`` envs; env 1 (the last) gets ``InjectNonFinite(**bad)``."""

    def make(i: int):
        def thunk():
            env = gym.make(env_id)
            if dict_obs:
                env = DictObs(env)
            if bad is not None and i == n_envs - 1:
                env = InjectNonFinite(env, **bad)
            return Monitor(env)

        return thunk

    venv = DummyVecEnv([make(i) for i in range(n_envs)])
    venv.seed(seed)  # used by the first reset (that of learn), which "reset" corrupts
    return venv


def make_model(algo: str, env, **kwargs):
    algo_class, _, settings = ALGOS[algo]
    policy = "MultiInputPolicy" if isinstance(env.observation_space, gym.spaces.Dict) else "MlpPolicy"
    settings = dict(
        settings, learning_starts=LEARNING_STARTS, buffer_size=2000, num_bins=21,
        policy_kwargs=dict(net_arch=[16]), seed=0, **kwargs,
    )  # fmt: skip
    return algo_class(policy, env, **settings)


def stored_arrays(buffer) -> dict[str, np.ndarray]:
    """The filled part of each array of ``buffer`` (dict observations: one entry per key)."""
    n = buffer.size()
    arrays = {"actions": buffer.actions[:n], "rewards": buffer.rewards[:n]}
    for name in ("observations", "next_observations"):
        data = getattr(buffer, name, None)
        if isinstance(data, dict):
            arrays.update({f"{name}[{key}]": value[:n] for key, value in data.items()})
        elif data is not None:
            arrays[name] = data[:n]
    return arrays


def assert_buffer_finite(buffer, n_steps: int) -> None:
    assert buffer.size() == n_steps
    for name, array in stored_arrays(buffer).items():
        assert np.isfinite(array).all(), f"non-finite {name} in the replay buffer"


def check_recovery(model, tmp_path, env_id: str, n_steps: int, dict_obs: bool = False, normalize: bool = False):
    """The buffer holds ``n_steps`` finite steps; save/load of model and buffer; learning goes on."""
    assert_buffer_finite(model.replay_buffer, n_steps)
    num_timesteps = model.num_timesteps
    model.save(tmp_path / "model.zip")
    model.save_replay_buffer(tmp_path / "buffer.pkl")
    loaded = type(model).load(tmp_path / "model.zip", device="cpu")
    loaded.load_replay_buffer(tmp_path / "buffer.pkl")
    assert_buffer_finite(loaded.replay_buffer, n_steps)
    assert loaded.num_timesteps == num_timesteps

    clean_env = make_env(env_id, dict_obs=dict_obs, seed=100)
    if normalize:
        clean_env = VecNormalize(clean_env)
    n_updates = model._n_updates
    model.set_env(clean_env)
    model.learn(60, reset_num_timesteps=False)
    assert model.num_timesteps >= num_timesteps + 60
    assert model._n_updates > n_updates
    # Every step since is stored (DQN collects train_freq=4 steps at a time, so it may do a few more).
    assert_buffer_finite(model.replay_buffer, n_steps + (model.num_timesteps - num_timesteps) // clean_env.num_envs)


def error_message(excinfo) -> str:
    assert isinstance(excinfo.value, ValueError)  # what 0.2.0 raised: `except ValueError` keeps working
    return str(excinfo.value)


# ------------------------------------------------------------------ observation, reward, terminal observation
@pytest.mark.parametrize("algo", list(ALGOS))
@pytest.mark.parametrize(
    ("what", "value", "named"),
    [
        ("obs", NAN, r"the next observation of env 1 holds 1 NaN of its \d values"),
        ("obs", -INF, r"the next observation of env 1 holds 1 inf of its \d values"),
        ("reward", NAN, r"the reward of env 1 is nan"),
        ("reward", INF, r"the reward of env 1 is inf"),
        ("terminal", NAN, r"the terminal observation of env 1 holds 1 NaN"),
    ],
)
def test_non_finite_data_is_refused_before_the_buffer(algo, what, value, named, tmp_path):
    env_id = ALGOS[algo][1]
    model = make_model(algo, make_env(env_id, bad=dict(what=what, value=value)))
    with pytest.raises(NonFiniteDataError) as excinfo:
        model.learn(500)
    message = error_message(excinfo)
    assert re.search(named, message), message
    assert f"at step num_timesteps={2 * BAD_STEP}" in message
    assert "env 0" not in message  # only the bad env is named
    assert "were not stored in the replay buffer" in message
    assert model.num_timesteps == 2 * BAD_STEP
    assert model._n_updates > 0  # training had started: the policy acted on the observations
    check_recovery(model, tmp_path, env_id, n_steps=BAD_STEP - 1)


def test_dict_observation_names_the_key(tmp_path):
    model = make_model("dqn", make_env("CartPole-v1", bad=dict(what="obs", key="velocity"), dict_obs=True))
    with pytest.raises(NonFiniteDataError) as excinfo:
        model.learn(500)
    message = error_message(excinfo)
    assert "the next observation 'velocity' of env 1 holds 1 NaN of its 2 values" in message, message
    assert "'position'" not in message
    assert f"num_timesteps={2 * BAD_STEP}" in message
    check_recovery(model, tmp_path, "CartPole-v1", n_steps=BAD_STEP - 1, dict_obs=True)


# ------------------------------------------------------------------ actions (from the policy, not the env)
class NaNNoiseAt(ActionNoise):
    """Zero action noise, NaN at the ``at_call``-th call."""

    def __init__(self, at_call: int, shape: tuple[int, ...]):
        super().__init__()
        self.at_call, self.shape, self.calls = at_call, shape, 0

    def __call__(self) -> np.ndarray:
        self.calls += 1
        return np.full(self.shape, NAN if self.calls == self.at_call else 0.0, dtype=np.float32)

    def reset(self) -> None:
        pass


@pytest.mark.parametrize("algo", ["sac", "td3"])
def test_non_finite_action_is_refused(algo, tmp_path):
    env = make_env("Pendulum-v1", n_envs=1)
    model = make_model(algo, env, action_noise=NaNNoiseAt(BAD_STEP, (1,)))
    with pytest.raises(NonFiniteDataError) as excinfo:
        model.learn(500)
    message = error_message(excinfo)
    assert re.search(r"the action of env 0 is nan \(actions come from the policy", message), message
    assert f"num_timesteps={BAD_STEP}" in message
    assert_buffer_finite(model.replay_buffer, BAD_STEP - 1)
    model.save(tmp_path / "model.zip")
    model.save_replay_buffer(tmp_path / "buffer.pkl")
    model.set_env(make_env("Pendulum-v1", n_envs=1, seed=100))
    model.learn(60, reset_num_timesteps=False)
    assert_buffer_finite(model.replay_buffer, model.num_timesteps - 1)


# ------------------------------------------------------------------ VecNormalize: the original values are checked
@pytest.mark.parametrize(
    ("what", "value", "training", "named"),
    [
        ("obs", NAN, True, "the next observation of env 1 holds 1 NaN"),
        ("reward", NAN, True, "the reward of env 1 is nan"),
        ("terminal", NAN, True, "the terminal observation of env 1 holds 1 NaN"),
        # Frozen statistics: VecNormalize clips the normalised inf to a finite value, the original is inf.
        ("obs", INF, False, "the next observation of env 1 holds 1 inf"),
        ("reward", INF, False, "the reward of env 1 is inf"),
    ],
)
def test_vec_normalize_original_values_are_checked(what, value, training, named, tmp_path):
    env = VecNormalize(make_env("CartPole-v1", bad=dict(what=what, value=value)), training=training)
    if not training:  # what the policy sees is finite: only a check of the original values sees the inf
        assert np.isfinite(env.normalize_obs(np.full((1, 4), INF, dtype=np.float32))).all()
        assert np.isfinite(env.normalize_reward(np.full(1, INF, dtype=np.float32))).all()
    model = make_model("dqn", env)
    with pytest.raises(NonFiniteDataError) as excinfo:
        model.learn(500)
    message = error_message(excinfo)
    assert named in message and "(original, unnormalised values)" in message, message
    assert f"num_timesteps={2 * BAD_STEP}" in message
    # VecNormalize updated its running statistics with the NaN (not with a terminal observation): say so
    assert ("VecNormalize running statistics" in message) == (training and what != "terminal"), message
    check_recovery(model, tmp_path, "CartPole-v1", n_steps=BAD_STEP - 1, normalize=True)


# ------------------------------------------------------------------ the first observation after a reset
@pytest.mark.parametrize(
    ("algo", "normalize"), [("dqn", False), ("dqn", True), ("sac", False), ("td3", False)]
)
def test_first_observation_after_reset_is_checked(algo, normalize, tmp_path):
    env_id = ALGOS[algo][1]
    env = make_env(env_id, bad=dict(what="reset"))
    if normalize:
        env = VecNormalize(env)
    model = make_model(algo, env)
    with pytest.raises(NonFiniteDataError) as excinfo:
        model.learn(500)
    message = error_message(excinfo)
    assert "the observation of env 1 (the first after the reset) holds 1 NaN" in message, message
    assert "at step num_timesteps=0" in message and "It was not stored in the replay buffer" in message
    assert model.replay_buffer.size() == 0
    model.save(tmp_path / "model.zip")
    model.set_env(VecNormalize(make_env(env_id)) if normalize else make_env(env_id))
    model.learn(LEARNING_STARTS + 20, reset_num_timesteps=False)
    assert_buffer_finite(model.replay_buffer, model.num_timesteps // 2)
    assert model._n_updates > 0


def test_learn_again_without_set_env_resets_the_env():
    """After a refused step, the next learn resets the env (its state no longer matches the last observation)."""
    model = make_model("dqn", make_env("CartPole-v1", bad=dict(what="obs")))
    with pytest.raises(NonFiniteDataError):
        model.learn(500)
    assert model._last_obs is None
    model.learn(40, reset_num_timesteps=False)  # the injected NaN came once: the same env goes on
    assert_buffer_finite(model.replay_buffer, BAD_STEP - 1 + (model.num_timesteps - 2 * BAD_STEP) // 2)


# ------------------------------------------------------------------ observations of every kind SB3 accepts
class PointAndIndex(gym.Env):
    """``Dict({"pos": Box(2), "idx": Discrete(3), "flag": Discrete(2), "pixels": Box(uint8)})``, its discrete
    entries returned as Python scalars (``int``, ``bool``) or NumPy scalars, as Gymnasium allows; episodes of
    ``EPISODE`` steps, so that the VecEnv's terminal observations (the env's own, unconverted) are stored too.
    A NaN is put into ``"pos"`` at step ``nan_at`` (counted over episodes) if given.

    :param continuous: A ``Box`` action space (SAC, TD3) instead of ``Discrete(3)`` (DQN).
    :param scalars: ``"python"`` or ``"numpy"``: the type of the discrete entries.
    """

    EPISODE = 25

    def __init__(self, continuous: bool = False, scalars: str = "python", nan_at: int | None = None):
        super().__init__()
        self.observation_space = gym.spaces.Dict(
            {
                "pos": gym.spaces.Box(-1.0, 1.0, (2,), dtype=np.float32),
                "idx": gym.spaces.Discrete(3),
                "flag": gym.spaces.Discrete(2),
                "pixels": gym.spaces.Box(0, 255, (2, 2), dtype=np.uint8),
            }
        )
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), dtype=np.float32) if continuous else gym.spaces.Discrete(3)
        self.scalars, self.nan_at = scalars, nan_at
        self.t = self.n_steps = 0

    def _obs(self) -> dict:
        idx, flag = self.t % 3, self.t % 2 == 0
        if self.scalars == "numpy":
            idx, flag = np.int64(idx), np.bool_(flag)
        pos = np.array([self.t / self.EPISODE, -self.t / self.EPISODE], dtype=np.float32)
        if self.n_steps == self.nan_at:
            pos[0] = NAN
        return {"pos": pos, "idx": idx, "flag": flag, "pixels": np.full((2, 2), self.t, dtype=np.uint8)}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        self.n_steps += 1
        action = float(np.asarray(action).reshape(-1)[0])
        reward = -abs(action - (self.t - 1) % 3) if self.action_space.shape == () else -abs(action)
        return self._obs(), reward, self.t >= self.EPISODE, False, {}


SCALAR_OBS_ALGOS = {
    "dqn": (HLGaussDQN, sb3.DQN, False),
    "sac": (HLGaussSAC, sb3.SAC, True),
    "td3": (HLGaussTD3, sb3.TD3, True),
}


@pytest.mark.parametrize("scalars", ["python", "numpy"])
@pytest.mark.parametrize("algo", list(SCALAR_OBS_ALGOS))
def test_dict_observation_with_scalar_entries_trains_as_in_sb3(algo, scalars):
    ours, theirs, continuous = SCALAR_OBS_ALGOS[algo]
    settings = dict(learning_starts=50, buffer_size=500, batch_size=16, policy_kwargs=dict(net_arch=[16]), seed=0)
    reference = theirs("MultiInputPolicy", PointAndIndex(continuous, scalars), **settings)
    reference.learn(200)  # SB3's own algorithm takes this env
    model = ours("MultiInputPolicy", PointAndIndex(continuous, scalars), num_bins=21, **settings)
    model.learn(200)
    assert model.num_timesteps == 200 and model._n_updates > 0
    assert_buffer_finite(model.replay_buffer, 200)


@pytest.mark.parametrize("algo", list(SCALAR_OBS_ALGOS))
def test_dict_observation_with_scalar_entries_still_names_a_nan(algo):
    ours, _, continuous = SCALAR_OBS_ALGOS[algo]
    # At step 50 the episode ends: the NaN is in the terminal observation (a dict of Python scalars).
    for nan_at, named in [(30, "the next observation 'pos'"), (2 * PointAndIndex.EPISODE, "the terminal observation 'pos'")]:
        model = ours(
            "MultiInputPolicy", PointAndIndex(continuous, nan_at=nan_at), learning_starts=10, buffer_size=200,
            batch_size=16, num_bins=21, policy_kwargs=dict(net_arch=[8]), seed=0,
        )
        with pytest.raises(NonFiniteDataError, match=rf"{named} of env 0 holds 1 NaN of its 2 values"):
            model.learn(200)
        assert model.num_timesteps == nan_at
        assert_buffer_finite(model.replay_buffer, nan_at - 1)


@pytest.mark.parametrize(
    "obs",
    [3, True, np.int64(2), np.bool_(False), np.float32(0.5), 0.5, np.zeros((84, 84, 3), dtype=np.uint8),
     np.array([1, 2]), {"idx": 2, "flag": False, "pos": np.zeros(2, dtype=np.float32), "image": np.zeros((4, 4), np.uint8)}],
    ids=lambda obs: type(obs).__name__,
)
def test_finite_check_takes_every_observation_sb3_takes(obs):
    from sb3_hlgauss.common.checks import _finite_obs, _obs_problems

    assert _finite_obs(obs)
    assert _obs_problems("observation", obs, 0) == []


@pytest.mark.parametrize("obs", [NAN, np.float32(INF), {"idx": 2, "pos": np.array([0.0, NAN], dtype=np.float32)}], ids=str)
def test_finite_check_finds_a_non_finite_scalar_or_entry(obs):
    from sb3_hlgauss.common.checks import _finite_obs, _obs_problems

    assert not _finite_obs(obs)
    assert len(_obs_problems("observation", obs, 0)) == 1

"""Checks of the data an off-policy algorithm stores: non-finite transitions fail where they enter.

A NaN/inf observation, reward or action that reaches the replay buffer surfaces only later, as a
non-finite TD target (DQN) or as an error of torch's distributions (SAC), and stays in the buffer:
a resumed model raises again and a checkpoint of the buffer keeps it. :class:`FiniteTransitionsMixin`
checks each transition before SB3 stores it and raises a
:class:`~sb3_hlgauss.common.errors.NonFiniteDataError` naming what was non-finite, the env and the
step, leaving the buffer (and the model) with finite data only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sb3_hlgauss.common.errors import NonFiniteDataError

#: A batch of observations of a VecEnv, or the observation of one env (dict entries may be Python scalars).
Obs = np.ndarray | dict[str, Any]


def _finite(values: Any) -> bool:
    """Whether ``values`` hold finite values only; non-float data (bool, uint8, int) always does.

    ``values`` is an array, or whatever the entry of an env's own observation is (the terminal observation
    is the env's, not the VecEnv's array): a Python or NumPy scalar, e.g. the ``int`` of a ``Discrete`` entry.
    """
    array = values if isinstance(values, np.ndarray) else np.asarray(values)
    return array.dtype.kind not in "fc" or bool(np.isfinite(array).all())


def _finite_obs(obs: Obs) -> bool:
    if isinstance(obs, dict):
        return all(_finite(value) for value in obs.values())
    return _finite(obs)


def _describe(values: np.ndarray) -> str | None:
    """``None`` if ``values`` (the data of one env) are finite, else what is wrong with them."""
    values = np.asarray(values)
    if values.dtype.kind not in "fc":
        return None
    bad = ~np.isfinite(values)
    if not bad.any():
        return None
    if values.size == 1:
        return f"is {complex(values.reshape(-1)[0]) if values.dtype.kind == 'c' else float(values.reshape(-1)[0])}"
    n_nan = int(np.isnan(values).sum())
    n_inf = int(bad.sum()) - n_nan
    kinds = " and ".join(f"{n} {kind}" for n, kind in ((n_nan, "NaN"), (n_inf, "inf")) if n)
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    where = first[0] if len(first) == 1 else first
    return f"holds {kinds} of its {values.size} values (the first at index {where})"


def _obs_problems(what: str, obs: Obs, env: int, note: str = "") -> list[str]:
    """What is non-finite in the observation ``obs`` of one env, per key for dict observations."""
    items = obs.items() if isinstance(obs, dict) else [(None, obs)]
    return [
        f"the {what}{'' if key is None else f' {key!r}'} of env {env}{note} {problem}"
        for key, value in items
        if (problem := _describe(value)) is not None
    ]


def _env_obs(obs: Obs, env: int) -> Obs:
    """The observation of env ``env`` in the batched observation ``obs``."""
    return {key: value[env] for key, value in obs.items()} if isinstance(obs, dict) else obs[env]


def _n_envs(obs: Obs) -> int:
    return len(next(iter(obs.values()))) if isinstance(obs, dict) else len(obs)


class FiniteTransitionsMixin:
    """Refuse a transition holding a NaN/inf observation, reward or action before it enters the replay buffer.

    Mixed into an SB3 off-policy algorithm (before it in the bases), it checks what SB3 stores: with a
    ``VecNormalize`` env the original (unnormalised) observations and rewards, and the terminal
    observations of the episodes that ended. It also checks the first observation after a reset, which
    the first transition stores. A non-finite value raises
    :class:`~sb3_hlgauss.common.errors.NonFiniteDataError` naming what it was (observation, next
    observation, terminal observation, reward or action; the key of a dict observation), the env index
    and the step (``num_timesteps``). Nothing of that step is stored, so the replay buffer holds finite
    data only and the model can be saved; the next ``learn`` resets the env (use ``set_env`` to give it
    a fixed one and ``learn(..., reset_num_timesteps=False)`` to go on).

    The cost is one ``np.isfinite(...).all()`` per float array and step (observations of bool or uint8
    dtype, such as images, and integer actions are skipped by their dtype); the diagnosis runs only
    after a check failed.

    Limitation: ``VecNormalize`` clips the normalised terminal observation that it writes in ``infos``
    (the original is lost), so an *inf* in a terminal observation is stored clipped, hence finite, and
    not reported (a NaN is).
    """

    _vec_normalize_env: Any
    _last_obs: Any
    _last_original_obs: Any
    num_timesteps: int
    replay_buffer: Any

    def _setup_learn(self, *args: Any, **kwargs: Any) -> Any:
        result = super()._setup_learn(*args, **kwargs)  # type: ignore[misc]
        # The first observation after a reset is stored as the first transition's observation.
        obs = self._last_original_obs if self._vec_normalize_env is not None else self._last_obs
        if obs is not None and not _finite_obs(obs):
            problems = [
                problem
                for i in range(_n_envs(obs))
                for problem in _obs_problems("observation", _env_obs(obs, i), i, " (the first after the reset)")
            ]
            self._raise_non_finite(problems, stored="It was not stored")
        return result

    def _store_transition(
        self,
        replay_buffer: Any,
        buffer_action: np.ndarray,
        new_obs: Obs,
        reward: np.ndarray,
        dones: np.ndarray,
        infos: list[dict[str, Any]],
    ) -> None:
        # What SB3 stores: with VecNormalize, the original observation and reward.
        if self._vec_normalize_env is not None:
            stored_obs = self._vec_normalize_env.get_original_obs()
            stored_reward = self._vec_normalize_env.get_original_reward()
        else:
            stored_obs, stored_reward = new_obs, reward
        if not (
            _finite_obs(stored_obs)
            and _finite(stored_reward)
            and _finite(buffer_action)
            and (not dones.any() or self._terminal_obs_finite(dones, infos))
        ):
            self._raise_non_finite(self._transition_problems(buffer_action, stored_obs, stored_reward, dones, infos))
        super()._store_transition(replay_buffer, buffer_action, new_obs, reward, dones, infos)  # type: ignore[misc]

    def _terminal_obs(self, info: dict[str, Any]) -> Obs | None:
        """The terminal observation SB3 stores for an env whose episode ended (unnormalised), if any."""
        terminal = info.get("terminal_observation")
        if terminal is not None and self._vec_normalize_env is not None:
            terminal = self._vec_normalize_env.unnormalize_obs(terminal)
        return terminal

    def _terminal_obs_finite(self, dones: np.ndarray, infos: list[dict[str, Any]]) -> bool:
        for i in np.flatnonzero(dones):
            terminal = self._terminal_obs(infos[i])
            if terminal is not None and not _finite_obs(terminal):
                return False
        return True

    def _transition_problems(
        self,
        buffer_action: np.ndarray,
        obs: Obs,
        reward: np.ndarray,
        dones: np.ndarray,
        infos: list[dict[str, Any]],
    ) -> list[str]:
        """Diagnosis, after a check failed: what is non-finite, per env."""
        n_envs = len(dones)
        problems = []
        for i in range(n_envs):
            if dones[i]:
                # The new observation of an env whose episode ended is the first of its next episode (the
                # observation of its next transition); this transition's next one is the terminal one.
                note = " (the first of its next episode, after the automatic reset)"
                problems += _obs_problems("observation", _env_obs(obs, i), i, note)
                terminal = self._terminal_obs(infos[i])
                if terminal is not None:
                    problems += _obs_problems("terminal observation", terminal, i)
            else:
                problems += _obs_problems("next observation", _env_obs(obs, i), i)
        reward = np.asarray(reward).reshape(n_envs, -1)
        problems += [f"the reward of env {i} {p}" for i in range(n_envs) if (p := _describe(reward[i])) is not None]
        action = np.asarray(buffer_action)
        bad_actions = [f"the action of env {i} {p}" for i in range(n_envs) if (p := _describe(action[i])) is not None]
        if bad_actions:
            bad_actions[-1] += " (actions come from the policy or its action noise: are the actor's weights finite?)"
        # A non-finite action, fed to the env, makes its observation and reward non-finite: name it first.
        return bad_actions + problems

    def _raise_non_finite(
        self, problems: list[str], stored: str = "The transitions of this step were not stored"
    ) -> None:
        # The env's state no longer matches the last observation: the next learn() resets it.
        self._last_obs = None
        self._last_original_obs = None
        vec_normalize = self._vec_normalize_env
        original = " (original, unnormalised values)" if vec_normalize is not None else ""
        buffer = getattr(self, "replay_buffer", None)
        size = ""
        if hasattr(buffer, "size"):
            n_envs = getattr(buffer, "n_envs", 1)
            size = f" ({buffer.size()} steps of {n_envs} env{'s' if n_envs > 1 else ''})"
        message = (
            f"{type(self).__name__}: non-finite data{original} at step num_timesteps={self.num_timesteps}: "
            f"{'; '.join(problems) or 'a NaN/inf value'}. {stored} in the replay buffer, which holds "
            f"finite data only{size}; the model can be saved. Fix (or wrap) the environment, then continue "
            "with model.set_env(env) and model.learn(..., reset_num_timesteps=False)."
        )
        if vec_normalize is not None and not _vec_normalize_stats_finite(vec_normalize):
            message += (
                " The VecNormalize running statistics were updated with the non-finite values and are no "
                "longer finite: give the new env fresh (or previously saved) statistics."
            )
        raise NonFiniteDataError(message)


def _vec_normalize_stats_finite(vec_normalize: Any) -> bool:
    stats = []
    if getattr(vec_normalize, "norm_obs", False):
        obs_rms = vec_normalize.obs_rms
        stats += list(obs_rms.values()) if isinstance(obs_rms, dict) else [obs_rms]
    if getattr(vec_normalize, "norm_reward", False):
        stats.append(vec_normalize.ret_rms)
    return all(np.isfinite(rms.mean).all() and np.isfinite(rms.var).all() for rms in stats)

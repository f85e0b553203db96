"""Shared test utilities."""

from stable_baselines3.common.callbacks import EvalCallback, StopTrainingOnRewardThreshold
from stable_baselines3.common.env_util import make_vec_env


def best_evaluation_return(model, env_id: str, budget: int, threshold: float, eval_freq: int) -> float:
    """Train up to ``budget`` steps, evaluating every ``eval_freq`` steps (10 greedy episodes on a separately
    seeded env) and stopping once the mean return reaches ``threshold``; return the best mean seen.

    Off-policy returns oscillate during training, so learning tests ask for the return reached within the
    budget (RL Zoo's "best model"), not the return at an arbitrary last step.
    """
    callback = EvalCallback(
        make_vec_env(env_id, n_envs=1, seed=123),
        callback_on_new_best=StopTrainingOnRewardThreshold(reward_threshold=threshold, verbose=0),
        eval_freq=eval_freq,
        n_eval_episodes=10,
        deterministic=True,
        verbose=0,
    )
    model.learn(budget, callback=callback)
    return callback.best_mean_reward


def final_evaluation_returns(cell: str, seeds: list[int], tmp_path) -> list[float]:
    """The no-regression panel's runs of ``cell`` (benchmarks/panel.py: the zoo's settings, no loss settings, the
    panel's budget) on ``seeds``: the mean greedy return of 10 episodes after the **last** update of each."""
    from benchmarks import panel

    return [panel.run_one(cell, "default", seed, {}, tmp_path / f"{seed}.json")["final_return"] for seed in seeds]

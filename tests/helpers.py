"""Shared test utilities."""

import copy

import torch as th
from stable_baselines3.common.callbacks import BaseCallback, EvalCallback, StopTrainingOnRewardThreshold
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


def policy_and_rollout_before_first_update(model, steps: int):
    """Run ``model.learn(steps)`` (one rollout, one update) and return copies of the policy and the rollout buffer
    as they were when the rollout ended, before the update."""
    before = {}

    class Snapshot(BaseCallback):
        def _on_rollout_end(self) -> None:
            before["policy"] = copy.deepcopy(self.model.policy)
            before["buffer"] = copy.deepcopy(self.model.rollout_buffer)

        def _on_step(self) -> bool:
            return True

    model.learn(steps, callback=Snapshot())
    return before["policy"], before["buffer"]


def assert_one_sgd_step(policy_before, policy_after, total: th.Tensor, lr: float) -> None:
    """The parameters moved by exactly ``-lr * grad(total)`` (plain SGD, no clipping)."""
    grads = th.autograd.grad(total, list(policy_before.parameters()), allow_unused=True)
    pairs = zip(policy_before.named_parameters(), grads, policy_after.named_parameters(), strict=True)
    for (name, param), grad, (_, updated) in pairs:
        expected = param.detach() - lr * (grad if grad is not None else 0.0)
        th.testing.assert_close(updated.detach(), expected, atol=1e-6, rtol=1e-5, msg=name)

"""Random-policy returns of the MinAtar v1 games (the lower anchor of the score normalisation).

``python -m benchmarks.reference_scores [--episodes 100]`` prints the values stored in
``benchmarks.suites.MINATAR_RANDOM_SCORES`` (uniform random actions, episode seeds 0..episodes-1).
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np

from benchmarks.algos import register_envs
from benchmarks.suites import MINATAR_GAMES


def random_score(game: str, episodes: int) -> tuple[float, float]:
    register_envs()
    env = gym.make(f"MinAtar/{game}-v1")
    env.action_space.seed(0)
    returns = []
    for episode in range(episodes):
        env.reset(seed=episode)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns)), float(np.std(returns) / np.sqrt(episodes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=100)
    args = parser.parse_args()
    for game in MINATAR_GAMES:
        mean, sem = random_score(game, args.episodes)
        print(f"{game}: {mean:.2f} (s.e. {sem:.2f})")


if __name__ == "__main__":
    main()

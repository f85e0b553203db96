"""The two anchors of the score normalisation ``(R - R_random) / (R_reference - R_random)``, per task.

- ``R_random``: a uniform-random policy's mean return, measured here (no training):
  ``python -m benchmarks.anchors [--tasks Breakout Hopper-v5 ...] [--episodes 100]`` writes
  ``benchmarks/results/anchors/random.json`` (per task: mean, standard error, episodes; with the machine,
  versions, commit, sources hash and command), updating only the tasks it measured.
- ``R_reference``: a named score from outside the compared runs (:data:`REFERENCES`, each with its source).

Neither anchor is a run of the set being analysed, so a run's normalised score does not change with the
other runs it is analysed with. A task with no anchor is not normalised (the analysis says so).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.run import RESULTS_DIR, git_commit, machine_info, package_versions, source_fingerprint
from benchmarks.suites import MINATAR_GAMES

ANCHORS_FILE = RESULTS_DIR / "anchors" / "random.json"
#: Every task the suites use (MinAtar games by their short name, as result files name them).
TASKS = [*MINATAR_GAMES, "CartPole-v1", "Pendulum-v1", "HalfCheetah-v5", "Hopper-v5", "Walker2d-v5"]
#: Episode cap of a MinAtar episode, as in the suites' evaluation (``eval_max_episode_steps``).
MINATAR_MAX_EPISODE_STEPS = 10_000


@dataclass(frozen=True)
class Reference:
    """A reference score and where it comes from."""

    score: float
    source: str


_ZOO = ("rl-baselines3-zoo benchmark.md (commit 0088472b8c), {algo} on {env} after {steps} steps: one trained agent, "
        "deterministic policy")
#: No published table gives MinAtar v1 final returns at these settings (the MinAtar paper reports learning curves),
#: so the MinAtar reference is SB3's own DQN (Huber loss) with Suite A's settings at 500k steps: the mean final
#: return of its 3 seeds (benchmarks/results/minatar/500k/*/huber), frozen here; 1.0 reads "as good as SB3's DQN".
_MINATAR_SOURCE = "SB3 DQN (Huber) with Suite A's settings at 500k steps, mean of seeds 0-2 (frozen 2026-12-07)"
#: (task, algorithm family) -> reference; family None applies to every algorithm on the task.
REFERENCES: dict[tuple[str, str | None], Reference] = {
    ("Asterix", None): Reference(7.20, _MINATAR_SOURCE),
    ("Breakout", None): Reference(7.23, _MINATAR_SOURCE),
    ("Freeway", None): Reference(51.83, _MINATAR_SOURCE),
    ("Seaquest", None): Reference(0.80, _MINATAR_SOURCE),
    ("SpaceInvaders", None): Reference(41.67, _MINATAR_SOURCE),
    ("CartPole-v1", None): Reference(500.0, "the most an episode can return (500 steps of reward 1)"),
    ("Pendulum-v1", "sac"): Reference(-156.995, _ZOO.format(algo="SAC", env="Pendulum-v1", steps="20k")),
    ("Pendulum-v1", "ppo"): Reference(-172.225, _ZOO.format(algo="PPO", env="Pendulum-v1", steps="100k")),
    ("HalfCheetah-v5", "sac"): Reference(9535.451, _ZOO.format(algo="SAC", env="HalfCheetah-v3", steps="1M")),
    ("Hopper-v5", "sac"): Reference(2325.547, _ZOO.format(algo="SAC", env="Hopper-v3", steps="1M")),
    ("Walker2d-v5", "sac"): Reference(3863.203, _ZOO.format(algo="SAC", env="Walker2d-v3", steps="1M")),
    ("HalfCheetah-v5", "ppo"): Reference(5819.099, _ZOO.format(algo="PPO", env="HalfCheetah-v3", steps="1M")),
    ("Hopper-v5", "ppo"): Reference(2410.435, _ZOO.format(algo="PPO", env="Hopper-v3", steps="1M")),
    ("Walker2d-v5", "ppo"): Reference(3478.798, _ZOO.format(algo="PPO", env="Walker2d-v3", steps="1M")),
}


def algo_family(algo: str) -> str:
    """``sac`` / ``ppo`` / ``dqn`` / ...: the family whose reference applies (HLGaussSAC is read against SAC's)."""
    for family in ("sac", "ppo", "td3", "a2c", "dqn"):
        if family in algo:
            return family
    return algo


def reference(task: str, algo: str | None = None) -> Reference | None:
    """The reference score of ``task`` for an algorithm (its family's, else the task's), or None."""
    if algo is not None and (task, algo_family(algo)) in REFERENCES:
        return REFERENCES[(task, algo_family(algo))]
    return REFERENCES.get((task, None))


def env_id(task: str) -> str:
    """The environment id of a task name (MinAtar games are named without prefix and version in the results)."""
    return f"MinAtar/{task}-v1" if task in MINATAR_GAMES else task


def random_returns(task: str, episodes: int, seed: int = 0) -> tuple[list[float], list[int]]:
    """Returns and lengths of ``episodes`` episodes of uniform-random actions (episode ``k`` reset with seed + k)."""
    from benchmarks.algos import make_env

    cap = MINATAR_MAX_EPISODE_STEPS if task in MINATAR_GAMES else None
    env = make_env(env_id(task), seed, 0.0, cap)
    env.action_space.seed(seed)
    returns, lengths = [], []
    for episode in range(episodes):
        env.reset(seed=seed + episode)
        total, steps, done = 0.0, 0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total, steps, done = total + float(reward), steps + 1, terminated or truncated
        returns.append(total)
        lengths.append(steps)
    env.close()
    return returns, lengths


def measure(tasks: list[str], episodes: int, out: Path = ANCHORS_FILE, command: str | None = None) -> dict:
    """Measure the random policy on ``tasks`` and merge the results into ``out`` (other tasks are kept)."""
    data = json.loads(out.read_text()) if out.exists() else {"tasks": {}}
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    for task in tasks:
        returns, lengths = random_returns(task, episodes)
        data["tasks"][task] = {
            "env_id": env_id(task),
            "mean": float(np.mean(returns)),
            "sem": float(np.std(returns, ddof=1) / np.sqrt(len(returns))) if len(returns) > 1 else None,
            "episodes": len(returns),
            "mean_length": float(np.mean(lengths)),
            "measured": started,
        }
        print(f"{task}: {data['tasks'][task]['mean']:.3f} (s.e. {data['tasks'][task]['sem'] or 0:.3f}, "
              f"{episodes} episodes)")
    data.update(
        policy="uniform random actions (action_space.sample(), seeded 0; episode k reset with seed k)",
        command=command or "python -m benchmarks.anchors " + " ".join(sys.argv[1:]),
        versions=package_versions(), git_commit=git_commit(), source=source_fingerprint(), machine=machine_info(),
    )
    data["tasks"] = dict(sorted(data["tasks"].items()))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1) + "\n")
    return data


def random_scores(path: Path = ANCHORS_FILE) -> dict[str, float]:
    """task -> the random policy's measured mean return (empty when nothing was measured)."""
    if not Path(path).exists():
        return {}
    return {task: row["mean"] for task, row in json.loads(Path(path).read_text())["tasks"].items()}


def normalisation(tasks: list[str], algo: str | None = None, path: Path = ANCHORS_FILE,
                  ) -> tuple[dict[str, tuple[float, float]], dict[str, str]]:
    """``({task: (R_random, R_reference)}, {task: why it has no anchors})`` for the tasks of an analysis."""
    randoms = random_scores(path)
    anchors, missing = {}, {}
    for task in tasks:
        ref = reference(task, algo)
        if task not in randoms or ref is None:
            missing[task] = "no random-policy measurement" if task not in randoms else "no reference score"
        elif not ref.score > randoms[task]:
            missing[task] = f"reference {ref.score:g} is not above the random policy's {randoms[task]:g}"
        else:
            anchors[task] = (randoms[task], ref.score)
    return anchors, missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=TASKS, help="task names or env ids (default: every suite task)")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--out", type=Path, default=ANCHORS_FILE)
    args = parser.parse_args(argv)
    measure(args.tasks, args.episodes, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

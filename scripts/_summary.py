"""The end of ``scripts/main.sh``: evaluate the agent the zoo just trained and say where it is and what next.

    python scripts/_summary.py [--since EPOCH] [--episodes 10] ZOO_TRAIN_FLAGS...

Reads the zoo's ``train`` flags (``--algo``, ``--env``, ``-f``; the rest is ignored), finds the newest run
``LOG_FOLDER/ALGO/ENV_N/ENV.zip`` (written after ``--since``), loads it with the algorithm's own ``load``
(``HLGaussDQN.load`` for ``hlgauss_dqn``) in the environment the zoo's ``enjoy`` would build (saved
wrappers and ``VecNormalize`` statistics included), runs SB3's ``evaluate_policy`` and prints a few lines.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
import warnings
from pathlib import Path


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--since", type=float, default=0.0)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--algo", default="hlgauss_dqn")
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("-f", "--log-folder", default="logs")
    parser.add_argument("-optimize", "--hyperparameter-optimization", dest="optimize", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args, _ = parser.parse_known_args(argv)
    return args


def latest_model(folder: str, algo: str, env_name: str, since: float) -> Path | None:
    """The newest ``FOLDER/ALGO/ENV_*/ENV.zip`` written at or after ``since`` (None if there is none)."""
    found = [path for path in Path(folder, algo).glob(f"{env_name}_*/{env_name}.zip") if path.stat().st_mtime >= since]
    return max(found, key=lambda path: path.stat().st_mtime, default=None)


def evaluate(algo: str, env_name, model_path: Path, episodes: int, seed: int) -> tuple[float, float]:
    from rl_zoo3.exp_manager import ExperimentManager
    from rl_zoo3.utils import ALGOS, create_test_env, get_saved_hyperparams
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

    hyperparams, stats_path = get_saved_hyperparams(str(model_path.parent / env_name), norm_reward=False, test_mode=True)
    env = create_test_env(env_name.gym_id, n_envs=1, stats_path=stats_path, seed=seed, should_render=False,
                          hyperparams=hyperparams, vec_env_cls=ExperimentManager.default_vec_env_cls)
    algo_class = ALGOS[algo]
    kwargs = {"buffer_size": 1} if issubclass(algo_class, OffPolicyAlgorithm) else {}  # no replay memory to evaluate
    model = algo_class.load(model_path, env=env, device="cpu", **kwargs)
    mean, std = evaluate_policy(model, env, n_eval_episodes=episodes, deterministic=True)
    env.close()
    return float(mean), float(std)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    from rl_zoo3.utils import EnvironmentName

    from sb3_hlgauss.zoo import register_zoo

    register_zoo()
    env_name = EnvironmentName(args.env)
    zoo = "python -m sb3_hlgauss.zoo"
    folder = shlex.quote(args.log_folder)
    print()
    if args.optimize:
        print(f"Tuning done: the trials' logs are in {Path(args.log_folder, args.algo)}/ ; "
              f"train with the best trial: {zoo} train --algo {args.algo} --env {args.env} -f {folder} "
              "--storage URL --study-name NAME --trial-id best")
        return 0
    model_path = latest_model(args.log_folder, args.algo, env_name, args.since)
    if model_path is None:
        print(f"No model of {args.algo} on {args.env} was saved in {Path(args.log_folder, args.algo)}/ by this run.")
        return 1
    run = model_path.parent
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mean, std = evaluate(args.algo, env_name, model_path, args.episodes, args.seed)
    exp_id = run.name.rsplit("_", 1)[-1]
    exp = f" --exp-id {exp_id}" if exp_id.isdigit() else ""
    print(f"{args.algo} on {args.env}: final evaluation return {mean:.1f} +- {std:.1f} "
          f"(mean +- std over {args.episodes} episodes, deterministic actions; {time.perf_counter() - started:.0f} s)")
    print(f"  model: {model_path}   (load it with {type_name(args.algo)}.load)")
    print(f"  logs:  {run}{os.sep}   (monitor.csv, evaluations.npz, the settings in {env_name}{os.sep}config.yml)")
    print("Next:")
    print(f"  watch it:  {zoo} enjoy --algo {args.algo} --env {args.env} -f {folder}{exp} -n 1000   (--no-render without a display)")
    print(f"  plot it:   {zoo} plot_train --algo {args.algo} --env {args.env} -f {folder} --save curve.png")
    print(f"  tune it:   {zoo} train --algo {args.algo} --env {args.env} -f {folder}/tune -optimize --n-trials 20 "
          f"--storage sqlite:///optuna.db --study-name {args.algo}_{args.env}")
    return 0


def type_name(algo: str) -> str:
    from rl_zoo3.utils import ALGOS

    return ALGOS[algo].__name__


if __name__ == "__main__":
    raise SystemExit(main())

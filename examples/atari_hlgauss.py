"""HL-Gauss DQN on Atari with the settings of *Stop Regressing* (Farebrother et al., 2024, Appendix B).

    python examples/atari_hlgauss.py                                   # Pong, 10M agent steps (40M frames)
    python examples/atari_hlgauss.py --env ALE/Breakout-v5 --timesteps 2000000
    python examples/atari_hlgauss.py --timesteps 200 --eval-episodes 0 --output /tmp/pong.zip   # smoke test

The paper's settings, as used here:

* rewards clipped to [-1, 1] (SB3's ``AtariWrapper``), 84x84 grey frames, 4 frames skipped (max-pooled)
  and 4 stacked, sticky actions with probability 0.25, minimal action set, no terminal on life loss;
* ``loss="hl_gauss"``, 51 bins on ``[-10, 10]``, identity value transform, sigma = 0.75 bin widths
  (with rewards in [-1, 1] and gamma = 0.99, ``|Q| <= 100`` in theory, but the paper's range of
  +-10 covers the returns seen in practice: watch ``train/target_clip_fraction``);
* Adam, learning rate 2.5e-4, eps 3.125e-4 (4x the MSE DQN's 6.25e-5 learning rate);
* gamma 0.99, batch 32, one update every 4 agent steps, target network copied every 8,000 steps,
  replay buffer 1M transitions, learning after 20,000 steps, epsilon decayed to 0.01 over 250,000 steps;
* the Nature CNN (SB3's ``CnnPolicy``).

Differences from the paper: SB3 clips gradients at norm 10 (``max_grad_norm``) and ``AtariWrapper``
starts episodes with up to 30 no-ops. The paper trains for 200M frames (50M agent steps).
A replay buffer of 1M stacked 84x84x4 frames needs about 28 GB of RAM (1e6 x 84 x 84 x 4 bytes):
lower ``--buffer-size`` on a small machine.
"""

from __future__ import annotations

import argparse
import os

import ale_py
import gymnasium as gym
import torch as th
from stable_baselines3.common.env_util import make_atari_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import VecFrameStack

from sb3_hlgauss import HLGaussDQN

gym.register_envs(ale_py)  # registers the ALE/<Game>-v5 ids (ale-py ships the ROMs)


def make_env(env_id: str, seed: int, n_envs: int = 1):
    env = make_atari_env(
        env_id,
        n_envs=n_envs,
        seed=seed,
        # frameskip=1: AtariWrapper does the frame skipping (and max-pooling) itself.
        env_kwargs=dict(frameskip=1, repeat_action_probability=0.25, full_action_space=False),
        wrapper_kwargs=dict(terminal_on_life_loss=False, clip_reward=True),
    )
    return VecFrameStack(env, n_stack=4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="ALE/Pong-v5", help="an ALE/<Game>-v5 id")
    parser.add_argument("--timesteps", type=int, default=10_000_000, help="agent steps (4 frames each)")
    parser.add_argument("--buffer-size", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-episodes", type=int, default=10, help="0 skips the final evaluation")
    parser.add_argument("--output", default="hlgauss_dqn_atari.zip", help="where to save the trained model")
    parser.add_argument("--tensorboard-log", default=None)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    env = make_env(args.env, args.seed)
    model = HLGaussDQN(
        "CnnPolicy",
        env,
        # The value loss: the paper's online Atari setting.
        loss="hl_gauss",
        num_bins=51,
        v_min=-10.0,
        v_max=10.0,
        sigma_ratio=0.75,
        value_transform="identity",
        # Optimiser: 4x the MSE DQN's learning rate.
        learning_rate=2.5e-4,
        policy_kwargs=dict(optimizer_class=th.optim.Adam, optimizer_kwargs=dict(eps=3.125e-4)),
        # DQN settings (Dopamine's).
        gamma=0.99,
        batch_size=32,
        train_freq=4,
        gradient_steps=1,
        target_update_interval=8_000,
        buffer_size=min(args.buffer_size, max(args.timesteps, 1_000)),
        optimize_memory_usage=True,
        replay_buffer_kwargs=dict(handle_timeout_termination=False),
        learning_starts=min(20_000, args.timesteps // 2),
        exploration_initial_eps=1.0,
        exploration_final_eps=0.01,
        exploration_fraction=min(1.0, 250_000 / args.timesteps),
        tensorboard_log=args.tensorboard_log,
        verbose=1,
        seed=args.seed,
        device=args.device,
    )
    model.learn(total_timesteps=args.timesteps, log_interval=10)
    values = model.logger.name_to_value
    print(f"last update: q_mean={values.get('train/q_mean')}, clip_fraction={values.get('train/target_clip_fraction')}, "
          f"targets clipped so far={model.n_clipped_targets}")

    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    model.save(args.output)
    print(f"saved {args.output}")

    if args.eval_episodes > 0:
        # evaluate_policy reads the Monitor that make_atari_env puts below AtariWrapper: these are
        # game scores (unclipped rewards), not the clipped rewards the agent trains on.
        mean_return, std_return = evaluate_policy(model, make_env(args.env, args.seed + 100),
                                                  n_eval_episodes=args.eval_episodes)
        print(f"evaluation score over {args.eval_episodes} episodes: {mean_return:.1f} +- {std_return:.1f}")


if __name__ == "__main__":
    main()

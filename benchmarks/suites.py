"""Declarative definitions of the benchmark suites.

A suite is a list of :class:`Group` s; a group is the cross product
``envs x variants x seeds`` with one shared configuration. :func:`expand` turns a suite into
:class:`RunSpec` s, one per result file. Everything a run depends on is in its ``RunSpec``
(and is written, in full, into its result file).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from benchmarks.algos import DQN_VARIANTS, VARIANTS

MINATAR_GAMES = ["Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders"]

#: Mean return of the uniform random policy over 100 episodes (seeds 0..99), measured with
#: ``python -m benchmarks.reference_scores``; the lower anchor of the per-game normalisation.
MINATAR_RANDOM_SCORES = {
    "Asterix": 0.40,
    "Breakout": 0.40,
    "Freeway": 0.39,
    "Seaquest": 0.08,
    "SpaceInvaders": 4.48,
}

#: Optimiser settings of the paper (Appendix B): Adam; the classification agents get 4x the
#: regression agents' learning rate. ``--opt`` of a variant label names which one a run used.
OPTIMIZERS = {
    "reg": dict(learning_rate=6.25e-5, optimizer_kwargs=dict(eps=1.5e-4)),
    "cls": dict(learning_rate=2.5e-4, optimizer_kwargs=dict(eps=3.125e-4)),
}

#: DQN on MinAtar: the MinAtar network (one 3x3 conv, 16 channels, then 128 units), replay and
#: target-network settings of the MinAtar paper (Young & Tian, 2019), the Stop-Regressing
#: update rule (one gradient step every 4 env steps, batch 32, final epsilon 0.01).
MINATAR_DQN: dict[str, Any] = dict(
    policy="MlpPolicy",
    buffer_size=100_000,
    learning_starts=5_000,
    batch_size=32,
    gamma=0.99,
    train_freq=4,
    gradient_steps=1,
    target_update_interval=1_000,
    exploration_fraction=0.1,
    exploration_initial_eps=1.0,
    exploration_final_eps=0.01,
    max_grad_norm=10.0,
    policy_kwargs=dict(features_extractor_class="MinAtarCNN", net_arch=[128]),
)

#: Suite S (capacity): the MinAtar network 4x wider in every layer (64 conv channels, 512 hidden units).
#: Everything else is Suite A's, so Suite A's x1 runs are the x1 cells of the capacity comparison.
MINATAR_DQN_X4: dict[str, Any] = {
    **MINATAR_DQN,
    "policy_kwargs": dict(features_extractor_class="MinAtarCNN", features_extractor_kwargs=dict(channels=64), net_arch=[512]),
}

#: Support of the categorical critics on MinAtar (identity transform). MinAtar rewards are +1 per
#: event (Seaquest: up to +10 when surfacing with six divers), never negative, so with gamma = 0.99
#: the discounted return lies in [0, ~100] (one reward every step: 1 / (1 - gamma)). The support is
#: symmetric, [-105, 105], with bins 0.5 wide (420 bins; HL-Gauss sigma = 0.375): a freshly
#: initialised categorical head outputs near-uniform probabilities, i.e. the support's midpoint, so
#: the midpoint must be a plausible initial value (0), as with the paper's [-10, 10] on Atari. The
#: first sitting used [-5, 105] (midpoint 50): the Q-values started at ~50 and were still ~8 after
#: 20k steps (Breakout), which cost HL-Gauss most of a 100k budget; those runs are kept as
#: ``minatar_asym``. Clipped targets are counted in each result file.
MINATAR_SUPPORT: dict[str, Any] = dict(v_min=-105.0, v_max=105.0, num_bins=420, value_transform="identity")
#: Suite A's range with C51's own 51 atoms (bins 4.1 wide), for the C51 support check (suite ``c51_atoms``).
MINATAR_SUPPORT_51: dict[str, Any] = dict(v_min=-105.0, v_max=105.0, num_bins=51, value_transform="identity")
#: The first sitting's support (midpoint 50), kept to document the initial-value bias.
MINATAR_ASYM_SUPPORT: dict[str, Any] = dict(v_min=-5.0, v_max=105.0, num_bins=220, value_transform="identity")
#: Suite B adds eps ~ U(0, eta <= 1) to every reward: returns up to (1 + 1) / (1 - gamma) = 200.
#: Same bin width (0.5), symmetric support [-205, 205]; used for every eta, eta = 0 included.
NOISE_SUPPORT: dict[str, Any] = dict(v_min=-205.0, v_max=205.0, num_bins=820, value_transform="identity")


#: The zoo's tuned PPO hyperparameters (rl-zoo3 2.9 ``hyperparams/ppo.yml``, its -v4 MuJoCo entries, as in
#: ``zoo_configs/ppo.yml``): ``n_envs`` and ``normalize`` (VecNormalize of observations and rewards, with the
#: run's gamma) set up the training env; ``"lin_x"`` is the zoo's linear schedule from x to 0.
_ZOO_PPO_MUJOCO_NET = dict(
    log_std_init=-2, ortho_init=False, activation_fn="ReLU", net_arch=dict(pi=[256, 256], vf=[256, 256])
)
ZOO_PPO: dict[str, dict[str, Any]] = {
    "HalfCheetah-v5": dict(
        policy="MlpPolicy", normalize=True, n_envs=1, batch_size=64, n_steps=512, gamma=0.98, learning_rate=2.0633e-05,
        ent_coef=0.000401762, clip_range=0.1, n_epochs=20, gae_lambda=0.92, max_grad_norm=0.8, vf_coef=0.58096,
        policy_kwargs=_ZOO_PPO_MUJOCO_NET,
    ),
    "Hopper-v5": dict(
        policy="MlpPolicy", normalize=True, n_envs=1, batch_size=32, n_steps=512, gamma=0.999,
        learning_rate=9.80828e-05,
        ent_coef=0.00229519, clip_range=0.2, n_epochs=5, gae_lambda=0.99, max_grad_norm=0.7, vf_coef=0.835671,
        policy_kwargs=_ZOO_PPO_MUJOCO_NET,
    ),
    "Walker2d-v5": dict(
        policy="MlpPolicy", normalize=True, n_envs=1, batch_size=32, n_steps=512, gamma=0.99, learning_rate=5.05041e-05,
        ent_coef=0.000585045, clip_range=0.1, n_epochs=20, gae_lambda=0.95, max_grad_norm=1, vf_coef=0.871923,
    ),
    # The zoo has no MinAtar entry: its Atari PPO settings with the MinAtar network (zoo_configs/ppo.yml).
    "MinAtar": dict(
        policy="MlpPolicy", n_envs=8, n_steps=128, n_epochs=4, batch_size=256, learning_rate="lin_2.5e-4",
        clip_range="lin_0.1", vf_coef=0.5, ent_coef=0.01,
        policy_kwargs=dict(features_extractor_class="MinAtarCNN", net_arch=[128]),
    ),
}
#: Suite E's MinAtar games (those of Suite B) and budget (the zoo config's 5M takes about 4x longer).
PPO_MINATAR_GAMES = ["Breakout", "SpaceInvaders"]
PPO_MINATAR_STEPS = 2_000_000


@dataclass(frozen=True)
class Group:
    """``envs x variants x seeds`` runs sharing one configuration."""

    envs: list[str]
    variants: list[str]
    seeds: list[int]
    total_steps: int
    algo_kwargs: dict[str, Any]
    #: Optimiser preset per variant label ("reg" / "cls"); default: by loss family.
    optimizer: str | None = None
    support: dict[str, Any] = field(default_factory=dict)
    reward_noise: list[float] = field(default_factory=lambda: [0.0])
    n_evals: int = 10
    eval_episodes: int = 5
    eval_max_episode_steps: int | None = 10_000
    env_prefix: str = ""
    env_suffix: str = ""
    #: Appended to the variant labels (after "@"), to tell apart runs of one variant with other settings.
    tag: str | None = None


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines one run (one result file)."""

    suite: str
    env_id: str
    game: str
    variant: str
    label: str
    algo: str
    seed: int
    total_steps: int
    reward_noise: float
    eval_every: int
    eval_episodes: int
    eval_max_episode_steps: int | None
    algo_kwargs: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @property
    def relpath(self) -> str:
        """Result file path, relative to the results root."""
        noise = f"_eta{self.reward_noise:g}" if self.suite_uses_noise else ""
        return f"{self.suite}/{_steps_label(self.total_steps)}/{self.game}{noise}/{self.label}/seed{self.seed}.json"

    @property
    def suite_uses_noise(self) -> bool:
        return self.suite.startswith("noise")

    def reference(self) -> RunSpec | None:
        """The run of another suite that this noiseless run repeats setting for setting (see
        :data:`NOISELESS_REFERENCE`), or None."""
        if self.reward_noise or self.suite not in NOISELESS_REFERENCE:
            return None
        return dataclasses.replace(self, suite=NOISELESS_REFERENCE[self.suite])

    def key(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def _steps_label(steps: int) -> str:
    if steps % 1_000_000 == 0:
        return f"{steps // 1_000_000}M"
    if steps % 1_000 == 0:
        return f"{steps // 1_000}k"
    return str(steps)


def _dqn_group(
    envs, variants, seeds, steps=500_000, optimizer=None, support=MINATAR_SUPPORT, algo_kwargs=MINATAR_DQN, **kw
) -> Group:
    return Group(
        envs=envs,
        variants=variants,
        seeds=seeds,
        total_steps=steps,
        algo_kwargs=algo_kwargs,
        optimizer=optimizer,
        support=support,
        env_prefix="MinAtar/",
        env_suffix="-v1",
        **kw,
    )


SUITES: dict[str, list[Group]] = {
    # Suite A: the five MinAtar games, every loss, identical settings but the paper's learning rates.
    "minatar": [
        _dqn_group(MINATAR_GAMES, ["mse", "huber", "hl_gauss"], [0, 1, 2]),
        _dqn_group(MINATAR_GAMES, ["two_hot", "c51"], [0]),
    ],
    # Suite A, learning-rate check: each loss with the other family's optimiser settings.
    "minatar_lr": [
        _dqn_group(["Breakout"], ["mse", "huber"], [0, 1, 2], optimizer="cls"),
        _dqn_group(["Breakout"], ["hl_gauss"], [0, 1, 2], optimizer="reg"),
    ],
    # Suite A with the first sitting's asymmetric support [-5, 105] (midpoint 50): initial-value bias.
    "minatar_asym": [
        _dqn_group(MINATAR_GAMES, ["hl_gauss"], [0], support=MINATAR_ASYM_SUPPORT, tag="asym"),
        _dqn_group(["Breakout"], ["hl_gauss"], [0], optimizer="reg", support=MINATAR_ASYM_SUPPORT, tag="asym"),
    ],
    # Suite A, ablation: the categorical head trained with MSE on its expected value.
    "minatar_ablation": [
        _dqn_group(MINATAR_GAMES, ["categorical_mse"], [0, 1, 2]),
    ],
    # Suite S: capacity. MSE vs HL-Gauss with the MinAtar network 4x wider (label suffix "@x4"); the
    # x1 cells are Suite A's runs (benchmarks.analyze --suite capacity reads both).
    "capacity": [
        _dqn_group(MINATAR_GAMES, ["mse", "hl_gauss"], [0, 1, 2], algo_kwargs=MINATAR_DQN_X4, tag="x4"),
    ],
    # Defaults check (issue 16): HL-Gauss with the package's default support (101 bins, symlog, [-1e4, 1e4]; no
    # num_bins/v_min/v_max/value_transform given) against Suite A's hand-set HL-Gauss (label suffix "@defaults").
    "minatar_defaults": [
        _dqn_group(MINATAR_GAMES, ["hl_gauss"], [0, 1, 2], support={}, tag="defaults"),
    ],
    # C51's support (issue 16): C51 at Suite A's 420 atoms never learned Freeway steadily and scored 0 on
    # Seaquest, where Two-Hot on the same atoms did learn. The same range with 51 atoms (C51's own count,
    # bins 4.1 wide), for C51 and Two-Hot: does the atom count hold C51 back? (label suffix "@51atoms")
    "c51_atoms": [
        _dqn_group(["Freeway", "Seaquest"], ["c51"], [0, 1], support=MINATAR_SUPPORT_51, tag="51atoms"),
        _dqn_group(["Freeway", "Seaquest"], ["two_hot"], [0], support=MINATAR_SUPPORT_51, tag="51atoms"),
    ],
    # C51's initial distribution (issue 16): at 51 atoms C51 failed as at 420, and so did Two-Hot. The one part
    # changed here: C51 at Suite A's 420 atoms starts from the target distribution of a return of 0 (HLGaussPPO's
    # head initialisation) instead of uniform over [-105, 105], whose spread its target only shrinks by gamma per
    # backup (label suffix "@peaked").
    "c51_init": [
        _dqn_group(["Freeway", "Seaquest"], ["c51"], [0, 1], algo_kwargs={**MINATAR_DQN, "initial_value": 0.0},
                   tag="peaked"),
    ],
    # Suite B: reward noise eps ~ U(0, eta) on two games.
    "noise": [
        _dqn_group(
            ["Breakout", "SpaceInvaders"],
            ["mse", "hl_gauss"],
            [0, 1, 2],
            support=NOISE_SUPPORT,
            reward_noise=[0.0, 0.1, 0.3, 1.0],
        ),
    ],
    # Suite D: continuous control, SAC vs HLGaussSAC with the package's default support (symlog, 101 bins).
    "continuous": [
        Group(["Pendulum-v1"], ["sac", "sac_hl_gauss"], [0, 1, 2], 20_000,
              dict(policy="MlpPolicy", learning_starts=1_000), n_evals=10, eval_episodes=10),
        Group(["HalfCheetah-v5", "Hopper-v5"], ["sac", "sac_hl_gauss"], [0, 1, 2], 300_000,
              dict(policy="MlpPolicy", learning_starts=10_000), n_evals=20, eval_episodes=10,
              eval_max_episode_steps=None),
    ],
    # Suite E: on-policy. SB3's PPO vs HLGaussPPO (the package's default support: HL-Gauss, symlog, 101 bins,
    # [-1e4, 1e4]) with the zoo's tuned PPO hyperparameters, MuJoCo at 1M steps (VecNormalize) and two MinAtar games.
    "ppo": [
        *[
            Group([env], ["ppo", "ppo_hl_gauss"], [0, 1, 2, 3, 4], 1_000_000, ZOO_PPO[env], n_evals=20,
                  eval_episodes=10, eval_max_episode_steps=None)
            for env in ("Hopper-v5", "HalfCheetah-v5", "Walker2d-v5")
        ],
        Group(PPO_MINATAR_GAMES, ["ppo", "ppo_hl_gauss"], [0, 1, 2, 3, 4], PPO_MINATAR_STEPS, ZOO_PPO["MinAtar"],
              n_evals=20, eval_episodes=10, env_prefix="MinAtar/", env_suffix="-v1"),
    ],
    # Suite E, reward noise: eps ~ U(0, eta) added to every reward of Hopper-v5. Its eta = 0 runs are Suite E's own
    # Hopper-v5 runs (the same settings and seeds; see NOISELESS_REFERENCE).
    "noise_ppo": [
        Group(["Hopper-v5"], ["ppo", "ppo_hl_gauss"], [0, 1, 2, 3, 4], 1_000_000, ZOO_PPO["Hopper-v5"], n_evals=20,
              eval_episodes=10, eval_max_episode_steps=None, reward_noise=[0.0, 1.0]),
    ],
    # CI: a few hundred CartPole steps per run.
    "tiny": [
        Group(["CartPole-v1"], ["mse", "huber", "hl_gauss"], [0], 400,
              dict(policy="MlpPolicy", learning_starts=100, train_freq=4, target_update_interval=100,
                   exploration_fraction=0.5, policy_kwargs=dict(net_arch=[32])),
              support=dict(v_min=-5.0, v_max=105.0, num_bins=51, value_transform="identity"),
              n_evals=2, eval_episodes=2, eval_max_episode_steps=200),
    ],
    # CI: the on-policy path (n_envs, VecNormalize, schedules) on a few hundred Pendulum steps per run.
    "tiny_ppo": [
        Group(["Pendulum-v1"], ["ppo", "ppo_hl_gauss"], [0], 512,
              dict(policy="MlpPolicy", normalize=True, n_envs=2, n_steps=64, batch_size=64, n_epochs=2,
                   learning_rate="lin_1e-3", policy_kwargs=dict(net_arch=[32], activation_fn="ReLU")),
              n_evals=2, eval_episodes=2, eval_max_episode_steps=200),
    ],
}


#: Noise suites whose noiseless (eta = 0) runs are runs of another suite with the same settings and seeds: the
#: runner copies those results (marked ``reused_from``) instead of training the same configuration twice. The
#: copy is exact: at eta = 0 no noise wrapper is added and the suite's name enters neither seeding nor training.
NOISELESS_REFERENCE = {"noise_ppo": "ppo"}


def _label(variant: str, optimizer: str | None, tag: str | None = None) -> str:
    default = "reg" if VARIANTS[variant][1] is None else "cls"
    parts = [] if optimizer is None or optimizer == default else [f"{optimizer}lr"]
    parts += [tag] if tag else []
    return variant + (f"@{'+'.join(parts)}" if parts else "")


def expand(
    suite: str,
    steps: int | None = None,
    budget_scale: float | None = None,
    seeds: list[int] | None = None,
    envs: list[str] | None = None,
    variants: list[str] | None = None,
    reward_noise: list[float] | None = None,
) -> list[RunSpec]:
    """All runs of a suite, seeds outermost (every configuration's seed 0 comes first, so a
    partially finished suite is balanced across configurations). ``envs``, ``variants`` and
    ``reward_noise`` (the eta levels of Suite B) keep only the runs they name."""
    if suite not in SUITES:
        raise ValueError(f"Unknown suite {suite!r}; known: {sorted(SUITES)}")
    runs: list[RunSpec] = []
    for group in SUITES[suite]:
        total = steps or group.total_steps
        if budget_scale is not None:
            total = max(1, round(total * budget_scale))
        for seed in seeds if seeds is not None else group.seeds:
            for env in group.envs:
                if envs is not None and env not in envs:
                    continue
                for variant in group.variants:
                    if variants is not None and variant not in variants and _label(variant, group.optimizer, group.tag) not in variants:
                        continue
                    algo, loss = VARIANTS[variant]
                    kwargs = copy.deepcopy(group.algo_kwargs)
                    if variant in DQN_VARIANTS:
                        default_opt = "reg" if loss is None else "cls"
                        opt = copy.deepcopy(OPTIMIZERS[group.optimizer or default_opt])
                        kwargs["learning_rate"] = opt["learning_rate"]
                        pk = kwargs.setdefault("policy_kwargs", {})
                        pk["optimizer_kwargs"] = opt["optimizer_kwargs"]
                    if loss is not None:
                        kwargs.update(loss=loss, **group.support)
                    for eta in group.reward_noise:
                        if reward_noise is not None and eta not in reward_noise:
                            continue
                        runs.append(
                            RunSpec(
                                suite=suite,
                                env_id=f"{group.env_prefix}{env}{group.env_suffix}",
                                game=env,
                                variant=variant,
                                label=_label(variant, group.optimizer, group.tag),
                                algo=algo,
                                seed=seed,
                                total_steps=total,
                                reward_noise=eta,
                                eval_every=max(1, total // group.n_evals),
                                eval_episodes=group.eval_episodes,
                                eval_max_episode_steps=group.eval_max_episode_steps,
                                algo_kwargs=kwargs,
                            )
                        )
    _check_filters(suite, envs, variants, reward_noise)
    runs.sort(key=lambda r: r.seed)  # stable: keeps the group order within a seed
    return runs


def _check_filters(suite: str, envs, variants, reward_noise) -> None:
    """A filter naming something the suite does not have is a typo, not an empty selection."""
    groups = SUITES[suite]
    known = {
        "envs": {env for g in groups for env in g.envs},
        "variants": {name for g in groups for v in g.variants for name in (v, _label(v, g.optimizer, g.tag))},
        "reward_noise": {eta for g in groups for eta in g.reward_noise},
    }
    for name, wanted in (("envs", envs), ("variants", variants), ("reward_noise", reward_noise)):
        unknown = sorted(set(wanted or ()) - known[name])
        if unknown:
            raise ValueError(f"{name}={unknown} not in suite {suite!r}; it has {sorted(known[name])}")

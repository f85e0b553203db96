"""The benchmark suites: suite files, their presets, and their expansion into runs.

A suite is a YAML file in ``benchmarks/suites/`` (or anywhere: pass its path): a list of ``groups``, each the
cross product ``envs x variants x seeds`` with one shared configuration (the fields of :class:`Group`), and
optional ``defaults`` merged into every group. A group (or the defaults) may name a ``preset``
(:data:`GROUP_PRESETS`); ``algo_kwargs`` and ``support`` may name one of :data:`ALGO_PRESETS` /
:data:`SUPPORT_PRESETS`, or be a mapping (``{preset: NAME, key: value, ...}`` extends a preset). Adding a suite is
adding a file. :func:`expand` turns a suite into :class:`RunSpec` s, one per result file; everything a run
depends on is in its ``RunSpec`` (and is written, in full, into its result file).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmarks.algos import DQN_VARIANTS, VARIANTS

MINATAR_GAMES = ["Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders"]

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


#: Named ``algo_kwargs`` a suite file may use.
ALGO_PRESETS: dict[str, dict[str, Any]] = {
    "minatar_dqn": MINATAR_DQN,
    "minatar_dqn_x4": MINATAR_DQN_X4,
    "zoo_ppo_halfcheetah": ZOO_PPO["HalfCheetah-v5"],
    "zoo_ppo_hopper": ZOO_PPO["Hopper-v5"],
    "zoo_ppo_walker2d": ZOO_PPO["Walker2d-v5"],
    "zoo_ppo_minatar": ZOO_PPO["MinAtar"],
}
#: Named ``support`` settings a suite file may use (``{}``: the package's defaults).
SUPPORT_PRESETS: dict[str, dict[str, Any]] = {
    "minatar": MINATAR_SUPPORT,
    "minatar_51": MINATAR_SUPPORT_51,
    "minatar_asym": MINATAR_ASYM_SUPPORT,
    "noise": NOISE_SUPPORT,
}
#: Named group settings (``preset: NAME`` in a group or in a file's ``defaults``).
GROUP_PRESETS: dict[str, dict[str, Any]] = {
    # DQN on MinAtar as Suite A runs it: 500k steps, the MinAtar network and replay settings, Suite A's support.
    "minatar_dqn": dict(total_steps=500_000, algo_kwargs="minatar_dqn", support="minatar", env_prefix="MinAtar/",
                        env_suffix="-v1"),
}
SUITES_DIR = Path(__file__).resolve().parent / "suites"
_GROUP_FIELDS = {f.name for f in dataclasses.fields(Group)}


def _preset(value: Any, presets: dict[str, dict[str, Any]], what: str) -> dict[str, Any]:
    """A mapping from a preset name, a mapping, or a mapping extending a preset (``{preset: NAME, ...}``)."""
    if isinstance(value, str):
        value = {"preset": value}
    if not isinstance(value, dict):
        raise TypeError(f"{what} must be a preset name or a mapping, got {value!r}")
    value = dict(value)
    name = value.pop("preset", None)
    if name is not None and name not in presets:
        raise ValueError(f"unknown {what} preset {name!r}; known: {sorted(presets)}")
    return copy.deepcopy({**(presets[name] if name else {}), **value})


def _group(settings: dict[str, Any], where: str) -> Group:
    settings = dict(settings)
    preset = settings.pop("preset", None)
    if preset is not None:
        if preset not in GROUP_PRESETS:
            raise ValueError(f"{where}: unknown group preset {preset!r}; known: {sorted(GROUP_PRESETS)}")
        settings = {**GROUP_PRESETS[preset], **settings}
    unknown = sorted(set(settings) - _GROUP_FIELDS)
    if unknown:
        raise ValueError(f"{where}: unknown group settings {unknown}; a group has {sorted(_GROUP_FIELDS)}")
    settings["algo_kwargs"] = _preset(settings.get("algo_kwargs", {}), ALGO_PRESETS, "algo_kwargs")
    settings["support"] = _preset(settings.get("support", {}), SUPPORT_PRESETS, "support")
    bad = sorted(set(settings.get("variants", [])) - set(VARIANTS))
    if bad:
        raise ValueError(f"{where}: unknown variants {bad}; known: {sorted(VARIANTS)}")
    try:
        return Group(**settings)
    except TypeError as err:
        raise ValueError(f"{where}: {err}") from None


def _suite_data(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text()) or {}
    unknown = sorted(set(data) - {"defaults", "groups", "noiseless_reference", "compare"})
    if unknown or not data.get("groups"):
        raise ValueError(f"{path}: a suite file has 'groups' (a list) and optionally 'defaults', "
                         f"'noiseless_reference' and 'compare'; got {sorted(data)}")
    pairs = data.get("compare") or []
    if not (isinstance(pairs, list) and all(isinstance(pair, list) and len(pair) == 2
                                            and all(isinstance(label, str) for label in pair) for pair in pairs)):
        raise ValueError(f"{path}: 'compare' is a list of [ours, baseline] label pairs, got {pairs!r}")
    return data


def load_suite(path: str | Path) -> tuple[list[Group], str | None]:
    """The groups of a suite file, and the suite whose runs its noiseless runs repeat (``noiseless_reference``)."""
    path = Path(path)
    data = _suite_data(path)
    defaults = data.get("defaults") or {}
    groups = [_group({**defaults, **group}, f"{path.name}, group {i}") for i, group in enumerate(data["groups"])]
    return groups, data.get("noiseless_reference")


def declared_comparisons(suite: str | Path) -> list[tuple[str, str]]:
    """The ``compare`` pairs of a suite file: (ours, baseline) labels that its analysis compares besides the
    usual pairs (:func:`benchmarks.analyze.comparison_pairs`), e.g. a new default against another suite's runs."""
    path = SUITES_DIR / f"{suite}.yml" if str(suite) in SUITES else Path(suite)
    return [tuple(pair) for pair in _suite_data(path).get("compare") or []]  # type: ignore[misc]


def _load_all(directory: Path = SUITES_DIR) -> tuple[dict[str, list[Group]], dict[str, str]]:
    suites, references = {}, {}
    for path in sorted(directory.glob("*.yml")):
        suites[path.stem], reference = load_suite(path)
        if reference:
            references[path.stem] = reference
    return suites, references


#: The suites of ``benchmarks/suites/*.yml``, by file name.
SUITES, NOISELESS_REFERENCE = _load_all()


def suite_groups(suite: str | Path) -> tuple[str, list[Group]]:
    """(name, groups) of a suite given by name (``benchmarks/suites/NAME.yml``) or by the path of a suite file."""
    if str(suite) in SUITES:
        return str(suite), SUITES[str(suite)]
    path = Path(suite)
    if path.suffix in (".yml", ".yaml") and path.is_file():
        return path.stem, load_suite(path)[0]
    raise ValueError(f"Unknown suite {str(suite)!r}: neither a suite file nor one of {sorted(SUITES)}")


def _label(variant: str, optimizer: str | None, tag: str | None = None) -> str:
    default = "reg" if VARIANTS[variant][1] is None else "cls"
    parts = [] if optimizer is None or optimizer == default else [f"{optimizer}lr"]
    parts += [tag] if tag else []
    return variant + (f"@{'+'.join(parts)}" if parts else "")


def expand(
    suite: str | Path,
    steps: int | None = None,
    budget_scale: float | None = None,
    seeds: list[int] | None = None,
    envs: list[str] | None = None,
    variants: list[str] | None = None,
    reward_noise: list[float] | None = None,
    env_ids: list[str] | None = None,
) -> list[RunSpec]:
    """All runs of a suite, seeds outermost (every configuration's seed 0 comes first, so a
    partially finished suite is balanced across configurations). ``envs``, ``variants`` and
    ``reward_noise`` (the eta levels of Suite B) keep only the runs they name. ``env_ids`` runs the suite on
    other environments instead of its own (full gymnasium ids, e.g. a user's ``MyEnv-v0``)."""
    suite, groups = suite_groups(suite)
    if env_ids:
        groups = [dataclasses.replace(g, envs=list(env_ids), env_prefix="", env_suffix="") for g in groups]
    runs: list[RunSpec] = []
    for group in groups:
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
    _check_filters(groups, suite, envs, variants, reward_noise)
    # Groups that env_ids made alike (the same env, variant and budget) run once, with the first group's settings.
    unique: dict[str, RunSpec] = {}
    for run in runs:
        unique.setdefault(run.relpath, run)
    runs = list(unique.values())
    runs.sort(key=lambda r: r.seed)  # stable: keeps the group order within a seed
    return runs


def _check_filters(groups: list[Group], suite: str, envs, variants, reward_noise) -> None:
    """A filter naming something the suite does not have is a typo, not an empty selection."""
    known = {
        "envs": {env for g in groups for env in g.envs},
        "variants": {name for g in groups for v in g.variants for name in (v, _label(v, g.optimizer, g.tag))},
        "reward_noise": {eta for g in groups for eta in g.reward_noise},
    }
    for name, wanted in (("envs", envs), ("variants", variants), ("reward_noise", reward_noise)):
        unknown = sorted(set(wanted or ()) - known[name])
        if unknown:
            raise ValueError(f"{name}={unknown} not in suite {suite!r}; it has {sorted(known[name])}")

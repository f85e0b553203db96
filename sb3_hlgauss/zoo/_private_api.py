"""Every name of rl_zoo3 and Optuna that :mod:`sb3_hlgauss.zoo` relies on beyond their documented API.

rl_zoo3 has no plugin mechanism for third-party algorithms (its maintainer points them to wrapper
scripts, as SBX does), so the wrapper reaches into a few module globals and ``ExperimentManager``
internals. They are all listed here, with the versions they were checked against, and
:func:`check` verifies them when the zoo layer starts (:func:`sb3_hlgauss.zoo.register_zoo`,
``python -m sb3_hlgauss.zoo``, importing :mod:`~sb3_hlgauss.zoo.exp_manager` or
:mod:`~sb3_hlgauss.zoo.samplers`): an unsupported version, or a supported one that lost a name,
raises :class:`UnsupportedZooVersion` with one line instead of an ``AttributeError`` deep inside a patch.

When a new rl_zoo3 or Optuna release comes out: re-read the entries below against it, then bump
:data:`CHECKED_AGAINST` (and :data:`SUPPORTED` if the major version changed).
"""

from __future__ import annotations

import importlib
import importlib.metadata

#: The versions every entry below was read and tested against.
CHECKED_AGAINST = {"rl_zoo3": "2.9.2", "optuna": "5.1.0"}
#: Supported ranges ``[lowest, below)``: the ``zoo`` extra's pins (pyproject.toml); Optuna 6 drops the
#: re-queueing callback's old name, which Optuna < 4.9 still needs (tuning.stale_trial_callback).
SUPPORTED = {"rl_zoo3": ("2.9", "3"), "optuna": ("4.0", "6")}

#: rl_zoo3 module globals and functions used or replaced in place -> why.
RL_ZOO3_GLOBALS = {
    # train.py/enjoy.py build --algo's choices from this dict when they parse: ours are added in place.
    "rl_zoo3.utils.ALGOS": "the algorithm table; ours are added to it",
    # -optimize looks samplers up here; a stored trial (--trial-id) goes through the converter.
    "rl_zoo3.hyperparams_opt.HYPERPARAMS_SAMPLER": "samplers by algorithm; ours are added, the baselines' wrapped",
    "rl_zoo3.hyperparams_opt.HYPERPARAMS_CONVERTER": "trial parameters -> constructor arguments; ours are added",
    # Our samplers are the zoo's, plus the loss settings (called as (trial, n_actions, n_envs, additional_args)).
    "rl_zoo3.hyperparams_opt.sample_dqn_params": "base of hlgauss_dqn's and mse_dqn's samplers",
    "rl_zoo3.hyperparams_opt.sample_sac_params": "base of hlgauss_sac's sampler",
    "rl_zoo3.hyperparams_opt.sample_td3_params": "base of hlgauss_td3's sampler",
    "rl_zoo3.hyperparams_opt.sample_ppo_params": "base of hlgauss_ppo's sampler",
    "rl_zoo3.hyperparams_opt.sample_a2c_params": "base of hlgauss_a2c's sampler",
    "rl_zoo3.hyperparams_opt.convert_offpolicy_params": "base of our converter (off-policy trials)",
    "rl_zoo3.hyperparams_opt.convert_onpolicy_params": "base of our converter (on-policy trials)",
    # train() builds its experiment manager from this module global: replaced by HLGaussExperimentManager.
    "rl_zoo3.train.ExperimentManager": "replaced by HLGaussExperimentManager",
    # What rl_zoo3.cli dispatches `train` to; __main__ imports the script asked for only (enjoy and the plots
    # the same way, rl_zoo3.<command>.<command> / rl_zoo3.plots.<command>.<command>, not imported here).
    "rl_zoo3.train.train": "the zoo's train script, run with sys.argv set",
    # YAML policy_kwargs strings are eval'd in this module's globals: MinAtarCNN is added there.
    "rl_zoo3.exp_manager.ExperimentManager": "base class of HLGaussExperimentManager; its module's globals hold MinAtarCNN",
}
#: Private methods of ``rl_zoo3.exp_manager.ExperimentManager`` that HLGaussExperimentManager overrides or calls.
EXPERIMENT_MANAGER_METHODS = {
    "_save_config": "extended: redacts the storage password in args.yml/command.txt, writes trial.yml",
    "_create_sampler": "overridden: samplers seeded per trial number (tuning.TrialSeededSampler)",
    "_create_pruner": "called by our hyperparameters_optimization",
}
#: Private attributes set by ``ExperimentManager.__init__`` that HLGaussExperimentManager reads.
EXPERIMENT_MANAGER_ATTRIBUTES = {
    "_hyperparams": "the file's pre-processed hyperparameters: our samplers merge with them; stored on the study",
    "_eval_env_kwargs_args": "read_hyperparameters keeps the zoo's rule for --env-kwargs vs --eval-env-kwargs",
}
#: Public methods whose zoo code HLGaussExperimentManager re-implements (it cannot hook inside them), so a
#: change of their behaviour in rl_zoo3 must be carried over by hand: read_hyperparameters (the file, the
#: trial, -params, then validation), load_trial (trial numbers, 'best'), hyperparameters_optimization (the
#: storage, the budget, the report: the zoo's report file names). objective is wrapped, relying on the zoo
#: turning a ValueError/AssertionError of learn() into TrialPruned with the error as its __cause__.
REIMPLEMENTED_METHODS = ("read_hyperparameters", "load_trial", "hyperparameters_optimization", "objective")
#: Hyperparameter-file keys that ``ExperimentManager._preprocess_hyperparams`` (and ``_preprocess_action_noise``)
#: consume before the constructor is called (hand-copied: validation accepts them besides the constructor's).
ZOO_KEYS = frozenset(
    {
        "n_timesteps",
        "n_envs",
        "normalize",
        "env_wrapper",
        "vec_env_wrapper",
        "frame_stack",
        "callback",
        "monitor_kwargs",
        "env_kwargs",
        "noise_type",
        "noise_std",
        "policy",
    }
)

#: Optuna's message when ``study.optimize`` cannot record a trial that another worker already failed as
#: lost (``optuna/study/_tell.py``): matched by tuning.lost_while_running, verified by :func:`check`.
OPTUNA_TELL_FINISHED_TRIAL = "Cannot tell a FAIL trial"


class UnsupportedZooVersion(RuntimeError):
    """rl_zoo3 or Optuna is a version the zoo layer does not support (a one-line message)."""


_checked = False


def installed_version(distribution: str) -> str:
    return importlib.metadata.version(distribution)


def _supported(distribution: str) -> str:
    lowest, below = SUPPORTED[distribution]
    return f"supported: >={lowest},<{below}, checked against {CHECKED_AGAINST[distribution]}"


def _resolve(dotted: str) -> object:
    """The object at ``package.module.name[.attribute]`` (AttributeError/ImportError when it is gone)."""
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:split])
        try:
            target: object = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue
        for name in parts[split:]:
            target = getattr(target, name)
        return target
    raise ImportError(dotted)


def _optuna_tell_message() -> str:
    """What Optuna says when a finished (FAIL) trial is told again, as ``study.optimize`` does for a lost trial."""
    import optuna

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # not "A new study created in memory"
    try:
        study = optuna.create_study()
        trial = study.ask()
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        try:
            study.tell(trial, 1.0)
        except ValueError as error:
            return str(error)
        return ""
    finally:
        optuna.logging.set_verbosity(verbosity)


def problem() -> str | None:
    """What is wrong with the installed rl_zoo3/Optuna for the zoo layer, in one line (None: nothing)."""
    from packaging.version import Version

    for distribution, (lowest, below) in SUPPORTED.items():
        version = installed_version(distribution)
        if not Version(lowest) <= Version(version) < Version(below):
            return f"{distribution} {version} is not supported by sb3_hlgauss.zoo ({_supported(distribution)})"
    missing = []
    for dotted in RL_ZOO3_GLOBALS:
        try:
            _resolve(dotted)
        except (AttributeError, ImportError):
            missing.append(dotted)
    from rl_zoo3.exp_manager import ExperimentManager

    methods = (*EXPERIMENT_MANAGER_METHODS, *REIMPLEMENTED_METHODS)
    missing += [f"ExperimentManager.{name}" for name in methods if not hasattr(ExperimentManager, name)]
    # Instance attributes are set in __init__, so their names are in its bytecode (no instance or source needed).
    assigned = ExperimentManager.__init__.__code__.co_names
    missing += [f"ExperimentManager().{name}" for name in EXPERIMENT_MANAGER_ATTRIBUTES if name not in assigned]
    if missing:
        return (
            f"rl_zoo3 {installed_version('rl_zoo3')} lacks {', '.join(missing)}, which sb3_hlgauss.zoo relies on "
            f"({_supported('rl_zoo3')})"
        )
    if not _optuna_tell_message().startswith(OPTUNA_TELL_FINISHED_TRIAL):
        return (
            f"optuna {installed_version('optuna')} no longer reports a lost trial with {OPTUNA_TELL_FINISHED_TRIAL!r}, "
            f"which sb3_hlgauss.zoo relies on ({_supported('optuna')})"
        )
    return None


def check() -> None:
    """Verify rl_zoo3's and Optuna's versions and every name listed here (once per process, when they pass).

    :raises UnsupportedZooVersion: one line naming the package, its version, the supported range and
        the version checked against.
    """
    global _checked
    if _checked:
        return
    found = problem()
    if found is not None:
        raise UnsupportedZooVersion(found)
    _checked = True

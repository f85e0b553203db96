"""RL Zoo integration: register our algorithms, samplers and configs with rl-zoo3.

rl-zoo3 (2.9) has no plugin hook for algorithms: ``train.py`` and ``enjoy.py`` build ``--algo``
from the dict ``rl_zoo3.utils.ALGOS`` when they parse their arguments, and ``-optimize`` looks
samplers up in ``rl_zoo3.hyperparams_opt.HYPERPARAMS_SAMPLER``. :func:`register_zoo` adds ours to
those dicts in place; ``python -m sb3_hlgauss.zoo train|enjoy|...`` (console script
``sb3-hlgauss-zoo``) calls it and then hands over to the zoo's unchanged CLI (``rl_zoo3.cli``),
with our ``zoo_configs/<algo>.yml`` as the default ``--conf-file`` of our algorithms.

From Python::

    from sb3_hlgauss.zoo import register_zoo
    register_zoo()
    from rl_zoo3.train import train
    train()  # reads sys.argv, e.g. --algo hlgauss_dqn --env CartPole-v1 --conf-file <config_path("hlgauss_dqn")>
"""

from __future__ import annotations

import importlib
from importlib import resources
from pathlib import Path

#: Our algorithms: zoo name -> (module, class). Registered when importable.
OUR_ALGOS: dict[str, tuple[str, str]] = {
    "hlgauss_dqn": ("sb3_hlgauss.hlgauss_dqn", "HLGaussDQN"),
    "hlgauss_sac": ("sb3_hlgauss.hlgauss_sac", "HLGaussSAC"),
    "hlgauss_td3": ("sb3_hlgauss.hlgauss_td3", "HLGaussTD3"),
    "hlgauss_ppo": ("sb3_hlgauss.hlgauss_ppo", "HLGaussPPO"),
    "hlgauss_a2c": ("sb3_hlgauss.hlgauss_a2c", "HLGaussA2C"),
}
#: Our regression baselines: zoo name -> (module, class). Registered when importable.
OUR_BASELINES: dict[str, tuple[str, str]] = {
    "mse_dqn": ("sb3_hlgauss.baselines", "MSEDQN"),
}
#: Algorithms with a baseline config of ours (same settings as ours, regression critic):
#: SB3's DQN (Huber loss), SAC, TD3, PPO and A2C (MSE), and our MSEDQN (the paper's MSE baseline).
BASELINE_ALGOS = ("dqn", "mse_dqn", "sac", "td3", "ppo", "a2c")
#: Zoo names whose default --conf-file is ours.
DEFAULT_CONF_ALGOS = (*OUR_ALGOS, *OUR_BASELINES)
#: Names that YAML ``policy_kwargs`` strings may use (the zoo evals them in ``rl_zoo3.exp_manager``).
POLICY_KWARGS_NAMES = ("MinAtarCNN",)


def config_dir() -> Path:
    """The folder of our hyperparameter files (``zoo_configs/`` in a checkout, ``sb3_hlgauss/zoo_configs`` when installed)."""
    packaged = resources.files("sb3_hlgauss").joinpath("zoo_configs")
    if packaged.is_dir():
        return Path(str(packaged))
    # Editable install without the package-dir mapping: the repository's top-level folder.
    checkout = Path(__file__).resolve().parents[2] / "zoo_configs"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError("sb3_hlgauss zoo_configs not found: reinstall sb3-hlgauss")


def config_path(algo: str) -> Path:
    """Our hyperparameter file for ``algo`` (e.g. ``hlgauss_dqn`` or the baseline ``dqn``)."""
    path = config_dir() / f"{algo}.yml"
    if not path.is_file():
        available = sorted(p.stem for p in config_dir().glob("*.yml"))
        raise FileNotFoundError(f"sb3_hlgauss has no zoo config for {algo!r}; available: {available}")
    return path


def available_algos(include_baselines: bool = False) -> dict[str, type]:
    """Our algorithms that can be imported now (HL-Gauss SAC/TD3 may be absent in older versions)."""
    found = {}
    table = {**OUR_ALGOS, **OUR_BASELINES} if include_baselines else OUR_ALGOS
    for name, (module_name, class_name) in table.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        algo_class = getattr(module, class_name, None)
        if algo_class is not None:
            found[name] = algo_class
    return found


def register_zoo() -> dict[str, type]:
    """Register our algorithms (and the ``mse_dqn`` baseline), samplers, converters and environments with
    rl-zoo3, in place.

    Idempotent. Also installs :class:`~sb3_hlgauss.zoo.exp_manager.HLGaussExperimentManager` as the
    experiment manager of ``rl_zoo3.train`` and makes ``MinAtarCNN`` usable in YAML ``policy_kwargs``.

    :return: The registered algorithms (name -> class).
    :raises ~sb3_hlgauss.zoo._private_api.UnsupportedZooVersion: one line, for an rl_zoo3 or Optuna version
        the zoo layer does not support (the names it relies on are listed in :mod:`sb3_hlgauss.zoo._private_api`).
    """
    from sb3_hlgauss.zoo import _private_api

    _private_api.check()
    import rl_zoo3.exp_manager
    import rl_zoo3.train
    from rl_zoo3 import hyperparams_opt, utils

    from sb3_hlgauss.common import torch_layers
    from sb3_hlgauss.zoo import envs, samplers
    from sb3_hlgauss.zoo.exp_manager import HLGaussExperimentManager

    algos = available_algos(include_baselines=True)
    utils.ALGOS.update(algos)
    for name in algos:
        if name in samplers.SAMPLERS:
            hyperparams_opt.HYPERPARAMS_SAMPLER[name] = samplers.SAMPLERS[name]
            hyperparams_opt.HYPERPARAMS_CONVERTER[name] = samplers.convert_classification_params
        else:  # MSEDQN: tuned like the zoo's DQN
            hyperparams_opt.HYPERPARAMS_SAMPLER[name] = samplers.merging(hyperparams_opt.sample_dqn_params)
            hyperparams_opt.HYPERPARAMS_CONVERTER[name] = hyperparams_opt.convert_offpolicy_params
    # The zoo's own DQN/SAC/TD3 samplers replace the file's policy_kwargs; make them merge (baselines).
    for name in BASELINE_ALGOS:
        if name in hyperparams_opt.HYPERPARAMS_SAMPLER:
            hyperparams_opt.HYPERPARAMS_SAMPLER[name] = samplers.merging(hyperparams_opt.HYPERPARAMS_SAMPLER[name])
    for name in POLICY_KWARGS_NAMES:
        setattr(rl_zoo3.exp_manager, name, getattr(torch_layers, name))
    rl_zoo3.train.ExperimentManager = HLGaussExperimentManager  # type: ignore[misc]
    envs.register_envs()
    return algos


__all__ = ["BASELINE_ALGOS", "DEFAULT_CONF_ALGOS", "OUR_ALGOS", "OUR_BASELINES", "available_algos", "config_dir", "config_path", "register_zoo"]

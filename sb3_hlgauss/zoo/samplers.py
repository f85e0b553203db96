"""Optuna samplers and converters for the zoo's ``-optimize`` mode.

Each sampler samples the zoo's usual hyperparameters with the zoo's own sampler for the base
algorithm (DQN, SAC, TD3, PPO or A2C) and adds the classification-loss settings:

* ``loss`` in ``hl_gauss``, ``two_hot``, ``c51`` (PPO and A2C: ``categorical_mse``, their default, ``hl_gauss``, ``two_hot``; their
  lambda-return targets have no distributional form);
* ``num_bins`` in 21, 51, 101, 201 (the paper's sweep);
* ``sigma_ratio`` in [0.25, 2] (log scale), sampled only when the loss is ``hl_gauss``;
* ``value_scale`` in ``auto`` (the support follows the returns, nothing more to choose) and ``fixed``, and
  with ``fixed`` only, ``v_range_scale`` in 0.5, 1, 2, 4: the hyperparameter file's ``[v_min, v_max]``
  (0.4.0's ``[-1e4, 1e4]`` symlog support where the file sets none) multiplied by it.

The sampled values are merged with the hyperparameter file (the zoo's ``objective`` does
``kwargs.update(sampled)``): ``policy_kwargs`` are merged key by key, so a feature extractor named
in the YAML (e.g. ``MinAtarCNN``) survives the sampled ``net_arch``; a loss that does not take
``sigma_ratio`` gets ``sigma_ratio=None`` and loss-specific ``loss_kwargs`` are dropped.
The merge needs the file's hyperparameters, which :class:`~sb3_hlgauss.zoo.exp_manager.HLGaussExperimentManager`
provides while a trial runs (see :func:`base_hyperparams`).
"""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import Callable
from typing import Any

import optuna

from sb3_hlgauss.zoo import _private_api

_private_api.check()  # one line for an unsupported rl_zoo3/Optuna, before anything of theirs is used

from rl_zoo3 import hyperparams_opt

from sb3_hlgauss.common.losses import get_loss_class

LOSS_CHOICES = ("hl_gauss", "two_hot", "c51")
#: Losses of the on-policy algorithms (HLGaussPPO and HLGaussA2C refuse distributional losses).
ON_POLICY_LOSS_CHOICES = ("categorical_mse", "hl_gauss", "two_hot")
NUM_BINS_CHOICES = (21, 51, 101, 201)
V_RANGE_SCALES = (0.5, 1.0, 2.0, 4.0)
SIGMA_RATIO_RANGE = (0.25, 2.0)
#: Trial parameters of ours (the rest are the zoo's).
VALUE_SCALE_CHOICES = ("auto", "fixed")
LOSS_PARAM_NAMES = ("loss", "num_bins", "sigma_ratio", "value_scale", "v_range_scale")

Sampler = Callable[[optuna.Trial, int, int, dict], dict[str, Any]]

#: (algorithm class, hyperparameters of the file after the zoo's pre-processing) for the running trial.
_BASE: contextvars.ContextVar[tuple[type | None, dict[str, Any]] | None] = contextvars.ContextVar(
    "sb3_hlgauss_zoo_base_hyperparams", default=None
)


def set_base_hyperparams(algo_class: type | None, hyperparams: dict[str, Any]) -> contextvars.Token:
    """Make the hyperparameter file's values visible to the samplers (per thread/context)."""
    return _BASE.set((algo_class, hyperparams))


def reset_base_hyperparams(token: contextvars.Token) -> None:
    _BASE.reset(token)


def base_hyperparams() -> tuple[type | None, dict[str, Any]]:
    """The hyperparameters the running trial starts from (empty outside a trial)."""
    return _BASE.get() or (None, {})


def eval_policy_kwargs(value: str) -> dict[str, Any]:
    """Evaluate a ``policy_kwargs`` string the way the zoo does (in ``rl_zoo3.exp_manager``'s namespace)."""
    from rl_zoo3 import exp_manager

    return eval(value, vars(exp_manager))  # noqa: S307 - same as the zoo


def _default(algo_class: type | None, name: str, fallback: Any) -> Any:
    """The algorithm's default for ``name``: its signature's, where ``None`` means the documented
    default (:mod:`sb3_hlgauss.common.base_class`)."""
    from sb3_hlgauss.common import base_class

    documented = {"v_min": base_class.DEFAULT_V_MIN, "v_max": base_class.DEFAULT_V_MAX}
    if algo_class is None:
        return fallback
    parameter = inspect.signature(algo_class.__init__).parameters.get(name)
    if parameter is None or parameter.default is inspect.Parameter.empty:
        return fallback
    if parameter.default is None:
        return documented.get(name, fallback)
    return parameter.default


def sample_loss_params(trial: optuna.Trial, losses: tuple[str, ...] = LOSS_CHOICES) -> dict[str, Any]:
    """Sample our loss settings (trial parameter names as in :data:`LOSS_PARAM_NAMES`) among ``losses``."""
    loss = trial.suggest_categorical("loss", list(losses))
    params: dict[str, Any] = {
        "loss": loss,
        "num_bins": trial.suggest_categorical("num_bins", list(NUM_BINS_CHOICES)),
        "value_scale": trial.suggest_categorical("value_scale", list(VALUE_SCALE_CHOICES)),
    }
    if params["value_scale"] == "fixed":
        params["v_range_scale"] = trial.suggest_categorical("v_range_scale", list(V_RANGE_SCALES))
    if loss == "hl_gauss":
        params["sigma_ratio"] = trial.suggest_float("sigma_ratio", *SIGMA_RATIO_RANGE, log=True)
    return params


def convert_loss_params(params: dict[str, Any]) -> dict[str, Any]:
    """Trial parameters -> constructor arguments (``v_range_scale`` is resolved by :func:`resolve_sampled`)."""
    out = {key: params[key] for key in LOSS_PARAM_NAMES if key in params}
    if "loss" in out and out["loss"] != "hl_gauss":
        out["sigma_ratio"] = None
    return out


def resolve_sampled(base: dict[str, Any], sampled: dict[str, Any], algo_class: type | None = None) -> dict[str, Any]:
    """Merge sampled hyperparameters into a hyperparameter file's ``base`` values.

    Returns the values to ``update`` ``base`` with: ``policy_kwargs`` merged key by key,
    ``v_range_scale`` turned into ``v_min``/``v_max``, and loss-specific settings that the sampled
    loss does not take reset.
    """
    out = dict(sampled)
    if "policy_kwargs" in out:
        base_policy_kwargs = base.get("policy_kwargs") or {}
        if isinstance(base_policy_kwargs, str):
            base_policy_kwargs = eval_policy_kwargs(base_policy_kwargs)
        out["policy_kwargs"] = {**base_policy_kwargs, **(out["policy_kwargs"] or {})}
    scale = out.pop("v_range_scale", None)
    if out.get("value_scale") == "auto":
        # The support follows the returns: the file's hand-set range, if any, is not used.
        out["v_min"] = out["v_max"] = None
    elif scale is not None:
        v_min = base.get("v_min")
        v_max = base.get("v_max")
        v_min = float(_default(algo_class, "v_min", -10.0) if v_min is None else v_min)
        v_max = float(_default(algo_class, "v_max", 10.0) if v_max is None else v_max)
        out["v_min"], out["v_max"] = v_min * float(scale), v_max * float(scale)
    if "loss" in out:
        if out["loss"] != "hl_gauss":
            out["sigma_ratio"] = None
        loss_kwargs = base.get("loss_kwargs")
        if loss_kwargs:
            accepted = inspect.signature(get_loss_class(out["loss"]).__init__).parameters
            out["loss_kwargs"] = {key: value for key, value in dict(loss_kwargs).items() if key in accepted}
    return out


def _with_loss(base_sampler: Sampler, name: str, losses: tuple[str, ...] = LOSS_CHOICES) -> Sampler:
    def sampler(trial: optuna.Trial, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
        hyperparams = base_sampler(trial, n_actions, n_envs, additional_args)
        hyperparams.update(convert_loss_params(sample_loss_params(trial, losses)))
        algo_class, base = base_hyperparams()
        return resolve_sampled(base, hyperparams, algo_class)

    sampler.__name__ = name
    sampler.__doc__ = f"The zoo's ``{base_sampler.__name__}`` plus the loss settings ({', '.join(LOSS_PARAM_NAMES)})."
    return sampler


def merging(base_sampler: Sampler) -> Sampler:
    """Wrap one of the zoo's samplers so its ``policy_kwargs`` merge with the file's instead of replacing them."""
    if getattr(base_sampler, "_sb3_hlgauss_merging", False):
        return base_sampler

    def sampler(trial: optuna.Trial, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
        algo_class, base = base_hyperparams()
        return resolve_sampled(base, base_sampler(trial, n_actions, n_envs, additional_args), algo_class)

    sampler.__name__ = base_sampler.__name__
    sampler.__doc__ = base_sampler.__doc__
    sampler._sb3_hlgauss_merging = True  # type: ignore[attr-defined]
    return sampler


def convert_classification_params(params: dict[str, Any]) -> dict[str, Any]:
    """Converter for stored trials (``--storage ... --study-name ... [--trial-id N]``): trial parameters ->
    constructor arguments, like the zoo's ``convert_offpolicy_params`` (or ``convert_onpolicy_params`` for the
    trials of PPO/A2C, told apart by their ``one_minus_gae_lambda``) plus our loss settings."""
    ours = {key: value for key, value in params.items() if key in LOSS_PARAM_NAMES}
    rest = {key: value for key, value in params.items() if key not in LOSS_PARAM_NAMES}
    if "one_minus_gae_lambda" in rest:
        hyperparams = hyperparams_opt.convert_onpolicy_params(rest)
    else:
        hyperparams = hyperparams_opt.convert_offpolicy_params(rest)
    hyperparams.update(convert_loss_params(ours))
    if "noise_type" in hyperparams and hyperparams["noise_type"] is None:
        # TD3 trial without action noise: the zoo would pass noise_type/noise_std to the constructor.
        hyperparams.pop("noise_type")
        hyperparams.pop("noise_std", None)
    return hyperparams


sample_hlgauss_dqn_params = _with_loss(hyperparams_opt.sample_dqn_params, "sample_hlgauss_dqn_params")
sample_hlgauss_sac_params = _with_loss(hyperparams_opt.sample_sac_params, "sample_hlgauss_sac_params")
sample_hlgauss_td3_params = _with_loss(hyperparams_opt.sample_td3_params, "sample_hlgauss_td3_params")
sample_hlgauss_ppo_params = _with_loss(
    hyperparams_opt.sample_ppo_params, "sample_hlgauss_ppo_params", ON_POLICY_LOSS_CHOICES
)
sample_hlgauss_a2c_params = _with_loss(
    hyperparams_opt.sample_a2c_params, "sample_hlgauss_a2c_params", ON_POLICY_LOSS_CHOICES
)

SAMPLERS: dict[str, Sampler] = {
    "hlgauss_dqn": sample_hlgauss_dqn_params,
    "hlgauss_sac": sample_hlgauss_sac_params,
    "hlgauss_td3": sample_hlgauss_td3_params,
    "hlgauss_ppo": sample_hlgauss_ppo_params,
    "hlgauss_a2c": sample_hlgauss_a2c_params,
}

"""Algorithm-side plumbing shared by every classification-critic algorithm."""

from __future__ import annotations

import base64
import io
import json
import math
import pathlib
import warnings
import zipfile
from collections.abc import Mapping
from typing import Any, ClassVar

import cloudpickle

import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import maybe_make_env
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.save_util import open_path
from stable_baselines3.common.type_aliases import GymEnv

from sb3_hlgauss.common.errors import CriticDivergedError
from sb3_hlgauss.common.losses import ClassificationLoss, check_num_bins, make_loss
from sb3_hlgauss.common.policies import ValueLossPolicyMixin
from sb3_hlgauss.common.transforms import ValueTransform
from sb3_hlgauss.version import __version__

DEFAULT_LOSS = "hl_gauss"
DEFAULT_NUM_BINS = 101
#: ``value_scale="auto"`` (the default when no ``v_min``/``v_max`` is given): the support is ``[-AUTO_EDGE,
#: AUTO_EDGE]`` in units of a running scale of the returns (:class:`~sb3_hlgauss.common.value_scale.RunningReturnScale`),
#: uniform (identity transform), as SimbaV2's critic.
AUTO_EDGE = 5.0
AUTO_VALUE_TRANSFORM = "identity"
#: ``value_scale="fixed"``: the support ``[v_min, v_max]`` in return units; these fill in a missing bound or
#: transform (0.4.0's defaults, so that a hand-set support builds the 0.4.0 critic).
DEFAULT_V_MIN = -10_000.0
DEFAULT_V_MAX = 10_000.0
DEFAULT_VALUE_TRANSFORM = "symlog"
VALUE_SCALES = ("auto", "fixed")


def check_action_space(
    env: GymEnv | str | None,
    supported: tuple[type[spaces.Space], ...],
    algorithm: str,
    hint: str,
    verbose: int = 0,
) -> GymEnv | None:
    """Make ``env`` if it is an id and raise a clear ``ValueError`` if its action space is not supported.

    :return: The environment (made from its id if needed), to pass on to SB3.
    """
    if env is None:
        return None
    env = maybe_make_env(env, verbose)
    if not isinstance(env.action_space, supported):
        names = ", ".join(space.__name__ for space in supported)
        raise ValueError(
            f"{algorithm} supports {names} action spaces only, got {env.action_space}. {hint}"
        )
    return env


#: The constructor arguments that define the categorical critic; each has exactly one source.
LOSS_SETTINGS = ("loss", "num_bins", "v_min", "v_max", "sigma_ratio", "value_transform", "loss_kwargs", "value_scale")
_NAMED_SETTINGS = ("loss", "num_bins", "v_min", "v_max", "sigma_ratio", "value_transform", "value_scale")
#: Saved with every model from 0.3.0 on: the sb3-hlgauss version whose settings rules the file follows.
VERSION_KEY = "_sb3_hlgauss_version"
#: Key of the policy's loss keyword arguments that attaches a return scale (not a loss argument).
RETURN_SCALE_KEY = "return_scale"


def resolve_loss_settings(
    owner: str,
    loss: str | None = None,
    num_bins: int | None = None,
    v_min: float | None = None,
    v_max: float | None = None,
    sigma_ratio: float | None = None,
    value_transform: str | ValueTransform | None = None,
    loss_kwargs: Mapping[str, Any] | None = None,
    value_scale: str | None = None,
) -> tuple[dict[str, Any], ClassificationLoss]:
    """Validate the loss settings of an algorithm and resolve them to the critic they build.

    Rules (the same for every algorithm): ``None`` means the algorithm's documented default
    (:data:`DEFAULT_LOSS`, :data:`DEFAULT_NUM_BINS`, ...; ``sigma_ratio``: the loss's own, 0.75 for
    HL-Gauss); ``value_scale`` is ``"auto"`` (the support follows the returns; ``v_min``/``v_max`` stay
    ``None``) unless ``v_min`` or ``v_max`` is given, which makes it ``"fixed"`` (giving them with
    ``value_scale="auto"`` is a ``ValueError``); a setting of the wrong type is a ``TypeError`` naming it; a setting given both as an
    argument and in ``loss_kwargs`` (or ``sigma`` together with ``sigma_ratio``) is a ``ValueError``
    naming it; HL-Gauss's ``sigma`` (transformed units) is converted into the ``sigma_ratio`` in use.

    :param owner: Name used in error messages (e.g. ``"HLGaussDQN"``).
    :return: The settings as the model stores them (every value describes the critic in use;
        ``loss_kwargs`` holds only the loss's further arguments) and the loss they build.
    """
    if loss is None:
        loss = DEFAULT_LOSS
    if not isinstance(loss, str):
        raise TypeError(f"{owner}: loss must be the name of a registered loss (a str), got {loss!r}")
    if loss_kwargs is None:
        loss_kwargs = {}
    if not isinstance(loss_kwargs, Mapping):
        raise TypeError(f"{owner}: loss_kwargs must be a dict, got {loss_kwargs!r} ({type(loss_kwargs).__name__})")
    extra = dict(loss_kwargs)
    twice = [key for key in extra if key in _NAMED_SETTINGS]
    if twice:
        key = twice[0]
        raise ValueError(
            f"{owner}: {key!r} is given in loss_kwargs ({key}={extra[key]!r}) but is an argument of {owner} itself: "
            f"pass {key}=... directly (each setting has one place)"
        )
    if "sigma" in extra and sigma_ratio is not None:
        raise ValueError(
            f"{owner}: sigma (loss_kwargs, transformed units) and sigma_ratio (bin widths) both set the HL-Gauss width: "
            f"give one (got sigma={extra['sigma']!r}, sigma_ratio={sigma_ratio!r})"
        )
    num_bins = check_num_bins(DEFAULT_NUM_BINS if num_bins is None else num_bins)
    hand_set = v_min is not None or v_max is not None
    if value_scale is None:
        value_scale = "fixed" if hand_set else "auto"
    if value_scale not in VALUE_SCALES:
        raise ValueError(f"{owner}: value_scale must be one of {VALUE_SCALES}, got {value_scale!r}")
    if value_scale == "auto" and hand_set:
        raise ValueError(
            f"{owner}: value_scale='auto' chooses the support from the returns, but v_min={v_min!r}, v_max={v_max!r} "
            "were given: give v_min and v_max (a fixed support, value_scale='fixed') or neither"
        )
    if value_transform is None:
        value_transform = AUTO_VALUE_TRANSFORM if value_scale == "auto" else DEFAULT_VALUE_TRANSFORM
    if isinstance(value_transform, ValueTransform):
        value_transform = value_transform.name
    if not isinstance(value_transform, str):
        raise TypeError(f"{owner}: value_transform must be a registered transform name, got {value_transform!r}")
    if value_scale == "auto":
        v_min, v_max = -AUTO_EDGE, AUTO_EDGE
    arguments: dict[str, Any] = dict(
        num_bins=num_bins,
        v_min=DEFAULT_V_MIN if v_min is None else v_min,
        v_max=DEFAULT_V_MAX if v_max is None else v_max,
        value_transform=value_transform,
    )
    if sigma_ratio is not None:
        arguments["sigma_ratio"] = sigma_ratio
    value_loss = make_loss(loss, **arguments, **extra)
    extra.pop("sigma", None)  # now value_loss.sigma_ratio
    auto = value_scale == "auto"
    settings = dict(
        loss=loss,
        num_bins=value_loss.num_bins,
        v_min=None if auto else value_loss.v_min,
        v_max=None if auto else value_loss.v_max,
        sigma_ratio=getattr(value_loss, "sigma_ratio", None),
        value_transform=value_loss.value_transform.name,
        loss_kwargs=extra,
        value_scale=value_scale,
    )
    return settings, value_loss


def policy_loss_kwargs(settings: Mapping[str, Any], gamma: float) -> dict[str, Any]:
    """The keyword arguments the policy builds its loss with, from resolved settings (``gamma``: the
    algorithm's discount, which a ``value_scale="auto"`` critic's running return uses)."""
    auto = settings.get("value_scale") == "auto"
    kwargs = {key: settings[key] for key in ("num_bins", "value_transform")}
    kwargs["v_min"], kwargs["v_max"] = (-AUTO_EDGE, AUTO_EDGE) if auto else (settings["v_min"], settings["v_max"])
    if settings["sigma_ratio"] is not None:
        kwargs["sigma_ratio"] = settings["sigma_ratio"]
    kwargs.update(settings["loss_kwargs"])
    if auto:
        kwargs[RETURN_SCALE_KEY] = dict(gamma=float(gamma), edge=AUTO_EDGE)
    return kwargs


def _legacy_settings(stored: Mapping[str, Any]) -> dict[str, Any]:
    """The critic a file saved by sb3-hlgauss 0.1/0.2 actually used, as 0.3.0 settings.

    0.1/0.2 built the loss from the attributes updated by ``loss_kwargs`` (which won silently), with
    ``None`` meaning the *loss class's* default and ``sigma`` overriding ``sigma_ratio``; this
    reproduces that, so that the loaded model's attributes describe its critic.
    """
    old_defaults = dict(v_min=-10.0, v_max=10.0, num_bins=51, value_transform="identity")
    merged = {key: stored.get(key) for key in ("num_bins", "v_min", "v_max", "sigma_ratio", "value_transform")}
    merged.update(stored.get("loss_kwargs") or {})
    merged = {key: value for key, value in merged.items() if value is not None}
    merged = {**old_defaults, **merged}
    num_bins = int(float(merged.pop("num_bins")))
    v_min, v_max = float(merged.pop("v_min")), float(merged.pop("v_max"))
    value_transform = merged.pop("value_transform")
    sigma_ratio = merged.pop("sigma_ratio", None)
    if "sigma" in merged:
        sigma_ratio = None  # 0.2.0: sigma overrode sigma_ratio
    elif sigma_ratio is not None:
        sigma_ratio = float(sigma_ratio)
    return dict(
        loss=stored.get("loss") or DEFAULT_LOSS, num_bins=num_bins, v_min=v_min, v_max=v_max,
        sigma_ratio=sigma_ratio, value_transform=value_transform, loss_kwargs=merged,
    )


def _read_saved_data(path: str | pathlib.Path | io.BufferedIOBase) -> dict[str, Any] | None:
    """The JSON ``data`` of a saved model, not deserialized, from the file SB3's ``load`` reads.

    The file is opened by SB3's own ``open_path`` (the path as given, else with ``.zip`` appended; a file
    object as it is, left at its position), so that the checks of ``load`` see the file SB3 loads.
    ``load_from_zip_file`` is not used: it would also load every weight tensor and unpickle every stored
    object, which SB3's ``load`` does next anyway.

    :return: The data, ``{}`` for an archive without it, ``None`` for a file that is not a zip archive
        (SB3's ``load`` then raises its own error).
    :raises FileNotFoundError: SB3's, if neither the path nor the path with ``.zip`` exists.
    """
    file = open_path(path, "r", verbose=0, suffix="zip")
    position = file.tell()
    try:
        with zipfile.ZipFile(file) as archive:
            return json.loads(archive.read("data").decode()) if "data" in archive.namelist() else {}
    except zipfile.BadZipFile:
        return None
    finally:
        if isinstance(path, (str, pathlib.Path)):
            file.close()
        else:
            file.seek(position)


def _saved_policy_class(stored: Mapping[str, Any]) -> type | None:
    entry = stored.get("policy_class")
    if not isinstance(entry, dict) or ":serialized:" not in entry:
        return None
    try:
        return cloudpickle.loads(base64.b64decode(entry[":serialized:"].encode()))
    except Exception:  # noqa: BLE001 - an unreadable class is SB3's to report
        return None


def _our_algorithms() -> tuple[type, ...]:
    from sb3_hlgauss import HLGaussA2C, HLGaussDQN, HLGaussPPO, HLGaussSAC, HLGaussTD3

    return HLGaussDQN, HLGaussSAC, HLGaussTD3, HLGaussPPO, HLGaussA2C


def _policy_base(algorithm: type) -> type:
    """The most derived class that every policy alias of ``algorithm`` derives from (e.g. ``HLGaussPPOPolicy``)."""
    aliases = [policy for policy in algorithm.policy_aliases.values() if isinstance(policy, type)]
    if not aliases:
        return BasePolicy
    return next(base for base in aliases[0].__mro__ if all(issubclass(policy, base) for policy in aliases))


def _shared_policy_base(algorithm: type) -> type:
    """The most general policy class of this package in the bases of ``algorithm``'s policies (e.g.
    ``HLGaussActorCriticPolicy``, public and shared by HLGaussPPO and HLGaussA2C): a model may be built with it
    or a subclass of it."""
    base = _policy_base(algorithm)
    ours = [cls for cls in base.__mro__ if issubclass(cls, ValueLossPolicyMixin) and issubclass(cls, BasePolicy)]
    return ours[-1] if ours else base


def _saves_policy(algorithm: type, policy_class: type) -> bool:
    """Whether a model of ``algorithm`` can have been saved with ``policy_class``: a subclass of the base of
    its policy aliases, or of the package's policy class that base derives from unless the aliases of another
    algorithm claim it (an ``HLGaussPPOPolicy`` is HLGaussPPO's, an ``HLGaussActorCriticPolicy`` both
    HLGaussPPO's and HLGaussA2C's)."""
    own = _policy_base(algorithm)
    if issubclass(policy_class, own):
        return True
    if not issubclass(policy_class, _shared_policy_base(algorithm)):
        return False
    others = {_policy_base(other) for other in _our_algorithms()} - {own}
    return not any(issubclass(policy_class, base) for base in others)


def _algorithms_of_policy(policy_class: type) -> list[str]:
    """The algorithms that save models with ``policy_class``: ours (by the base of their aliases, then by
    their shared base), else the first of SB3's."""
    from stable_baselines3 import A2C, DDPG, DQN, PPO, SAC, TD3

    for family in (_policy_base, _shared_policy_base):
        names = [f"sb3_hlgauss.{a.__name__}" for a in _our_algorithms() if issubclass(policy_class, family(a))]
        if names:
            return names
    for algorithm in (DQN, SAC, TD3, DDPG, PPO, A2C):
        if any(isinstance(p, type) and issubclass(policy_class, p) for p in algorithm.policy_aliases.values()):
            return [f"stable_baselines3.{algorithm.__name__}"]
    return []


class ClassificationCriticMixin:
    """Loss settings, model set-up and logging shared by HLGaussDQN, HLGaussSAC, HLGaussTD3, HLGaussPPO and
    HLGaussA2C (the off-policy ones also mix in :class:`~sb3_hlgauss.common.checks.FiniteTransitionsMixin`, the
    check of what enters the replay buffer; the on-policy ones check each rollout instead).

    The loss settings are keyword-only constructor arguments of the algorithm (so that RL Zoo
    hyperparameter files and Optuna samplers set them by name) and plain attributes (so that
    they are saved with the model and restored by ``load``). They are resolved once by
    :func:`resolve_loss_settings` and the attributes always describe the critic in use; the loss
    module is rebuilt from them in ``_setup_model``. ``load`` refuses a file of another algorithm
    and any override that would change the saved support.
    """

    value_loss: ClassificationLoss
    policy_kwargs: dict[str, Any]
    policy: Any
    logger: Any
    policy_aliases: ClassVar[dict[str, type]]
    #: The loss of ``loss=None`` (:data:`DEFAULT_LOSS`; the on-policy algorithms' differs, see ``OnPolicyClassificationMixin``).
    default_loss: ClassVar[str] = DEFAULT_LOSS

    def _set_value_loss_settings(
        self,
        loss: str | None,
        num_bins: int | None,
        v_min: float | None,
        v_max: float | None,
        sigma_ratio: float | None,
        value_transform: str | None,
        loss_kwargs: dict[str, Any] | None,
        value_scale: str | None = None,
    ) -> None:
        for key in ("loss", "loss_kwargs"):
            if key in self.policy_kwargs:
                raise ValueError(
                    f"policy_kwargs[{key!r}] is set by the algorithm: pass the loss settings "
                    "(loss, num_bins, v_min, v_max, sigma_ratio, value_transform, loss_kwargs, value_scale) "
                    f"to {type(self).__name__} itself"
                )
        if loss is None:
            loss = type(self).default_loss
        settings, _ = resolve_loss_settings(
            type(self).__name__, loss, num_bins, v_min, v_max, sigma_ratio, value_transform, loss_kwargs, value_scale
        )
        self.__dict__.update(settings)
        setattr(self, VERSION_KEY, __version__)
        self.n_clipped_targets = 0

    def _loss_settings(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in LOSS_SETTINGS}

    def _setup_model(self) -> None:
        # Re-resolved: the attributes may have been set by load (or by hand) since __init__.
        settings, _ = resolve_loss_settings(type(self).__name__, **self._loss_settings())
        self.__dict__.update(settings)
        # The policy builds the loss from these; keep them out of the user's policy_kwargs
        # (which are saved as given and compared on load).
        user_policy_kwargs = self.policy_kwargs
        self.policy_kwargs = {
            **user_policy_kwargs, "loss": self.loss, "loss_kwargs": policy_loss_kwargs(settings, self.gamma)  # type: ignore[attr-defined]
        }
        try:
            super()._setup_model()  # type: ignore[misc]
        finally:
            self.policy_kwargs = user_policy_kwargs
        self.value_loss = self.policy.value_loss
        if not hasattr(self, "n_clipped_targets"):
            self.n_clipped_targets = 0

    @classmethod
    def load(  # type: ignore[override]
        cls,
        path: str | pathlib.Path | io.BufferedIOBase,
        env: GymEnv | None = None,
        device: th.device | str = "auto",
        custom_objects: dict[str, Any] | None = None,
        print_system_info: bool = False,
        force_reset: bool = True,
        **kwargs: Any,
    ) -> Any:
        """SB3's ``load``, which also refuses what would load a different critic than the one saved.

        :raises ValueError: if the file was saved by another algorithm (naming the one to use), or if
            ``custom_objects``/``kwargs`` would change a loss setting (``loss``, ``num_bins``, ``v_min``,
            ``v_max``, ``sigma_ratio``, ``value_transform``, ``loss_kwargs``): the weights were trained
            for the saved support. Giving a setting equal to the saved one is accepted.
        """
        stored = _read_saved_data(path) or {}  # None: not a zip file, which SB3 reports
        policy_class = _saved_policy_class(stored)
        if policy_class is not None and not _saves_policy(cls, policy_class):
            right = _algorithms_of_policy(policy_class)
            raise ValueError(
                f"{cls.__name__}.load: the file was saved with the policy {policy_class.__name__}"
                + (
                    f", by {' or '.join(right)}: load it with {' or '.join(f'{name}.load' for name in right)}"
                    if right
                    else f", which {cls.__name__} does not use"
                )
            )
        if stored and all(key in stored for key in ("loss", "num_bins")):
            legacy = VERSION_KEY not in stored
            saved = _legacy_settings(stored) if legacy else {key: stored.get(key) for key in LOSS_SETTINGS}
            saved, _ = resolve_loss_settings(f"{cls.__name__}.load", **saved)
            custom_objects = dict(custom_objects or {})
            given = {key: source.pop(key) for source in (custom_objects, kwargs) for key in list(source) if key in LOSS_SETTINGS}
            if given:
                cls._check_same_critic(saved, given)
            if legacy and saved["value_transform"] != "identity":
                warnings.warn(
                    f"{cls.__name__}.load: this model was saved by sb3-hlgauss < 0.3.0 with value_transform="
                    f"{saved['value_transform']!r}. From 0.3.0 its Q-values are the mean of its distribution in return "
                    "units (they were h^-1 of the mean in transformed units, which is not the expected return); "
                    "they read higher by about (1 + |Q|)(exp(sigma^2 / 2) - 1) and greedy actions can change where "
                    "two actions' values are close. Continued training uses the 0.3.0 targets. See CHANGELOG.md.",
                    UserWarning,
                    stacklevel=2,
                )
            kwargs.update(saved)
            kwargs[VERSION_KEY] = __version__
        return super().load(  # type: ignore[misc]
            path, env=env, device=device, custom_objects=custom_objects, print_system_info=print_system_info,
            force_reset=force_reset, **kwargs,
        )

    @classmethod
    def _check_same_critic(cls, saved: dict[str, Any], given: dict[str, Any]) -> None:
        """Raise unless the settings given to ``load`` resolve to the saved critic."""
        trial = {**saved, **given}
        if "sigma" in (trial.get("loss_kwargs") or {}) and "sigma_ratio" not in given:
            trial["sigma_ratio"] = None  # a given sigma replaces the saved ratio
        try:
            requested, _ = resolve_loss_settings(f"{cls.__name__}.load", **trial)
        except (TypeError, ValueError) as error:
            changed, requested, reason = list(given), trial, f" ({error})"
        else:
            changed, reason = [key for key in LOSS_SETTINGS if requested[key] != saved[key]], ""
        if changed:
            asked = ", ".join(f"{key}={given.get(key, requested[key])!r}" for key in changed)
            raise ValueError(
                f"{cls.__name__}.load({asked}) would change the critic's support or loss: the file was saved with "
                + ", ".join(f"{key}={saved[key]!r}" for key in changed)
                + f"{reason}. The weights are trained for the saved support: load without these settings, "
                "or train a new model with them."
            )

    def _update_return_scale(self, rewards: Any, dones: Any) -> None:
        """Feed one step of rewards (those the critic is trained on: ``VecNormalize``'d when it scales rewards)
        to the critic's return scale, if it has one (``value_scale="auto"``)."""
        return_scale = self.value_loss.return_scale
        if return_scale is not None:
            return_scale.update(rewards, dones)

    def _store_transition(self, replay_buffer: Any, buffer_action: Any, new_obs: Any, reward: Any, dones: Any,
                          infos: Any) -> None:
        # SB3's off-policy collection step: ``reward`` is what env.step returned (normalised by VecNormalize
        # if it normalises rewards, as the replay buffer's samples are).
        self._update_return_scale(reward, dones)
        super()._store_transition(replay_buffer, buffer_action, new_obs, reward, dones, infos)  # type: ignore[misc]

    def _setup_learn(self, total_timesteps: int, callback: Any = None, reset_num_timesteps: bool = True,
                     *args: Any, **kwargs: Any) -> Any:
        if (reset_num_timesteps or self._last_obs is None) and self.value_loss.return_scale is not None:  # type: ignore[attr-defined]
            self.value_loss.return_scale.reset_episodes()  # SB3 resets the envs: new episodes start
        return super()._setup_learn(total_timesteps, callback, reset_num_timesteps, *args, **kwargs)  # type: ignore[misc]

    def _record_return_scale(self) -> None:
        if self.value_loss.return_scale is not None:
            self.logger.record("train/value_scale", self.value_loss.return_scale.value)

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "value_loss", "_q_logits_to_log"]  # type: ignore[misc]

    def _check_finite_loss(self, loss_value: float) -> None:
        """Stop before a non-finite loss reaches the weights: a diverged critic, or (off the CPU, where the loss's
        ``target()`` does not sync to check them) non-finite TD targets, whose probabilities are NaN."""
        if not math.isfinite(loss_value):
            raise CriticDivergedError(
                f"{type(self).__name__}: non-finite loss ({loss_value}) at update {self._n_updates}: "  # type: ignore[attr-defined]
                "the critic's outputs are NaN/inf (try a lower learning rate or gradient clipping)."
            )

    def _record_critic_stats(self, q_logits: th.Tensor, clipped: list[th.Tensor]) -> None:
        """Log the targets clipped to the support and (when the logs are written) the mean Q-value; the
        algorithm's ``train()`` logs its loss under SB3's key (``train/loss``, ``train/critic_loss``).

        :param q_logits: Critic logits (e.g. of the last batch, any shape ``(..., K)``) whose mean
            decoded Q-value is logged as ``train/q_mean``.
        :param clipped: Boolean clip masks of the targets of each gradient step.
        """
        n_clipped = int(sum(c.sum() for c in clipped))
        n_targets = sum(c.numel() for c in clipped)
        self.n_clipped_targets += n_clipped
        self.logger.record("train/target_clip_fraction", n_clipped / max(n_targets, 1))
        self.logger.record("train/n_clipped_targets", self.n_clipped_targets)
        self._record_return_scale()
        # Decoding Q-values takes a handful of tensor operations, a cost comparable to the loss's own at
        # small batch sizes: keep the logits and decode them only when the logs are written.
        self._q_logits_to_log = q_logits.detach()

    def _record_q_mean(self) -> None:
        q_logits = getattr(self, "_q_logits_to_log", None)
        if q_logits is not None:
            self.logger.record("train/q_mean", float(self.value_loss.to_value(q_logits).mean()))
            self._q_logits_to_log = None

    def dump_logs(self, *args: Any, **kwargs: Any) -> None:
        self._record_q_mean()
        super().dump_logs(*args, **kwargs)  # type: ignore[misc]

    def learn(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().learn(*args, **kwargs)  # type: ignore[misc]
        finally:
            # Leave the last batch's mean Q-value in logger.name_to_value, as the other train/ keys are.
            self._record_q_mean()

"""Swapping SB3's algorithm for ours changes the value loss and nothing else (issue 36).

The optimizer is SB3's (same class and defaults, built from the same arguments), training does not touch
process-wide settings (the denormal-flush mode), ``set_training_mode`` is SB3's, the logged keys are SB3's
plus the critic's own (``train/target_clip_fraction`` in every algorithm), the replay-buffer check stays
off the on-policy path, and the loss's non-finite-target check needs no device sync off the CPU.
"""

from __future__ import annotations

import ast
import copy
import struct
from pathlib import Path

import pytest
import torch as th
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.policies import BaseModel

import sb3_hlgauss
from sb3_hlgauss import HLGaussA2C, HLGaussDQN, HLGaussPPO, HLGaussSAC, HLGaussTD3, make_loss
from sb3_hlgauss.common.checks import FiniteTransitionsMixin

#: ours, SB3's counterpart, an env, and settings that train within a few dozen steps.
PAIRS = [
    (HLGaussDQN, DQN, "CartPole-v1", dict(learning_starts=16, batch_size=8, train_freq=4)),
    (HLGaussSAC, SAC, "Pendulum-v1", dict(learning_starts=16, batch_size=8, train_freq=4)),
    (HLGaussTD3, TD3, "Pendulum-v1", dict(learning_starts=16, batch_size=8, train_freq=4, policy_delay=1)),
    (HLGaussPPO, PPO, "CartPole-v1", dict(n_steps=16, batch_size=8, n_epochs=1)),
    (HLGaussA2C, A2C, "CartPole-v1", dict(n_steps=8)),
]
IDS = [ours.__name__ for ours, *_ in PAIRS]
OFF_POLICY = (HLGaussDQN, HLGaussSAC, HLGaussTD3)
_DENORMAL = th.frombuffer(bytearray(struct.pack("<f", 1e-40)), dtype=th.float32)


def _optimizers(model) -> list[th.optim.Optimizer]:
    if hasattr(model, "actor"):  # SAC, TD3: the actor's and the critic's (SAC's entropy one is SB3's own code)
        return [model.actor.optimizer, model.critic.optimizer]
    return [model.policy.optimizer]


@pytest.mark.parametrize(
    "policy_kwargs",
    [None, dict(optimizer_kwargs=dict(weight_decay=1e-4)), dict(optimizer_class=th.optim.AdamW)],
    ids=["defaults", "user_kwargs", "user_class"],
)
@pytest.mark.parametrize(("ours", "theirs", "env_id", "kwargs"), PAIRS, ids=IDS)
def test_optimizer_is_sb3s(ours, theirs, env_id, kwargs, policy_kwargs):
    """Same optimizer class and defaults as SB3's algorithm built with the same arguments (no fused Adam by
    default; PPO's Adam eps=1e-5 and A2C's RMSprop as SB3 sets them)."""
    # A copy for each: SB3 keeps (and adds to) the dict it is given
    def extra() -> dict:
        return {} if policy_kwargs is None else dict(policy_kwargs=copy.deepcopy(policy_kwargs))

    model = ours("MlpPolicy", env_id, seed=0, **kwargs, **extra())
    reference = theirs("MlpPolicy", env_id, seed=0, **kwargs, **extra())
    for got, expected in zip(_optimizers(model), _optimizers(reference), strict=True):
        assert type(got) is type(expected)
        assert got.defaults == expected.defaults
    assert not any(group.get("fused") for optimizer in _optimizers(model) for group in optimizer.param_groups)


def test_fused_adam_is_the_users_choice():
    model = HLGaussDQN("MlpPolicy", "CartPole-v1", policy_kwargs=dict(optimizer_kwargs=dict(fused=True)), seed=0)
    assert model.policy.optimizer.defaults["fused"] is True


def _denormals_flushed() -> bool:
    return bool((_DENORMAL * 1.0).item() == 0.0)


@pytest.mark.parametrize(("ours", "theirs", "env_id", "kwargs"), PAIRS, ids=IDS)
def test_training_leaves_process_settings_and_logs_sb3s_keys(ours, theirs, env_id, kwargs):
    """``train()`` does not toggle the process-wide denormal mode; it logs SB3's keys (one per loss) and
    ``train/target_clip_fraction`` for the targets clipped to the support."""
    th.set_flush_denormal(False)
    model = ours("MlpPolicy", env_id, seed=0, **kwargs)
    reference = theirs("MlpPolicy", env_id, seed=0, **kwargs)
    flushed = []
    original_step = type(_optimizers(model)[0]).step

    def step(self, *args, **kwargs):
        flushed.append(_denormals_flushed())
        return original_step(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(type(_optimizers(model)[0]), "step", step)
        model.learn(48)
    assert flushed and not any(flushed) and not _denormals_flushed()
    reference.learn(48)
    ours_keys = {key for key in model.logger.name_to_value if key.startswith("train/")}
    sb3_keys = {key for key in reference.logger.name_to_value if key.startswith("train/")}
    assert sb3_keys <= ours_keys
    assert "train/target_clip_fraction" in ours_keys
    extra = ours_keys - sb3_keys
    assert extra <= {"train/target_clip_fraction", "train/n_clipped_targets", "train/q_mean", "train/value_mean",
                     "train/value_scale", "train/clip_fraction_vf"}, extra  # fmt: skip
    if ours is not HLGaussPPO:  # PPO's own train/clip_fraction is SB3's policy-ratio clip fraction
        assert "train/clip_fraction" not in ours_keys


@pytest.mark.parametrize(("ours", "theirs", "env_id", "kwargs"), PAIRS, ids=IDS)
def test_set_training_mode_is_sb3s(ours, theirs, env_id, kwargs):
    model = ours("MlpPolicy", env_id, seed=0, **kwargs)
    for module in model.policy.modules():
        if isinstance(module, BaseModel):
            method = type(module).set_training_mode  # SB3's own: BaseModel's, or SACPolicy's/TD3Policy's
            assert method.__module__.startswith("stable_baselines3."), (type(module), method)
    # The networks SB3's set_training_mode switches (not the target networks, which stay in eval mode)
    networks = [model.q_net] if ours is HLGaussDQN else [model.actor, model.critic] if hasattr(model, "actor") else [model.policy]
    for mode in (False, True, False):
        model.policy.set_training_mode(mode)
        assert all(module.training is mode for network in networks for module in network.modules())


def test_replay_buffer_check_is_off_policy_only():
    assert all(issubclass(algorithm, FiniteTransitionsMixin) for algorithm in OFF_POLICY)
    assert not any(issubclass(algorithm, FiniteTransitionsMixin) for algorithm in (HLGaussPPO, HLGaussA2C))


def test_a2c_does_not_import_ppo_and_old_policy_paths_stay():
    from sb3_hlgauss.common.actor_critic import HLGaussActorCriticPolicy
    from sb3_hlgauss.hlgauss_a2c import HLGaussA2CPolicy
    from sb3_hlgauss.hlgauss_ppo import HLGaussPPOPolicy
    from sb3_hlgauss.hlgauss_ppo import policies as ppo_policies

    package = Path(sb3_hlgauss.__file__).parent
    for path in (package / "hlgauss_a2c").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith("sb3_hlgauss.hlgauss_ppo"), path
    # 0.4.0 files name sb3_hlgauss.hlgauss_ppo.policies: the class is still there
    assert ppo_policies.HLGaussActorCriticPolicy is HLGaussActorCriticPolicy
    assert issubclass(HLGaussPPOPolicy, HLGaussActorCriticPolicy) and issubclass(HLGaussA2CPolicy, HLGaussActorCriticPolicy)


class _OffCPU(th.Tensor):
    """A CPU tensor that reports another device, to run the loss's accelerator path without one."""

    __torch_function__ = th._C._disabled_torch_function_impl  # results are plain tensors

    @property
    def device(self) -> th.device:  # type: ignore[override]
        return th.device("cuda")


@pytest.mark.parametrize("name", ["hl_gauss", "two_hot", "c51", "categorical_mse"])
def test_non_finite_targets_off_the_cpu_make_the_loss_nan_without_a_sync(name):
    """Off the CPU, ``target()`` reads nothing back (no host sync): a NaN/inf target gets NaN probabilities
    and value, so the loss is NaN and ``train()`` raises ``CriticDivergedError`` on it before the step."""
    loss = make_loss(name)
    targets = th.tensor([1.0, float("nan"), float("inf"), 3.0])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(th.Tensor, "item", lambda self: pytest.fail("target() synchronised with the host"))
        target = loss.target(targets.as_subclass(_OffCPU))
    assert target.probs.isnan().any(-1).tolist() == [False, True, True, False]
    assert target.value.isnan().tolist() == [False, True, True, False]
    finite = loss.target(th.tensor([1.0, 3.0]))
    th.testing.assert_close(target.probs[[0, 3]], finite.probs)
    assert th.isnan(loss(th.zeros(4, loss.num_bins), target))

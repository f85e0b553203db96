"""HLGaussA2C: one update against the rule, learning, round trips, errors."""

from __future__ import annotations


import gymnasium as gym
import numpy as np
import pytest
import torch as th
from stable_baselines3.common.env_util import make_vec_env

from sb3_hlgauss import HLGaussA2C, HLGaussPPO, make_loss
from sb3_hlgauss.common.on_policy import CategoricalValueHead
from tests.helpers import assert_one_sgd_step, best_evaluation_return, policy_and_rollout_before_first_update


def test_value_head_and_defaults():
    model = HLGaussA2C("MlpPolicy", "CartPole-v1", seed=0, device="cpu")
    assert isinstance(model.policy.value_net, CategoricalValueHead)
    assert (model.loss, model.num_bins, model.v_min, model.v_max, model.value_transform, model.value_scale) == (
        "categorical_mse", 101, None, None, "identity", "auto"
    )  # fmt: skip
    # A self-scaled head starts uniform: value 0 for every input.
    assert th.equal(model.policy.value_net.bias, th.zeros(101)) and th.equal(model.policy.value_net.weight, th.zeros_like(model.policy.value_net.weight))
    # SB3's A2C optimiser (RMSprop) is kept; the policy classes are A2C's own.
    assert isinstance(model.policy.optimizer, th.optim.RMSprop)
    assert type(model.policy).__name__ == "HLGaussA2CPolicy"


def test_one_update_is_cross_entropy_plus_a2c_policy_loss():
    """One update with plain SGD: the parameters move by the gradient of
    -mean(A log pi) + ent_coef * entropy_loss + vf_coef * CE(value logits, q(advantages + values))."""
    lr, vf_coef, ent_coef = 0.05, 0.4, 0.01
    model = HLGaussA2C(
        "MlpPolicy", "CartPole-v1", n_steps=20, learning_rate=lr, vf_coef=vf_coef, ent_coef=ent_coef, max_grad_norm=1e9,
        use_rms_prop=False, loss="hl_gauss", num_bins=41, v_min=-5.0, v_max=30.0, value_transform="identity",
        policy_kwargs=dict(net_arch=[8], optimizer_class=th.optim.SGD, optimizer_kwargs={}), seed=2, device="cpu",
    )  # fmt: skip
    policy, buffer = policy_and_rollout_before_first_update(model, 20)
    obs = th.as_tensor(buffer.observations.reshape(20, 4))
    actions = th.as_tensor(buffer.actions.reshape(20)).long()
    returns = th.as_tensor(buffer.returns.reshape(20))
    advantages = th.as_tensor(buffer.advantages.reshape(20))
    logits, log_prob, entropy = policy.evaluate_actions_with_value_logits(obs, actions)
    q = make_loss("hl_gauss", v_min=-5.0, v_max=30.0, num_bins=41, value_transform="identity").to_probs(returns)
    cross_entropy = -(q * th.log_softmax(logits, dim=-1)).sum(-1).mean()
    total = -(advantages * log_prob).mean() - ent_coef * entropy.mean() + vf_coef * cross_entropy
    assert_one_sgd_step(policy, model.policy, total, lr)
    assert model.logger.name_to_value["train/value_loss"] == pytest.approx(float(cross_entropy), rel=1e-5)


@pytest.mark.parametrize("loss", ["hl_gauss", None])
def test_self_scaled_value_loss_is_in_return_units(loss):
    """value_scale="auto": HL-Gauss's value loss is scale x CE against the label of return / scale on [-5, 5];
    the default loss (categorical_mse) is 0.5 (V - return)^2 in return units, unweighted."""
    lr, vf_coef = 0.05, 0.5
    model = HLGaussA2C(
        "MlpPolicy", "CartPole-v1", n_steps=20, learning_rate=lr, vf_coef=vf_coef, max_grad_norm=1e9, use_rms_prop=False,
        policy_kwargs=dict(net_arch=[8], optimizer_class=th.optim.SGD, optimizer_kwargs={}), seed=2, device="cpu",
        loss=loss,
    )  # fmt: skip
    assert model.loss == (loss or "categorical_mse")
    policy, buffer = policy_and_rollout_before_first_update(model, 20)
    scale = model.value_loss.support_scale  # updated with the rollout, before the update
    assert scale > 1 and model.value_loss_weight() == (scale if loss == "hl_gauss" else 1.0)
    obs = th.as_tensor(buffer.observations.reshape(20, 4))
    actions = th.as_tensor(buffer.actions.reshape(20)).long()
    returns = th.as_tensor(buffer.returns.reshape(20))
    advantages = th.as_tensor(buffer.advantages.reshape(20))
    logits, log_prob, _ = policy.evaluate_actions_with_value_logits(obs, actions)
    if loss == "hl_gauss":
        q = make_loss("hl_gauss", v_min=-5.0, v_max=5.0, num_bins=101, value_transform="identity").to_probs(returns / scale)
        value_loss = scale * -(q * th.log_softmax(logits, dim=-1)).sum(-1).mean()
    else:
        atoms = scale * make_loss("two_hot", v_min=-5.0, v_max=5.0, num_bins=101, value_transform="identity").atoms()
        value_loss = 0.5 * ((th.softmax(logits, dim=-1) @ atoms - returns.float()) ** 2).mean()
    total = -(advantages * log_prob).mean() + vf_coef * value_loss
    assert_one_sgd_step(policy, model.policy, total, lr)
    assert model.logger.name_to_value["train/value_loss"] == pytest.approx(float(value_loss), rel=1e-5)
    assert model.logger.name_to_value["train/value_scale"] == scale


def test_save_load_round_trip_and_logs(tmp_path):
    model = HLGaussA2C("MlpPolicy", "Pendulum-v1", n_steps=8, loss="two_hot", num_bins=31, v_min=-200.0, v_max=10.0,
                       value_transform="identity", policy_kwargs=dict(net_arch=[16]), seed=0, device="cpu")  # fmt: skip
    model.learn(200, progress_bar=True)
    for key in ("train/value_loss", "train/explained_variance", "train/target_clip_fraction", "train/n_clipped_targets"):
        assert key in model.logger.name_to_value, key
    obs = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    actions = model.predict(obs, deterministic=True)[0]
    model.save(tmp_path / "a2c.zip")
    loaded = HLGaussA2C.load(tmp_path / "a2c.zip", env=gym.make("Pendulum-v1"), device="cpu")
    assert (loaded.loss, loaded.num_bins, loaded.v_min) == ("two_hot", 31, -200.0)
    np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], actions)
    th.testing.assert_close(loaded.policy.predict_values(th.as_tensor(obs)), model.policy.predict_values(th.as_tensor(obs)))
    with pytest.raises(ValueError, match="HLGaussA2C.load"):
        HLGaussPPO.load(tmp_path / "a2c.zip")
    with pytest.raises(ValueError, match="v_max"):
        HLGaussA2C.load(tmp_path / "a2c.zip", v_max=20.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(loss="c51"), ValueError, "distributional"),
        (dict(num_bins=51.0), TypeError, "num_bins"),
        (dict(loss_kwargs=dict(v_max=1.0)), ValueError, "v_max"),
    ],
)
def test_bad_settings(kwargs, error, match):
    with pytest.raises(error, match=match):
        HLGaussA2C("MlpPolicy", "CartPole-v1", **kwargs)


@pytest.mark.slow
def test_learns_cartpole():
    """The zoo's CartPole-v1 settings (8 envs, SB3's A2C defaults) and the default support."""
    model = HLGaussA2C("MlpPolicy", make_vec_env("CartPole-v1", n_envs=8, seed=0), ent_coef=0.0, seed=0, device="cpu")
    assert best_evaluation_return(model, "CartPole-v1", 100_000, threshold=400, eval_freq=1_000) >= 400


@pytest.mark.slow
def test_default_critic_holds_cartpole_at_the_end(tmp_path):
    """No loss settings, the zoo's A2C settings, 150k steps (the no-regression panel's cell): the **final** greedy
    return reaches 475 on at least two of three seeds. The panel's record on seeds 100-104 (docs/benchmarks.md):
    SB3's A2C 500, 500, 500, 500, 203; HLGaussA2C's default (categorical_mse on the self-scaled support) 500, 500,
    348, 500, 500 (A2C's last policy can collapse on either side)."""
    from tests.helpers import final_evaluation_returns

    returns = final_evaluation_returns("a2c/CartPole-v1", [100, 101, 104], tmp_path)
    assert sum(r >= 475 for r in returns) >= 2, returns


@pytest.mark.slow
def test_default_critic_learns_acrobot(tmp_path):
    """No loss settings, the zoo's A2C Acrobot-v1 settings (VecNormalize), 200k steps: the final greedy return is
    above -100 (the goal reached in under 100 steps) on at least two of three seeds. These are the seeds on which the
    cross-entropy default never reached the goal (-500; SB3's A2C: -76, -78, -113 on seeds 100, 102, 104; this
    default: -80, -86, -76)."""
    from tests.helpers import final_evaluation_returns

    returns = final_evaluation_returns("a2c/Acrobot-v1", [100, 102, 104], tmp_path)
    assert sum(r > -100 for r in returns) >= 2, returns

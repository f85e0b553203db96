"""Drop-in replacement: SB3's constructor signatures (positional calls included), categorical heads
built directly (no SB3 scalar head created and replaced), and SAC/TD3 still train."""

import inspect

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.policies import ContinuousCritic
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, FlattenExtractor, create_mlp
from torch import nn

from sb3_hlgauss import HLGaussA2C, HLGaussDQN, HLGaussPPO, HLGaussSAC, HLGaussTD3
from sb3_hlgauss.hlgauss_a2c.policies import HLGaussA2CPolicy
from sb3_hlgauss.hlgauss_ppo.policies import CnnPolicy as PPOCnnPolicy
from sb3_hlgauss.hlgauss_ppo.policies import HLGaussPPOPolicy
from sb3_hlgauss.hlgauss_ppo.policies import MultiInputPolicy as PPOMultiInputPolicy
from sb3_hlgauss.common.base_class import LOSS_SETTINGS
from sb3_hlgauss.common.continuous_critic import CategoricalContinuousCritic
from sb3_hlgauss.common.losses import make_loss
from sb3_hlgauss.hlgauss_dqn.policies import CategoricalQNetwork, HLGaussDQNPolicy
from sb3_hlgauss.hlgauss_dqn.policies import CnnPolicy as DQNCnnPolicy
from sb3_hlgauss.hlgauss_dqn.policies import MultiInputPolicy as DQNMultiInputPolicy
from sb3_hlgauss.hlgauss_sac.policies import CnnPolicy as SACCnnPolicy
from sb3_hlgauss.hlgauss_sac.policies import HLGaussSACPolicy
from sb3_hlgauss.hlgauss_sac.policies import MultiInputPolicy as SACMultiInputPolicy
from sb3_hlgauss.hlgauss_td3.policies import CnnPolicy as TD3CnnPolicy
from sb3_hlgauss.hlgauss_td3.policies import HLGaussTD3Policy
from sb3_hlgauss.hlgauss_td3.policies import MultiInputPolicy as TD3MultiInputPolicy

PAIRS = [(HLGaussDQN, DQN), (HLGaussSAC, SAC), (HLGaussTD3, TD3)]
#: On-policy algorithms: the signature checks apply (their positional calls are tested in test_ppo.py).
ON_POLICY_PAIRS = [(HLGaussPPO, PPO), (HLGaussA2C, A2C)]
ENV_OF = {HLGaussDQN: "CartPole-v1", HLGaussSAC: "Pendulum-v1", HLGaussTD3: "Pendulum-v1"}
POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def reference_head(*args) -> nn.Sequential:
    """The head as built here from its definition: SB3's create_mlp, output layer zeroed (DreamerV3's init)."""
    head = nn.Sequential(*create_mlp(*args))
    nn.init.zeros_(head[-1].weight)
    nn.init.zeros_(head[-1].bias)
    return head


@pytest.fixture(autouse=True)
def _one_thread():
    th.set_num_threads(1)


def _parameters(cls) -> list[inspect.Parameter]:
    return list(inspect.signature(cls.__init__).parameters.values())


# ------------------------------------------------------------------------ signatures
@pytest.mark.parametrize("ours, sb3", PAIRS + ON_POLICY_PAIRS, ids=lambda c: c.__name__)
def test_sb3_parameters_in_the_same_order_with_the_same_defaults(ours, sb3):
    sb3_positional = [(p.name, p.default) for p in _parameters(sb3) if p.kind in POSITIONAL]
    our_positional = [(p.name, p.default) for p in _parameters(ours) if p.kind in POSITIONAL]
    assert our_positional == sb3_positional


@pytest.mark.parametrize("ours, sb3", PAIRS + ON_POLICY_PAIRS, ids=lambda c: c.__name__)
def test_the_only_extra_parameters_are_the_keyword_only_loss_settings(ours, sb3):
    sb3_names = {p.name for p in _parameters(sb3)}
    extra = [p for p in _parameters(ours) if p.name not in sb3_names]
    assert [p.name for p in extra] == list(LOSS_SETTINGS)
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in extra)
    # None everywhere: "the algorithm's documented default", resolved by the algorithm
    assert all(p.default is None for p in extra)
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    assert not any(p.kind in variadic for p in _parameters(ours))
    # SB3's own keyword-only parameters (none today) would be kept as well
    assert {p.name for p in _parameters(sb3) if p.kind is inspect.Parameter.KEYWORD_ONLY} <= {
        p.name for p in _parameters(ours) if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


@pytest.mark.parametrize("ours, sb3", PAIRS, ids=lambda c: c.__name__)
def test_positional_call_sets_sb3_arguments(ours, sb3):
    env = ENV_OF[ours]
    model = ours("MlpPolicy", env, 1e-3, 5000)
    assert model.learning_rate == 1e-3 and model.buffer_size == 5000
    reference = sb3("MlpPolicy", env, 1e-3, 5000)
    for name in ("learning_rate", "buffer_size", "learning_starts", "batch_size", "tau", "gamma", "gradient_steps"):
        assert getattr(model, name) == getattr(reference, name), name
    # ... and the loss settings are the documented defaults
    assert (model.loss, model.num_bins, model.v_min, model.v_max, model.value_transform, model.value_scale) == (
        "hl_gauss", 101, None, None, "identity", "auto",
    )
    assert model.value_loss.sigma_ratio == 0.75


@pytest.mark.parametrize("ours, sb3", PAIRS, ids=lambda c: c.__name__)
def test_longer_positional_call_matches_sb3(ours, sb3):
    """Positional values for the first eight SB3 arguments land where SB3 puts them."""
    env = ENV_OF[ours]
    args = ("MlpPolicy", env, 5e-4, 2000, 33, 17, 0.3, 0.8)
    model, reference = ours(*args, _init_setup_model=False), sb3(*args, _init_setup_model=False)
    for name in ("learning_rate", "buffer_size", "learning_starts", "batch_size", "tau", "gamma"):
        assert getattr(model, name) == getattr(reference, name), name
    assert (model.learning_starts, model.batch_size, model.tau, model.gamma) == (33, 17, 0.3, 0.8)


@pytest.mark.parametrize("ours", [HLGaussDQN, HLGaussSAC, HLGaussTD3], ids=lambda c: c.__name__)
def test_loss_settings_by_keyword_after_positional_arguments(ours):
    model = ours("MlpPolicy", ENV_OF[ours], 1e-3, 5000, loss="two_hot", num_bins=11, v_min=-5.0, v_max=5.0)
    assert model.learning_rate == 1e-3 and model.buffer_size == 5000
    assert (model.loss, model.num_bins, model.v_min, model.v_max) == ("two_hot", 11, -5.0, 5.0)
    assert type(model.value_loss).__name__ == "TwoHotLoss" and model.value_loss.num_bins == 11


@pytest.mark.parametrize(
    "policy_class",
    [
        HLGaussDQNPolicy, DQNCnnPolicy, DQNMultiInputPolicy,
        HLGaussSACPolicy, SACCnnPolicy, SACMultiInputPolicy,
        HLGaussTD3Policy, TD3CnnPolicy, TD3MultiInputPolicy,
        HLGaussPPOPolicy, PPOCnnPolicy, PPOMultiInputPolicy, HLGaussA2CPolicy,
    ],
    ids=lambda c: f"{c.__module__.split('.')[1]}.{c.__name__}",
)
def test_policies_do_not_default_the_loss(policy_class):
    parameters = inspect.signature(policy_class.__init__).parameters
    if "loss" in parameters:  # the Cnn/MultiInput variants of SAC/TD3 pass them on through **kwargs
        assert parameters["loss"].default is None and parameters["loss_kwargs"].default is None
    else:
        assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    for cls in policy_class.__mro__:
        if "loss" in inspect.signature(cls.__init__).parameters and cls.__module__.startswith("sb3_hlgauss"):
            assert inspect.signature(cls.__init__).parameters["loss"].default is None, cls


def test_policy_without_loss_settings_is_an_error():
    env = gym.make("CartPole-v1")
    with pytest.raises(ValueError, match="loss"):
        HLGaussDQNPolicy(env.observation_space, env.action_space, lambda _: 1e-3)


# ------------------------------------------------------------- heads built directly
def _linear_shapes(module: nn.Module) -> list[tuple[int, ...]]:
    return [tuple(p.shape) for p in module.parameters()]


def test_categorical_q_network_draws_only_its_categorical_layers():
    env = gym.make("CartPole-v1")
    loss = make_loss("hl_gauss", num_bins=7, v_min=-10.0, v_max=10.0)
    policy_args = dict(observation_space=env.observation_space, action_space=env.action_space)
    th.manual_seed(0)
    q_net = CategoricalQNetwork(
        **policy_args, features_extractor=FlattenExtractor(env.observation_space), features_dim=4,
        value_loss=loss, net_arch=[16, 8],
    )
    state_after = th.get_rng_state()
    th.manual_seed(0)
    reference = reference_head(4, 2 * 7, [16, 8])
    # Exactly the same draws: same weights and the generator in the same state afterwards
    assert th.equal(state_after, th.get_rng_state())
    assert list(q_net.q_net.state_dict()) == list(reference.state_dict())
    for name, value in reference.state_dict().items():
        assert th.equal(q_net.q_net.state_dict()[name], value), name
    # No leftover scalar head: the only parameters are the MLP's, whose output layer has n_actions * num_bins units
    assert _linear_shapes(q_net) == [(16, 4), (16,), (8, 16), (8,), (2 * 7, 8), (2 * 7,)]
    assert not any(isinstance(m, nn.Linear) and m.out_features == 2 for m in q_net.modules())
    assert [name for name, _ in q_net.named_children()] == ["features_extractor", "q_net", "value_loss"]


def test_dqn_policy_draws_twice_the_categorical_network():
    """The policy builds the Q-network and its target network: two categorical MLPs, nothing more."""
    model = HLGaussDQN(
        "MlpPolicy", "CartPole-v1", num_bins=7, policy_kwargs=dict(net_arch=[16]), _init_setup_model=False
    )
    th.manual_seed(3)
    model._setup_model()
    state_after = th.get_rng_state()
    th.manual_seed(3)
    first = reference_head(4, 2 * 7, [16])
    reference_head(4, 2 * 7, [16])
    assert th.equal(state_after, th.get_rng_state())
    for name, value in first.state_dict().items():
        assert th.equal(model.q_net.q_net.state_dict()[name], value), name
    assert [k for k in model.policy.state_dict() if k.endswith("weight")] == [
        "q_net.q_net.0.weight", "q_net.q_net.2.weight", "q_net_target.q_net.0.weight", "q_net_target.q_net.2.weight",
    ]
    assert _linear_shapes(model.q_net) == [(16, 4), (16,), (2 * 7, 16), (2 * 7,)]


@pytest.mark.parametrize("n_critics", [1, 2, 3])
def test_categorical_continuous_critic_draws_only_its_categorical_heads(n_critics):
    env = gym.make("Pendulum-v1")
    loss = make_loss("hl_gauss", num_bins=9, v_min=-10.0, v_max=10.0)
    th.manual_seed(0)
    critic = CategoricalContinuousCritic(
        env.observation_space, env.action_space, net_arch=[16],
        features_extractor=FlattenExtractor(env.observation_space),
        features_dim=3, value_loss=loss, n_critics=n_critics,
    )
    state_after = th.get_rng_state()
    th.manual_seed(0)
    references = [reference_head(3 + 1, 9, [16]) for _ in range(n_critics)]
    assert th.equal(state_after, th.get_rng_state())
    for idx, reference in enumerate(references):
        for name, value in reference.state_dict().items():
            assert th.equal(critic.state_dict()[f"qf{idx}.{name}"], value), (idx, name)
    assert _linear_shapes(critic) == [(16, 4), (16,), (9, 16), (9,)] * n_critics
    assert not any(isinstance(m, nn.Linear) and m.out_features == 1 for m in critic.modules())
    assert len(critic.q_networks) == n_critics and critic.q_networks[0] is critic.qf0
    # SB3's ContinuousCritic semantics
    obs, actions = th.randn(5, 3), th.rand(5, 1)
    logits = critic(obs, actions)
    assert len(logits) == n_critics and all(head.shape == (5, 9) for head in logits)
    assert critic.q1_forward(obs, actions).shape == (5, 1)
    th.testing.assert_close(critic.q1_forward(obs, actions)[:, 0], loss.to_value(logits[0]))


class _LinearExtractor(BaseFeaturesExtractor):
    def __init__(self, observation_space: gym.spaces.Box, features_dim: int = 5) -> None:
        super().__init__(observation_space, features_dim)
        self.linear = nn.Linear(int(np.prod(observation_space.shape)), features_dim)

    def forward(self, observations: th.Tensor) -> th.Tensor:
        return self.linear(observations)


@pytest.mark.parametrize("share", [True, False])
def test_features_extractor_gradient_as_in_sb3(share):
    """As SB3's ContinuousCritic: with a shared features extractor, the critic's loss does not train it."""
    env = gym.make("Pendulum-v1")
    loss = make_loss("hl_gauss", num_bins=9, v_min=-10.0, v_max=10.0)
    critic = CategoricalContinuousCritic(
        env.observation_space, env.action_space, net_arch=[8],
        features_extractor=_LinearExtractor(env.observation_space),
        features_dim=5, value_loss=loss, share_features_extractor=share,
    )
    sb3_critic = ContinuousCritic(
        env.observation_space, env.action_space, net_arch=[8],
        features_extractor=_LinearExtractor(env.observation_space),
        features_dim=5, share_features_extractor=share,
    )
    obs, actions = th.randn(4, 3), th.zeros(4, 1)
    for module in (critic, sb3_critic):
        sum(head.sum() for head in module(obs, actions)).backward()
        grad = module.features_extractor.linear.weight.grad
        assert (grad is None) is share, type(module).__name__
        # q1_forward never trains the features extractor
        module.zero_grad(set_to_none=True)
        module.q1_forward(obs, actions).sum().backward()
        assert module.features_extractor.linear.weight.grad is None


def test_sac_policy_draws_the_actor_and_the_categorical_heads_only():
    model = HLGaussSAC(
        "MlpPolicy", "Pendulum-v1", num_bins=9, policy_kwargs=dict(net_arch=[16]), _init_setup_model=False
    )
    th.manual_seed(5)
    model._setup_model()
    state_after = th.get_rng_state()
    th.manual_seed(5)
    model.policy.make_actor()  # SB3's actor, built first by SACPolicy._build
    heads = [reference_head(4, 9, [16]) for _ in range(2)]
    [reference_head(4, 9, [16]) for _ in range(2)]  # the target critic
    assert th.equal(state_after, th.get_rng_state())
    for idx, head in enumerate(heads):
        for name, value in head.state_dict().items():
            assert th.equal(model.critic.state_dict()[f"qf{idx}.{name}"], value), (idx, name)
    # Keys of SB3's ContinuousCritic: files saved by earlier releases load unchanged
    assert [k for k in model.policy.state_dict() if k.startswith("critic.") and k.endswith("weight")] == [
        "critic.qf0.0.weight", "critic.qf0.2.weight", "critic.qf1.0.weight", "critic.qf1.2.weight",
    ]


# ------------------------------------------------------------------ still training
@pytest.mark.parametrize("algorithm", [HLGaussSAC, HLGaussTD3], ids=lambda c: c.__name__)
@pytest.mark.parametrize("loss", ["hl_gauss", "c51"])
def test_sac_and_td3_still_train(algorithm, loss):
    model = algorithm(
        "MlpPolicy", "Pendulum-v1", learning_starts=100, batch_size=32, buffer_size=1000, seed=0,
        policy_kwargs=dict(net_arch=[32, 32]), loss=loss, num_bins=21,
    )
    critic_before = [p.detach().clone() for p in model.critic.parameters()]
    actor_before = [p.detach().clone() for p in model.actor.parameters()]
    model.learn(300)
    values = model.logger.name_to_value
    assert model._n_updates >= 150
    for key in ("train/critic_loss", "train/actor_loss", "train/loss"):
        assert np.isfinite(values[key]), key
    assert all(th.isfinite(p).all() for p in model.policy.parameters())
    assert any(not th.equal(a, b) for a, b in zip(critic_before, model.critic.parameters()))
    assert any(not th.equal(a, b) for a, b in zip(actor_before, model.actor.parameters()))
    # The target critic follows the critic (Polyak) and is not the same object
    assert model.critic_target is not model.critic
    assert any(not th.equal(a, b) for a, b in zip(critic_before, model.critic_target.parameters()))

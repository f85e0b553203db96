"""One source of truth for the loss settings, for HLGaussDQN, HLGaussSAC and HLGaussTD3 alike.

0.2.0, measured: loss_kwargs={"v_max": 5.0} built a critic on v_max=5 while model.v_max said 10000;
v_min=None gave the loss class's -10; num_bins="51" was stored as a string; load(custom_objects={"v_max":
1000}) silently changed Q; SB3's DQN.load on an HLGaussDQN file loaded a [-10, 10] support.
"""

import copy

import pytest
import stable_baselines3 as sb3
import torch as th

from sb3_hlgauss import HLGaussDQN, HLGaussSAC, HLGaussTD3
from sb3_hlgauss.common.base_class import AUTO_EDGE, DEFAULT_NUM_BINS, DEFAULT_V_MAX, DEFAULT_V_MIN

ALGOS = {
    HLGaussDQN: ("CartPole-v1", sb3.DQN),
    HLGaussSAC: ("Pendulum-v1", sb3.SAC),
    HLGaussTD3: ("Pendulum-v1", sb3.TD3),
}
SMALL = dict(policy_kwargs=dict(net_arch=[8]), learning_starts=10, buffer_size=200)


def build(algo, **kwargs):
    # A fresh policy_kwargs each time: SB3's SAC adds use_sde to the dict it is given.
    return algo("MlpPolicy", ALGOS[algo][0], **{**copy.deepcopy(SMALL), **kwargs})


def critic_settings(model) -> dict:
    loss = model.value_loss
    return dict(num_bins=loss.num_bins, v_min=loss.v_min, v_max=loss.v_max, value_transform=loss.value_transform.name)


@pytest.mark.parametrize("algo", ALGOS, ids=lambda a: a.__name__)
@pytest.mark.parametrize("key, value", [("v_max", 5.0), ("num_bins", 11), ("v_min", -3.0), ("value_transform", "identity"), ("sigma_ratio", 0.5)])
def test_a_setting_in_loss_kwargs_is_given_twice(algo, key, value):
    with pytest.raises(ValueError, match=rf"'{key}' is given in loss_kwargs .* pass {key}=\.\.\. directly"):
        build(algo, loss_kwargs={key: value})


@pytest.mark.parametrize("algo", ALGOS, ids=lambda a: a.__name__)
def test_sigma_and_sigma_ratio_together_are_an_error(algo):
    with pytest.raises(ValueError, match=r"sigma .* and sigma_ratio .* both set the HL-Gauss width"):
        build(algo, sigma_ratio=0.5, loss_kwargs={"sigma": 0.1})


@pytest.mark.parametrize("algo", ALGOS, ids=lambda a: a.__name__)
def test_none_means_the_algorithms_documented_default(algo):
    model = build(algo, loss=None, num_bins=None, v_min=None, v_max=None, sigma_ratio=None, value_transform=None,
                  loss_kwargs=None, value_scale=None)
    # The default support follows the returns: [-5, 5] (normalised units) times the return scale.
    assert critic_settings(model) == dict(num_bins=DEFAULT_NUM_BINS, v_min=-AUTO_EDGE, v_max=AUTO_EDGE, value_transform="identity")
    assert model.value_loss.return_scale is not None and model.value_loss.return_scale.gamma == model.gamma
    expected = dict(num_bins=DEFAULT_NUM_BINS, v_min=None, v_max=None, value_transform="identity", value_scale="auto")
    assert {key: getattr(model, key) for key in expected} == expected
    assert model.loss == "hl_gauss" and model.sigma_ratio == 0.75 and model.loss_kwargs == {}
    # A hand-set bound makes the support fixed, with 0.4.0's defaults for the rest (symlog, +-1e4)
    fixed = build(algo, v_min=None, v_max=500.0)
    assert fixed.value_scale == "fixed" and fixed.value_loss.return_scale is None
    assert critic_settings(fixed) == dict(num_bins=DEFAULT_NUM_BINS, v_min=DEFAULT_V_MIN, v_max=500.0, value_transform="symlog")


@pytest.mark.parametrize("algo", ALGOS, ids=lambda a: a.__name__)
def test_value_scale_is_checked(algo):
    with pytest.raises(ValueError, match=r"value_scale must be one of \('auto', 'fixed'\), got 'adaptive'"):
        build(algo, value_scale="adaptive")
    with pytest.raises(ValueError, match=r"value_scale='auto' chooses the support .* v_min=-1.0"):
        build(algo, value_scale="auto", v_min=-1.0, v_max=1.0)
    assert build(algo, value_scale="fixed").value_loss.v_max == DEFAULT_V_MAX


@pytest.mark.parametrize("algo", ALGOS, ids=lambda a: a.__name__)
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(num_bins="51"), r"num_bins must be an integer >= 2, got '51' \(str\)"),
        (dict(num_bins=51.0), r"num_bins must be an integer >= 2, got 51.0 \(float\)"),
        (dict(sigma_ratio="0.75"), r"sigma_ratio must be a real number, got '0.75' \(str\)"),
        (dict(v_min="a"), r"v_min must be a real number, got 'a' \(str\)"),
        (dict(loss=3), r"loss must be the name of a registered loss"),
        (dict(loss_kwargs=[1]), r"loss_kwargs must be a dict"),
        (dict(value_transform=1.0), r"value_transform must be a registered transform name"),
    ],
)
def test_settings_of_the_wrong_type_are_named(algo, kwargs, match):
    with pytest.raises(TypeError, match=match):
        build(algo, **kwargs)


@pytest.mark.parametrize("algo", ALGOS, ids=lambda a: a.__name__)
def test_attributes_describe_the_critic_in_use_and_survive_save_load(algo, tmp_path):
    import numpy as np

    model = build(algo, num_bins=np.int64(31), v_min=-50, v_max=50, value_transform="identity", loss_kwargs={"sigma": 1.0})
    assert model.sigma_ratio == pytest.approx(1.0 / (100 / 31)) == pytest.approx(model.value_loss.sigma_ratio)
    assert model.loss_kwargs == {} and type(model.num_bins) is int and type(model.v_min) is float
    assert critic_settings(model) == dict(num_bins=31, v_min=-50.0, v_max=50.0, value_transform="identity")
    model.save(tmp_path / "m.zip")
    loaded = algo.load(tmp_path / "m.zip")
    for key in ("loss", "num_bins", "v_min", "v_max", "sigma_ratio", "value_transform", "loss_kwargs"):
        assert getattr(loaded, key) == getattr(model, key) and type(getattr(loaded, key)) is type(getattr(model, key))
    assert loaded.value_loss.sigma == pytest.approx(1.0)


@pytest.mark.parametrize("algo", ALGOS, ids=lambda a: a.__name__)
@pytest.mark.parametrize("override", [dict(v_max=1000.0), dict(num_bins=51), dict(loss="two_hot"), dict(sigma_ratio=1.0), dict(value_transform="symlog")])
def test_load_that_would_change_the_critic_is_an_error_naming_the_setting(algo, override, tmp_path):
    build(algo, num_bins=21).save(tmp_path / "m.zip")
    (key, value), = override.items()
    with pytest.raises(ValueError, match=rf"would change the critic's support or loss: the file was saved with {key}="):
        algo.load(tmp_path / "m.zip", custom_objects=override)
    with pytest.raises(ValueError, match=rf"{key}="):
        algo.load(tmp_path / "m.zip", **override)


@pytest.mark.parametrize("algo", ALGOS, ids=lambda a: a.__name__)
def test_a_file_loaded_by_the_wrong_class_names_the_right_one(algo, tmp_path):
    build(algo).save(tmp_path / "ours.zip")
    sb3_algo = ALGOS[algo][1]
    with pytest.raises(ValueError, match=rf"load the file with another class .* use sb3_hlgauss.{algo.__name__}.load|use sb3_hlgauss.{algo.__name__}.load"):
        sb3_algo.load(tmp_path / "ours.zip")
    other = HLGaussSAC if algo is HLGaussDQN else HLGaussDQN
    with pytest.raises(ValueError, match=rf"by sb3_hlgauss.{algo.__name__}: load it with sb3_hlgauss.{algo.__name__}.load"):
        other.load(tmp_path / "ours.zip")
    sb3_algo("MlpPolicy", ALGOS[algo][0], policy_kwargs=dict(net_arch=[8]), buffer_size=200).save(tmp_path / "sb3.zip")
    with pytest.raises(ValueError, match=rf"by stable_baselines3.{sb3_algo.__name__}: load it with stable_baselines3.{sb3_algo.__name__}.load"):
        algo.load(tmp_path / "sb3.zip")


def test_loaded_model_predicts_like_the_saved_one(tmp_path):
    model = build(HLGaussDQN, num_bins=21, v_min=0.0, v_max=100.0, value_transform="identity")
    model.learn(50)
    model.save(tmp_path / "m.zip")
    obs = th.randn(8, 4)
    loaded = HLGaussDQN.load(tmp_path / "m.zip", v_max=100, num_bins=21)  # equal values are accepted
    th.testing.assert_close(loaded.q_net.q_values(obs), model.q_net.q_values(obs))

"""sb3-hlgauss: classification value losses (HL-Gauss, Two-Hot, C51) for Stable-Baselines3.

Farebrother et al., *Stop Regressing: Training Value Functions via Classification for
Scalable Deep RL*, ICML 2024 (arXiv:2403.03950).
"""

from sb3_hlgauss.common.errors import CriticDivergedError, NonFiniteDataError
from sb3_hlgauss.common.losses import (
    LOSSES,
    C51Loss,
    CategoricalMSELoss,
    ClassificationLoss,
    HLGaussLoss,
    TDTarget,
    TwoHotLoss,
    available_losses,
    get_loss_class,
    make_loss,
    register_loss,
)
from sb3_hlgauss.common.transforms import (
    VALUE_TRANSFORMS,
    IdentityTransform,
    SymlogTransform,
    ValueTransform,
    make_value_transform,
    register_value_transform,
)
from sb3_hlgauss.hlgauss_a2c import HLGaussA2C
from sb3_hlgauss.hlgauss_dqn import HLGaussDQN
from sb3_hlgauss.hlgauss_ppo import HLGaussPPO
from sb3_hlgauss.hlgauss_sac import HLGaussSAC
from sb3_hlgauss.hlgauss_td3 import HLGaussTD3

from sb3_hlgauss.version import __version__

__all__ = [
    "LOSSES",
    "VALUE_TRANSFORMS",
    "C51Loss",
    "CategoricalMSELoss",
    "ClassificationLoss",
    "CriticDivergedError",
    "NonFiniteDataError",
    "HLGaussA2C",
    "HLGaussDQN",
    "HLGaussLoss",
    "HLGaussPPO",
    "HLGaussSAC",
    "HLGaussTD3",
    "IdentityTransform",
    "SymlogTransform",
    "TDTarget",
    "TwoHotLoss",
    "ValueTransform",
    "available_losses",
    "get_loss_class",
    "make_loss",
    "make_value_transform",
    "register_loss",
    "register_value_transform",
]

from sb3_hlgauss.hlgauss_ppo.hlgauss_ppo import HLGaussPPO
from sb3_hlgauss.hlgauss_ppo.policies import (
    CnnPolicy,
    HLGaussActorCriticPolicy,
    HLGaussPPOPolicy,
    MlpPolicy,
    MultiInputPolicy,
)

__all__ = ["CnnPolicy", "HLGaussActorCriticPolicy", "HLGaussPPO", "HLGaussPPOPolicy", "MlpPolicy", "MultiInputPolicy"]

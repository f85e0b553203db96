from sb3_hlgauss.hlgauss_sac.hlgauss_sac import HLGaussSAC
from sb3_hlgauss.hlgauss_sac.policies import CnnPolicy, HLGaussSACPolicy, MlpPolicy, MultiInputPolicy

__all__ = ["CnnPolicy", "HLGaussSAC", "HLGaussSACPolicy", "MlpPolicy", "MultiInputPolicy"]

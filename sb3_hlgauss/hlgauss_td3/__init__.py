from sb3_hlgauss.hlgauss_td3.hlgauss_td3 import HLGaussTD3
from sb3_hlgauss.hlgauss_td3.policies import CnnPolicy, HLGaussTD3Policy, MlpPolicy, MultiInputPolicy

__all__ = ["CnnPolicy", "HLGaussTD3", "HLGaussTD3Policy", "MlpPolicy", "MultiInputPolicy"]

from sb3_hlgauss.hlgauss_a2c.hlgauss_a2c import HLGaussA2C
from sb3_hlgauss.hlgauss_a2c.policies import CnnPolicy, HLGaussA2CPolicy, MlpPolicy, MultiInputPolicy

__all__ = ["CnnPolicy", "HLGaussA2C", "HLGaussA2CPolicy", "MlpPolicy", "MultiInputPolicy"]

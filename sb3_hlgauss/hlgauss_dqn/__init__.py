from sb3_hlgauss.hlgauss_dqn.hlgauss_dqn import HLGaussDQN
from sb3_hlgauss.hlgauss_dqn.policies import CnnPolicy, HLGaussDQNPolicy, MlpPolicy, MultiInputPolicy

__all__ = ["CnnPolicy", "HLGaussDQN", "HLGaussDQNPolicy", "MlpPolicy", "MultiInputPolicy"]

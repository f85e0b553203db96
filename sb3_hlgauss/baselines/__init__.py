"""Regression baselines to compare the classification critics against, with identical settings."""

from sb3_hlgauss.baselines.mse_dqn import MSEDQN

__all__ = ["MSEDQN"]

"""Errors raised by sb3-hlgauss, so that callers (and the RL Zoo integration) can tell them apart.

Both subclass ``ValueError``, what 0.2.0 raised in their place, so ``except ValueError`` keeps working.
"""

from __future__ import annotations


class CriticDivergedError(ValueError):
    """The critic's targets or loss became NaN/inf during training (the critic diverged).

    The RL Zoo integration prunes an Optuna trial that raises it (and only it): a diverging set of
    hyperparameters is a result of the search, any other error is a bug to see.
    """


class NonFiniteDataError(ValueError):
    """An environment produced a NaN/inf observation, reward or action.

    Raised before the transition enters the replay buffer, naming what was non-finite, the env
    index and the step, so that the buffer (and any checkpoint of it) holds finite data only.
    """

"""Policy-side plumbing shared by the categorical critics of every algorithm."""

from __future__ import annotations

from typing import Any

import torch as th
from stable_baselines3.common.torch_layers import create_mlp

from sb3_hlgauss.common.losses import ClassificationLoss, make_loss
from sb3_hlgauss.common.value_scale import RunningReturnScale


class ValueLossPolicyMixin:
    """Gives a policy the :class:`~sb3_hlgauss.common.losses.ClassificationLoss` that maps its
    critic's logits to values.

    The loss is stored as its name and keyword arguments (plain, JSON-able values) so that a
    policy saved on its own (``policy.save``) rebuilds the same support when loaded. The
    algorithm passes both; see :class:`~sb3_hlgauss.common.base_class.ClassificationCriticMixin`.
    """

    value_loss: ClassificationLoss

    def _store_value_loss_settings(self, loss: str | None, loss_kwargs: dict[str, Any] | None) -> None:
        if loss is None or loss_kwargs is None:
            # Only the algorithm knows the support: a policy built without it (e.g. by SB3's own
            # DQN.load on an HLGaussDQN file) would silently get some default support.
            algorithm = type(self).__name__.removesuffix("Policy")
            for base in type(self).__mro__:
                if base.__name__.startswith("HLGauss") and base.__name__.endswith("Policy"):
                    algorithm = base.__name__.removesuffix("Policy")
                    break
            raise ValueError(
                f"{type(self).__name__} needs the loss settings (loss and loss_kwargs), which sb3_hlgauss's "
                f"{algorithm} passes from its own arguments. Loading an {algorithm} file with another class "
                f"(e.g. stable_baselines3's DQN/SAC/TD3/PPO/A2C.load) cannot work: use sb3_hlgauss.{algorithm}.load."
            )
        # Plain attributes: set before nn.Module.__init__ is allowed, modules are not.
        self.loss_name = loss
        self.loss_kwargs = dict(loss_kwargs)

    def _build_value_loss(self) -> None:
        from sb3_hlgauss.common.base_class import RETURN_SCALE_KEY

        kwargs = dict(self.loss_kwargs)
        return_scale = kwargs.pop(RETURN_SCALE_KEY, None)
        self.value_loss = make_loss(self.loss_name, **kwargs)
        if return_scale is not None:
            self.value_loss.attach_return_scale(RunningReturnScale(**return_scale))

    def _value_loss_constructor_parameters(self) -> dict[str, Any]:
        return dict(loss=self.loss_name, loss_kwargs=dict(self.loss_kwargs))


def categorical_head(
    input_dim: int, num_logits: int, net_arch: list[int], activation_fn: type[th.nn.Module]
) -> th.nn.Sequential:
    """SB3's ``create_mlp`` head with ``num_logits`` outputs whose output layer starts at zero.

    Why zero: with random output weights the initial distribution puts ~1/K of its mass, perturbed at
    random, on every atom, and its mean in return units is noise scaled by the outer atoms (on the
    default symlog support, initial Q-values of -23 +- 14 on CartPole). Zero output weights give a
    uniform distribution for every input, whose value is the mean of the atoms (0 on a symmetric
    support, the midpoint with the identity transform), as DreamerV3 (Hafner et al., 2023) initialises
    its two-hot critic. The output layer still gets gradients at once, the hidden layers from the
    second update on.
    """
    head = th.nn.Sequential(*create_mlp(input_dim, num_logits, net_arch, activation_fn))
    output = head[-1]
    assert isinstance(output, th.nn.Linear)
    th.nn.init.zeros_(output.weight)
    th.nn.init.zeros_(output.bias)
    return head


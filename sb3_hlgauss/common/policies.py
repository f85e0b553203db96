"""Policy-side plumbing shared by the categorical critics of every algorithm."""

from __future__ import annotations

from typing import Any

from sb3_hlgauss.common.losses import ClassificationLoss, make_loss


class ValueLossPolicyMixin:
    """Gives a policy the :class:`~sb3_hlgauss.common.losses.ClassificationLoss` that maps its
    critic's logits to values.

    The loss is stored as its name and keyword arguments (plain, JSON-able values) so that a
    policy saved on its own (``policy.save``) rebuilds the same support when loaded. The
    algorithm passes both; see :class:`~sb3_hlgauss.common.base_class.ClassificationCriticMixin`.
    """

    value_loss: ClassificationLoss

    def _store_value_loss_settings(self, loss: str, loss_kwargs: dict[str, Any] | None) -> None:
        # Plain attributes: set before nn.Module.__init__ is allowed, modules are not.
        self.loss_name = loss
        self.loss_kwargs = dict(loss_kwargs or {})

    def _build_value_loss(self) -> None:
        self.value_loss = make_loss(self.loss_name, **self.loss_kwargs)

    def _value_loss_constructor_parameters(self) -> dict[str, Any]:
        return dict(loss=self.loss_name, loss_kwargs=dict(self.loss_kwargs))

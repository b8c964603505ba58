"""Importance criteria for channel groups, pluggable as in Torch-Pruning: any callable group -> scores.

Built-in: l1, l2 (filter magnitude over the whole coupled group), bn (BatchNorm scale), taylor (first-order
Taylor expansion of the loss; needs gradients from the user's data), random.
"""

from __future__ import annotations

import torch
import torch_pruning as tp

from edgeprune.errors import BudgetError

CRITERIA = ("l1", "l2", "bn", "taylor", "random")


class BNScaleOrMagnitude:
    """BN-scale importance where the group has a BatchNorm; L2 magnitude for groups without one."""

    def __init__(self):
        self.bn = tp.importance.BNScaleImportance()
        self.fallback = tp.importance.GroupMagnitudeImportance(p=2)

    def __call__(self, group):
        scores = self.bn(group)
        return scores if scores is not None else self.fallback(group)


def make_importance(name: str):
    if callable(name) and not isinstance(name, str):
        return name  # a user-supplied criterion, Torch-Pruning style
    if name == "l1":
        return tp.importance.GroupMagnitudeImportance(p=1)
    if name == "l2":
        return tp.importance.GroupMagnitudeImportance(p=2)
    if name == "bn":
        return BNScaleOrMagnitude()
    if name == "taylor":
        return tp.importance.GroupTaylorImportance()
    if name == "random":
        return tp.importance.RandomImportance()
    raise BudgetError(f"unknown importance criterion '{name}'; known: {', '.join(CRITERIA)}")


def needs_gradients(name) -> bool:
    return name == "taylor"


def accumulate_gradients(model: torch.nn.Module, batches, loss_fn=None, max_batches: int = 8) -> None:
    """Fills .grad for Taylor importance from a few labelled batches (cross-entropy by default)."""
    loss_fn = loss_fn or torch.nn.functional.cross_entropy
    model.zero_grad()
    model.eval()
    for i, (x, y) in enumerate(batches):
        if i >= max_batches:
            break
        loss_fn(model(x), y).backward()

"""Block sparsity on a PyTorch model: the masks of edgeprune/prune/sparsity.py on Conv2d / Linear weights,
kept during fine-tuning (torch.nn.utils.prune re-parametrization) and made permanent before int8 export.

A Conv2d weight [out, in, kh, kw] is masked in the order the exported TFLite filter has ([out, kh, kw, in],
K with input channels innermost), so its blocks are the sparse kernels' blocks. Symmetric per-channel int8
weight quantization maps 0.0 to 0, so masked weights stay exact zeros through PT2E export.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from edgeprune.prune.sparsity import block_keep, parse_pattern


def _rows(weight: torch.Tensor) -> torch.Tensor:
    return (weight.permute(0, 2, 3, 1) if weight.dim() == 4 else weight).reshape(weight.shape[0], -1)


def block_masks(model: nn.Module, sparsity: float, pattern: str = "2x4",
                min_depth: int = 16) -> dict[nn.Module, torch.Tensor]:
    """Per dense Conv2d / Linear with K >= min_depth: its 0/1 weight mask (same shape as the weight)."""
    parse_pattern(pattern)
    masks = {}
    for m in model.modules():
        if isinstance(m, nn.Conv2d) and m.groups != 1:
            continue
        if not isinstance(m, (nn.Conv2d, nn.Linear)):
            continue
        w = m.weight.detach()
        rows = _rows(w)
        if rows.shape[1] < min_depth:
            continue
        keep = torch.from_numpy(block_keep(rows.double().numpy(), sparsity, pattern)).to(w.dtype)
        if w.dim() == 4:
            keep = keep.reshape(w.shape[0], w.shape[2], w.shape[3], w.shape[1]).permute(0, 3, 1, 2)
        masks[m] = keep.reshape(w.shape).contiguous()
    return masks


def apply_masks(masks: dict[nn.Module, torch.Tensor]) -> None:
    """weight = weight_orig * mask from now on (gradients of masked weights are zero)."""
    for m, mask in masks.items():
        torch_prune.custom_from_mask(m, "weight", mask)


def make_permanent(masks: dict[nn.Module, torch.Tensor]) -> None:
    """Folds the masks into plain weights (exact zeros), as export expects."""
    for m in masks:
        if torch_prune.is_pruned(m) and hasattr(m, "weight_mask"):
            torch_prune.remove(m, "weight")


def density(masks: dict[nn.Module, torch.Tensor]) -> float:
    kept = sum(float(mask.sum()) for mask in masks.values())
    return kept / max(sum(mask.numel() for mask in masks.values()), 1)

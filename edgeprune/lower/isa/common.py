"""Helpers the ISA specializers share: constant operands of a kernel call, and int32 wrap-around of values
folded at build time (the kernels' int32 accumulators wrap the same way)."""

from __future__ import annotations

import numpy as np

from edgeprune.ir import Tensor
from edgeprune.lower.program import KernelCall


def wrap_i32(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.int64)
    return (((v + (1 << 31)) % (1 << 32)) - (1 << 31)).astype(np.int32)


def const_arg(call: KernelCall, i: int) -> np.ndarray | None:
    """The data of argument `i` when it is a constant tensor, else None."""
    a = call.args[i]
    if not isinstance(a, Tensor) or not a.is_constant or a.data is None:
        return None
    return np.asarray(a.data)

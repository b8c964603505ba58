"""Lowering of data-movement ops: RESHAPE, SQUEEZE (a copy)."""

from __future__ import annotations

from edgeprune.ir import Op
from edgeprune.lower.program import KernelCall, register


@register("RESHAPE", "SQUEEZE")
def lower_copy(op: Op) -> KernelCall:
    src, dst = op.inputs[0], op.outputs[0]
    return KernelCall(op, "ep_copy", "ep_copy_params", params={"nbytes": dst.nbytes}, args=[src, dst])

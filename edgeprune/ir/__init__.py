"""The one intermediate representation every stage reads and writes."""

from edgeprune.ir.graph import DTYPE_BYTES, Graph, Op, Quant, Tensor

__all__ = ["DTYPE_BYTES", "Graph", "Op", "Quant", "Tensor"]

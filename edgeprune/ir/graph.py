"""Tensors, ops and graphs: shapes, dtypes, quantization and constant data, nothing format-specific.

Activations have no data; constants (weights, biases, shape operands) carry a numpy array.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DTYPE_BYTES = {
    "float32": 4,
    "int8": 1,
    "uint8": 1,
    "int16": 2,
    "int32": 4,
    "int64": 8,
    "bool": 1,
}


@dataclass
class Quant:
    """Affine quantization: real = scale * (q - zero_point), per tensor or per channel along `axis`."""

    scale: np.ndarray  # float32, shape (1,) or (channels,)
    zero_point: np.ndarray  # int64, same shape as scale
    axis: int = 0

    @property
    def per_channel(self) -> bool:
        return self.scale.size > 1

    @property
    def scalar_scale(self) -> float:
        return float(self.scale.reshape(-1)[0])

    @property
    def scalar_zero_point(self) -> int:
        return int(self.zero_point.reshape(-1)[0])


@dataclass(eq=False)
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: str
    quant: Quant | None = None
    data: np.ndarray | None = None  # set for constants
    index: int = -1  # position in Graph.tensors

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def num_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= int(d)
        return n

    @property
    def nbytes(self) -> int:
        return self.num_elements * DTYPE_BYTES[self.dtype]

    def __repr__(self) -> str:
        return f"Tensor({self.name!r}, {self.shape}, {self.dtype})"


@dataclass(eq=False)
class Op:
    kind: str  # TFLite builtin name, e.g. "CONV_2D"
    inputs: list[Tensor | None]  # None marks an omitted optional input
    outputs: list[Tensor]
    attrs: dict = field(default_factory=dict)
    index: int = -1

    def __repr__(self) -> str:
        return f"Op#{self.index}({self.kind})"


@dataclass
class Graph:
    tensors: list[Tensor]
    ops: list[Op]
    inputs: list[Tensor]
    outputs: list[Tensor]
    name: str = "model"

    def renumber(self) -> None:
        for i, t in enumerate(self.tensors):
            t.index = i
        for i, op in enumerate(self.ops):
            op.index = i

    def consumers(self) -> dict[int, list[Op]]:
        out: dict[int, list[Op]] = {id(t): [] for t in self.tensors}
        for op in self.ops:
            for t in op.inputs:
                if t is not None:
                    out.setdefault(id(t), []).append(op)
        return out

    def activations(self) -> list[Tensor]:
        return [t for t in self.tensors if not t.is_constant]

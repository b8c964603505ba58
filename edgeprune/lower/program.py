"""A lowered program: the ordered kernel calls of a graph, each with its C params struct and operands.

The C backend and the host runner read the same KernelCall, so generated code and host runs cannot drift.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from edgeprune.errors import UnsupportedOpError
from edgeprune.ir import Graph, Op, Tensor


@dataclass(eq=False)
class Scratch:
    """Temporary arena memory that lives for one kernel call only."""

    nbytes: int
    name: str = "scratch"


@dataclass(eq=False)
class KernelCall:
    """One call `func(&params, args...)`.

    params: scalar fields of the params struct (int, float, or a short list of ints for a fixed array).
    consts: pointer fields of the params struct that point at constant arrays (emitted to flash).
    args:   pointer arguments in C order: activation tensors (placed in the arena), constant tensors
            (emitted to flash) or Scratch buffers (placed in the arena).
    """

    op: Op
    func: str
    params_type: str
    params: dict = field(default_factory=dict)
    consts: dict[str, np.ndarray] = field(default_factory=dict)
    args: list[Tensor | Scratch] = field(default_factory=list)
    outputs: tuple[int, ...] = (-1,)  # which args are written (indices into args); default: the last


LowerFn = Callable[[Op], "KernelCall | list[KernelCall]"]
_LOWERINGS: dict[str, LowerFn] = {}


def register(*kinds: str) -> Callable[[LowerFn], LowerFn]:
    def deco(fn: LowerFn) -> LowerFn:
        for kind in kinds:
            _LOWERINGS[kind] = fn
        return fn

    return deco


def _load_lowerings() -> None:
    # Importing the op modules fills the registry.
    from edgeprune.lower import ops  # noqa: F401


def lowering_for(kind: str) -> LowerFn | None:
    _load_lowerings()
    return _LOWERINGS.get(kind)


@dataclass
class Program:
    graph: Graph
    calls: list[KernelCall]
    offsets: dict[int, int]  # id(tensor or scratch) -> arena offset
    arena_bytes: int

    def offset(self, buf: Tensor | Scratch) -> int:
        return self.offsets[id(buf)]

    def const_tensors(self) -> list[Tensor]:
        """Constant tensors the program reads, each once, in first-use order."""
        seen: dict[int, Tensor] = {}
        for call in self.calls:
            for a in call.args:
                if isinstance(a, Tensor) and a.is_constant and id(a) not in seen:
                    seen[id(a)] = a
        return list(seen.values())

    @property
    def weight_bytes(self) -> int:
        total = sum(t.nbytes for t in self.const_tensors())
        total += sum(int(np.asarray(c).nbytes) for call in self.calls for c in call.consts.values())
        return total


def lower_graph(graph: Graph, isa: frozenset[str] | set[str] = frozenset(), alignment: int = 16) -> Program:
    """Portable kernel calls for every op, then ISA-specific rewrites for the target's features, then the plan."""
    from edgeprune.analysis.planner import plan_program
    from edgeprune.lower.specialize import specialize

    calls: list[KernelCall] = []
    for op in graph.ops:
        fn = lowering_for(op.kind)
        if fn is None:
            raise UnsupportedOpError(f"no kernel for op {op.kind} (operator {op.index})")
        lowered = fn(op)
        calls.extend(lowered if isinstance(lowered, list) else [lowered])
    if isa:
        calls = specialize(calls, isa)
    offsets, arena_bytes = plan_program(graph, calls, alignment=alignment)
    return Program(graph=graph, calls=calls, offsets=offsets, arena_bytes=arena_bytes)

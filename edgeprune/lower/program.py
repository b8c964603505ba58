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
    # In-place contract (read by the memory planner, edgeprune/analysis/planner.py). The output tensor (the
    # arena Tensor arg that is one of op.outputs) may share bytes with the inputs args[j], j in inplace_inputs,
    # when that input dies at this call, provided
    #         offset(output) <= offset(input) - inplace_lag_bytes        (or the two do not overlap at all).
    # None (the default) forbids any overlap. A kernel may declare a lag L only if it never reads an input
    # byte after writing an output byte at the same address when the output starts L bytes before the input.
    # For kernels that write output "pixels" in row-major order and read only their window, the portable
    # contract is per pixel: every byte written for output pixel q lies below every input byte read for
    # pixels q, q+1, ... (edgeprune.analysis.inplace.window_call_lag computes this minimal L exactly); element-wise
    # kernels that read element i before writing element i declare 0. Specializers start from None: an
    # optimized kernel opts in by setting the field on the call it returns (e.g. with window_call_lag and its
    # pixel_group when it computes several output pixels per step). Lags are >= 0.
    inplace_lag_bytes: int | None = None
    inplace_inputs: tuple[int, ...] = (0,)
    # alias_of = j: the call only reinterprets args[j] (same bytes, new shape): the planner gives the output
    # the input's bytes and drops the call (RESHAPE, SQUEEZE). The call stays when args[j] is a constant.
    alias_of: int | None = None
    # slices (multi-threaded builds, edgeprune/lower/parallel.py): the call runs as these slices, one per thread.
    slices: list | None = None


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
    aliases: list[tuple[Tensor, Tensor]] = field(default_factory=list)  # (output, input) of dropped alias calls
    inplace: list[tuple[int, int, int, int]] = field(default_factory=list)  # planned (call, out arg, in arg, lag)
    threads: int = 1  # threads of the generated code (calls with slices run split)

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


def lower_graph(graph: Graph, isa: frozenset[str] | set[str] = frozenset(), alignment: int = 16,
                threads: int = 1) -> Program:
    """Portable kernel calls for every op, then ISA-specific rewrites for the target's features, then the split of
    the heavy calls for `threads` threads (edgeprune/lower/parallel.py), then the plan."""
    from edgeprune.analysis.planner import plan_program
    from edgeprune.lower.parallel import parallelize
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
    if threads > 1:
        calls = parallelize(calls, threads)
    plan = plan_program(graph, calls, alignment=alignment)
    return Program(graph=graph, calls=plan.calls, offsets=plan.offsets, arena_bytes=plan.arena_bytes,
                   aliases=plan.aliases, inplace=plan.inplace, threads=threads)

"""Executes a lowered Program on the host with the same kernels and the same arena plan as the firmware.

Activations are numpy views into one arena buffer at the planned offsets, so a planning error shows up here too.
"""

from __future__ import annotations

import numpy as np

from edgeprune.errors import EdgePruneError, ToolchainError
from edgeprune.ir import Tensor
from edgeprune.lower.program import Program, Scratch


def kernels():
    try:
        from edgeprune import _edgeprune
    except ImportError as e:  # pragma: no cover - only when the extension was not built
        raise ToolchainError(f"the edgeprune C++ module is not built ({e}); run: pip install .") from None
    return _edgeprune


class HostRunner:
    def __init__(self, program: Program):
        self.program = program
        self.mod = kernels()
        self.arena = np.zeros(max(program.arena_bytes, 16), dtype=np.uint8)
        self._const_cache: dict[int, np.ndarray] = {}

    def view(self, buf: Tensor | Scratch) -> np.ndarray:
        if isinstance(buf, Tensor) and buf.is_constant:
            arr = self._const_cache.get(id(buf))
            if arr is None:
                arr = np.ascontiguousarray(buf.data, dtype=buf.dtype)
                self._const_cache[id(buf)] = arr
            return arr
        off = self.program.offset(buf)
        raw = self.arena[off : off + buf.nbytes]
        if isinstance(buf, Scratch):
            return raw
        return raw.view(buf.dtype).reshape(buf.shape)

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        graph = self.program.graph
        if len(inputs) != len(graph.inputs):
            raise EdgePruneError(f"the model takes {len(graph.inputs)} inputs, got {len(inputs)}")
        for t, x in zip(graph.inputs, inputs):
            self.view(t)[...] = np.asarray(x, dtype=t.dtype).reshape(t.shape)
        for call in self.program.calls:
            fn = getattr(self.mod, call.func)
            fn(call.params, call.consts, *[self.view(a) for a in call.args])
        return [self.view(t).copy() for t in graph.outputs]


def run_program(program: Program, inputs: list[np.ndarray]) -> list[np.ndarray]:
    return HostRunner(program).run(inputs)

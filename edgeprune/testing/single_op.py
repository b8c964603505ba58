"""Builds one-op .tflite models from the IR so each kernel can be checked against LiteRT.

Example: model = single_op("ADD", [x_spec, y_spec], [out_spec], attrs) -> (Graph, bytes).
"""

from __future__ import annotations

import numpy as np

from edgeprune.backends.tflite_writer import graph_to_bytes
from edgeprune.ir import Graph, Op, Quant, Tensor


def qparams(scale, zero_point, axis: int = 0) -> Quant:
    return Quant(
        scale=np.asarray(scale, dtype=np.float32).reshape(-1),
        zero_point=np.asarray(zero_point, dtype=np.int64).reshape(-1),
        axis=axis,
    )


def tensor(name, shape, dtype, quant: Quant | None = None, data: np.ndarray | None = None) -> Tensor:
    if data is not None:
        data = np.asarray(data, dtype=dtype).reshape(shape)
    return Tensor(name=name, shape=tuple(int(d) for d in shape), dtype=dtype, quant=quant, data=data)


def single_op(kind: str, inputs: list[Tensor | None], outputs: list[Tensor], attrs: dict | None = None,
              version: int = 1) -> tuple[Graph, bytes]:
    """A graph with one op; its non-constant inputs become the graph inputs. Returns (graph, flatbuffer)."""
    attrs = dict(attrs or {})
    if version != 1:
        attrs["_version"] = version
    tensors = [t for t in inputs if t is not None] + list(outputs)
    op = Op(kind=kind, inputs=list(inputs), outputs=list(outputs), attrs=attrs)
    graph = Graph(
        tensors=tensors,
        ops=[op],
        inputs=[t for t in inputs if t is not None and not t.is_constant],
        outputs=list(outputs),
        name=f"single_{kind.lower()}",
    )
    graph.renumber()
    return graph, graph_to_bytes(graph)


def run_both(graph: Graph, model: bytes, inputs: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(ours on the host, LiteRT BUILTIN_REF) for the same inputs."""
    from edgeprune.lower import lower_graph
    from edgeprune.runtime.host import run_program
    from edgeprune.testing.reference import litert_run

    ours = run_program(lower_graph(graph), inputs)
    ref = litert_run(model, inputs)
    return ours, ref

"""Why block-sparse models are written as dense .tflite files with zeros: LiteRT's reference FULLY_CONNECTED
(BUILTIN_REF, the kernels edgeprune verifies against) refuses int8 weights with TFLite sparsity metadata. If
this test starts failing, LiteRT runs them and the writer can emit the metadata (issue 5, item 4)."""

from __future__ import annotations

import flatbuffers
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from edgeprune.backends.tflite_writer import graph_to_bytes
from edgeprune.prune.sparsity import sparsify_graph
from edgeprune.testing.gemm_layers import layers_graph, random_layer


def _csr(model: bytes, w: np.ndarray) -> bytes:
    """The model with its FC weights stored as TFLite CSR (rows dense, columns sparse)."""
    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model, 0))
    tensor = m.subgraphs[0].tensors[m.subgraphs[0].operators[0].inputs[1]]
    segments, indices = [0], []
    for row in w:
        indices += np.nonzero(row)[0].tolist()
        segments.append(len(indices))
    rows = schema.DimensionMetadataT()
    rows.format, rows.denseSize = schema.DimensionType.DENSE, w.shape[0]
    cols = schema.DimensionMetadataT()
    cols.format = schema.DimensionType.SPARSE_CSR
    cols.arraySegmentsType = cols.arrayIndicesType = schema.SparseIndexVector.Int32Vector
    cols.arraySegments, cols.arrayIndices = schema.Int32VectorT(), schema.Int32VectorT()
    cols.arraySegments.values, cols.arrayIndices.values = segments, indices
    tensor.sparsity = schema.SparsityParametersT()
    tensor.sparsity.traversalOrder, tensor.sparsity.dimMetadata = [0, 1], [rows, cols]
    m.buffers[tensor.buffer].data = w[w != 0].astype(np.int8).view(np.uint8)
    builder = flatbuffers.Builder(1024)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_litert_reference_refuses_sparse_int8_fc():
    rng = np.random.default_rng(0)
    layer = random_layer(rng, "FULLY_CONNECTED", {"batches": 1, "depth": 64, "units": 16, "per_channel": False,
                                                  "bias": True, "act": "NONE"})
    graph = layers_graph([layer])
    sparsify_graph(graph, 0.5, "2x4", min_depth=1)
    model = _csr(graph_to_bytes(graph), np.asarray(graph.ops[0].inputs[1].data, dtype=np.int8))
    interp = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], layer[3])
    with pytest.raises(RuntimeError, match="Unsupported sparse fully-connected weight format"):
        interp.invoke()

"""Writes an IR graph back to a .tflite flatbuffer with the ai_edge_litert schema.

Used to emit pruned models and to build single-op models that the tests run through LiteRT.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

from edgeprune.errors import UnsupportedOpError
from edgeprune.ir import Graph

_OPTIONS = {
    # kind: (BuiltinOptions member, options class or None)
    "CONV_2D": ("Conv2DOptions", schema.Conv2DOptionsT),
    "DEPTHWISE_CONV_2D": ("DepthwiseConv2DOptions", schema.DepthwiseConv2DOptionsT),
    "FULLY_CONNECTED": ("FullyConnectedOptions", schema.FullyConnectedOptionsT),
    "AVERAGE_POOL_2D": ("Pool2DOptions", schema.Pool2DOptionsT),
    "MAX_POOL_2D": ("Pool2DOptions", schema.Pool2DOptionsT),
    "ADD": ("AddOptions", schema.AddOptionsT),
    "MUL": ("MulOptions", schema.MulOptionsT),
    "PAD": ("PadOptions", schema.PadOptionsT),
    "MEAN": ("ReducerOptions", schema.ReducerOptionsT),
    "CONCATENATION": ("ConcatenationOptions", schema.ConcatenationOptionsT),
    "RESHAPE": ("ReshapeOptions", schema.ReshapeOptionsT),
    "SQUEEZE": ("SqueezeOptions", schema.SqueezeOptionsT),
    "TRANSPOSE": ("TransposeOptions", schema.TransposeOptionsT),
    "SOFTMAX": ("SoftmaxOptions", schema.SoftmaxOptionsT),
    "LOGISTIC": (None, None),
    "RELU": (None, None),
    "RELU6": (None, None),
    "HARD_SWISH": ("HardSwishOptions", schema.HardSwishOptionsT),
    "QUANTIZE": ("QuantizeOptions", schema.QuantizeOptionsT),
    "DEQUANTIZE": ("DequantizeOptions", schema.DequantizeOptionsT),
}
_TYPES = {v: k for k, v in {
    schema.TensorType.FLOAT32: "float32",
    schema.TensorType.INT8: "int8",
    schema.TensorType.UINT8: "uint8",
    schema.TensorType.INT16: "int16",
    schema.TensorType.INT32: "int32",
    schema.TensorType.INT64: "int64",
    schema.TensorType.BOOL: "bool",
}.items()}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.capitalize() for w in rest)


def _options(kind: str, attrs: dict):
    member, cls = _OPTIONS[kind]
    if cls is None:
        return schema.BuiltinOptions.NONE, None
    opts = cls()
    for key, value in attrs.items():
        if key == "fused_activation":
            opts.fusedActivationFunction = getattr(schema.ActivationFunctionType, value)
        elif key == "padding":
            opts.padding = getattr(schema.Padding, value)
        else:
            field = _camel(key)
            if hasattr(opts, field):
                setattr(opts, field, value)
    return getattr(schema.BuiltinOptions, member), opts


def graph_to_bytes(graph: Graph) -> bytes:
    graph.renumber()
    model = schema.ModelT()
    model.version = 3
    model.description = "edgeprune"
    model.buffers = [schema.BufferT()]  # buffer 0 is the empty sentinel
    sub = schema.SubGraphT()
    sub.name = graph.name
    sub.tensors = []
    for t in graph.tensors:
        tt = schema.TensorT()
        tt.name = t.name
        tt.shape = list(t.shape)
        tt.type = _TYPES[t.dtype]
        tt.buffer = 0
        if t.data is not None:
            b = schema.BufferT()
            b.data = np.frombuffer(np.ascontiguousarray(t.data, dtype=t.dtype).tobytes(), dtype=np.uint8)
            model.buffers.append(b)
            tt.buffer = len(model.buffers) - 1
        if t.quant is not None:
            q = schema.QuantizationParametersT()
            q.scale = [float(s) for s in t.quant.scale]
            q.zeroPoint = [int(z) for z in t.quant.zero_point]
            q.quantizedDimension = int(t.quant.axis)
            tt.quantization = q
        sub.tensors.append(tt)
    codes: dict[str, int] = {}
    model.operatorCodes = []
    sub.operators = []
    for op in graph.ops:
        if op.kind not in _OPTIONS:
            raise UnsupportedOpError(f"cannot write op {op.kind} (operator {op.index}) to .tflite")
        if op.kind not in codes:
            oc = schema.OperatorCodeT()
            code = getattr(schema.BuiltinOperator, op.kind)
            oc.builtinCode = code
            oc.deprecatedBuiltinCode = min(code, 127)
            oc.version = int(op.attrs.get("_version", 1))
            codes[op.kind] = len(model.operatorCodes)
            model.operatorCodes.append(oc)
        o = schema.OperatorT()
        o.opcodeIndex = codes[op.kind]
        o.inputs = [t.index if t is not None else -1 for t in op.inputs]
        o.outputs = [t.index for t in op.outputs]
        o.builtinOptionsType, o.builtinOptions = _options(op.kind, op.attrs)
        sub.operators.append(o)
    sub.inputs = [t.index for t in graph.inputs]
    sub.outputs = [t.index for t in graph.outputs]
    model.subgraphs = [sub]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def write_tflite(graph: Graph, path: str | Path) -> Path:
    """Writes atomically: a reader never sees a half-written model."""
    path = Path(path)
    data = graph_to_bytes(graph)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return path

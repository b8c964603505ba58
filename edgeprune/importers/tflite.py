"""Reads a .tflite flatbuffer (schema from ai_edge_litert) into the IR.

Handles int8 full-integer, float32 and hybrid (int8 weights, float activations) models.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from edgeprune.errors import ModelFormatError, UnsupportedOpError
from edgeprune.ir import Graph, Op, Quant, Tensor

SUPPORTED_OPS = frozenset(
    {
        "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D",
        "ADD", "MUL", "PAD", "PADV2", "MEAN", "CONCATENATION", "RESHAPE", "SQUEEZE", "TRANSPOSE",
        "SOFTMAX", "LOGISTIC", "RELU", "RELU6", "HARD_SWISH", "QUANTIZE", "DEQUANTIZE",
    }
)

TENSOR_TYPES = {
    schema.TensorType.FLOAT32: "float32",
    schema.TensorType.INT8: "int8",
    schema.TensorType.UINT8: "uint8",
    schema.TensorType.INT16: "int16",
    schema.TensorType.INT32: "int32",
    schema.TensorType.INT64: "int64",
    schema.TensorType.BOOL: "bool",
}
TENSOR_TYPE_NAMES = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
BUILTIN_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
ACTIVATION_NAMES = {
    v: k for k, v in vars(schema.ActivationFunctionType).items() if not k.startswith("_")
}
PADDING_NAMES = {v: k for k, v in vars(schema.Padding).items() if not k.startswith("_")}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _options_to_attrs(options) -> dict:
    attrs: dict = {}
    if options is None:
        return attrs
    for key, value in vars(options).items():
        key = _snake(key)
        if key == "fused_activation_function":
            attrs["fused_activation"] = ACTIVATION_NAMES.get(value, str(value))
        elif key == "padding":
            attrs["padding"] = PADDING_NAMES.get(value, str(value))
        elif isinstance(value, np.ndarray):
            attrs[key] = [int(v) for v in value]
        else:
            attrs[key] = value
    return attrs


def _read_model(path: Path) -> tuple[bytes, schema.ModelT]:
    try:
        buf = path.read_bytes()
    except FileNotFoundError:
        raise ModelFormatError(f"{path}: no such file") from None
    except OSError as e:
        raise ModelFormatError(f"{path}: cannot read ({e.strerror})") from None
    if len(buf) < 16 or not schema.Model.ModelBufferHasIdentifier(buf, 0):
        raise ModelFormatError(f"{path}: not a TFLite model (no 'TFL3' flatbuffer identifier)")
    try:
        model = schema.ModelT.InitFromPackedBuf(buf, 0)
    except Exception as e:  # flatbuffers reports damage as assorted struct/index errors
        raise ModelFormatError(f"{path}: truncated or corrupt TFLite flatbuffer ({type(e).__name__})") from None
    if not model.subgraphs:
        raise ModelFormatError(f"{path}: the model has no subgraph")
    return buf, model


def _buffer_bytes(path: Path, buf: bytes, model, index: int) -> bytes | None:
    if index <= 0 or model.buffers is None or index >= len(model.buffers):
        return None
    b = model.buffers[index]
    if b.offset and b.offset > 1:  # large models keep data after the flatbuffer
        if b.offset + b.size > len(buf):
            raise ModelFormatError(f"{path}: buffer {index} lies past the end of the file (truncated?)")
        return buf[b.offset : b.offset + b.size]
    if b.data is None or len(b.data) == 0:
        return None
    return bytes(np.asarray(b.data, dtype=np.uint8))


def _quant(q, n_dims: int) -> Quant | None:
    if q is None or q.scale is None or len(q.scale) == 0:
        return None
    scale = np.asarray(q.scale, dtype=np.float32).reshape(-1)
    zp = q.zeroPoint if q.zeroPoint is not None and len(q.zeroPoint) else np.zeros(scale.shape)
    zp = np.asarray(zp, dtype=np.int64).reshape(-1)
    if zp.size == 1 and scale.size > 1:
        zp = np.repeat(zp, scale.size)
    axis = int(q.quantizedDimension or 0)
    if axis < 0 or (n_dims and axis >= n_dims):
        axis = 0
    return Quant(scale=scale, zero_point=zp, axis=axis)


def load_tflite(path: str | Path) -> Graph:
    path = Path(path)
    buf, model = _read_model(path)
    sub = model.subgraphs[0]
    if len(model.subgraphs) > 1:
        raise UnsupportedOpError(f"{path}: models with {len(model.subgraphs)} subgraphs are not supported")

    tensors: list[Tensor] = []
    for i, t in enumerate(sub.tensors or []):
        if t.type not in TENSOR_TYPES:
            name = TENSOR_TYPE_NAMES.get(t.type, str(t.type))
            tname = t.name.decode() if isinstance(t.name, bytes) else t.name
            raise UnsupportedOpError(f"{path}: tensor {i} ('{tname}') has unsupported type {name}")
        dtype = TENSOR_TYPES[t.type]
        shape = tuple(int(d) for d in (t.shape if t.shape is not None else []))
        if t.shapeSignature is not None and len(t.shapeSignature) == len(shape):
            shape = tuple(1 if int(s) < 0 and j == 0 else d for j, (s, d) in enumerate(zip(t.shapeSignature, shape)))
        if any(d < 0 for d in shape):
            raise UnsupportedOpError(f"{path}: tensor {i} has a dynamic shape {shape}")
        raw = _buffer_bytes(path, buf, model, t.buffer)
        data = None
        if raw is not None:
            expected = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
            if len(raw) != expected:
                raise ModelFormatError(
                    f"{path}: tensor {i} has {len(raw)} bytes of data, its shape {shape} needs {expected}"
                )
            data = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        name = t.name.decode() if isinstance(t.name, bytes) else str(t.name)
        tensors.append(Tensor(name=name, shape=shape, dtype=dtype, quant=_quant(t.quantization, len(shape)),
                              data=data, index=i))

    def tensor(idx: int, where: str) -> Tensor | None:
        if idx < 0:
            return None
        if idx >= len(tensors):
            raise ModelFormatError(f"{path}: {where} refers to tensor {idx}, the model has {len(tensors)}")
        return tensors[idx]

    ops: list[Op] = []
    codes = model.operatorCodes or []
    for i, o in enumerate(sub.operators or []):
        if o.opcodeIndex >= len(codes):
            raise ModelFormatError(f"{path}: operator {i} has an invalid opcode index {o.opcodeIndex}")
        code = codes[o.opcodeIndex]
        builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
        kind = BUILTIN_NAMES.get(builtin, f"BUILTIN_{builtin}")
        if kind == "CUSTOM":
            custom = code.customCode.decode() if isinstance(code.customCode, bytes) else code.customCode
            raise UnsupportedOpError(f"{path}: unsupported custom op '{custom}' (operator {i})")
        if kind not in SUPPORTED_OPS:
            raise UnsupportedOpError(f"{path}: unsupported op {kind} (operator {i})")
        inputs = [tensor(int(x), f"operator {i}") for x in (o.inputs if o.inputs is not None else [])]
        outputs = [tensor(int(x), f"operator {i}") for x in (o.outputs if o.outputs is not None else [])]
        if any(t is None for t in outputs) or not outputs:
            raise ModelFormatError(f"{path}: operator {i} ({kind}) has no output")
        attrs = _options_to_attrs(o.builtinOptions)
        if kind == "PADV2":
            kind = "PAD"
        ops.append(Op(kind=kind, inputs=inputs, outputs=outputs, attrs=attrs, index=i))

    graph_inputs = [tensor(int(x), "subgraph inputs") for x in sub.inputs]
    graph_outputs = [tensor(int(x), "subgraph outputs") for x in sub.outputs]
    name = re.sub(r"[^0-9a-zA-Z_]", "_", path.stem) or "model"
    if name[0].isdigit():
        name = "m_" + name
    graph = Graph(tensors=tensors, ops=ops, inputs=graph_inputs, outputs=graph_outputs, name=name)
    graph.renumber()
    return graph

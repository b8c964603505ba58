"""A small post-training quantizer: float32 IR graph -> full-integer int8 IR graph.

Follows the TFLite converter's conventions (``inference_input_type=int8``, ``inference_output_type=int8``),
so LiteRT accepts the result and it looks like a converter-made model:

* weights: symmetric int8 (zero point 0, range [-127, 127]), per channel along axis 0 for CONV_2D /
  FULLY_CONNECTED and axis 3 for DEPTHWISE_CONV_2D (or per tensor with ``per_channel=False``);
* biases: int32, scale ``input_scale * weight_scale`` (per channel), zero point 0;
* activations: asymmetric int8 from the min/max observed by running the float graph in LiteRT (BUILTIN_REF)
  on the calibration inputs; ranges always include 0 so that 0.0 is exactly representable;
* SOFTMAX / LOGISTIC outputs: scale 1/256, zero point -128;
* AVERAGE_POOL_2D, MAX_POOL_2D, RESHAPE, SQUEEZE, PAD, TRANSPOSE: the output shares the input's parameters;
* fused RELU / RELU6 clamp the output range to [0, inf) / [0, 6];
* CONCATENATION: LiteRT's int8 kernel needs every input to share the output's parameters, so (like the
  converter) the producers of its inputs are given the union range; where that is impossible (an input fixed
  at 1/256 by SOFTMAX/LOGISTIC, or one that feeds two concatenations) an int8->int8 QUANTIZE requantizes it;
* other float constants (ADD / MUL / CONCATENATION operands): asymmetric per-tensor int8.

Graph inputs and outputs become int8 (no QUANTIZE / DEQUANTIZE ops).
"""

from __future__ import annotations

import numpy as np

from edgeprune.backends.tflite_writer import graph_to_bytes
from edgeprune.ir import Graph, Op, Quant, Tensor

SHARE_INPUT_QUANT = frozenset({"AVERAGE_POOL_2D", "MAX_POOL_2D", "RESHAPE", "SQUEEZE", "PAD", "TRANSPOSE"})
FIXED_OUTPUT_QUANT = {"SOFTMAX": (1.0 / 256.0, -128), "LOGISTIC": (1.0 / 256.0, -128)}
WEIGHT_AXIS = {"CONV_2D": 0, "FULLY_CONNECTED": 0, "DEPTHWISE_CONV_2D": 3}
# Operator versions the TFLite converter writes for int8 kernels (tensorflow/lite/tools/versioning/op_version.cc).
INT8_OP_VERSION = {
    "CONV_2D": 3, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 4, "ADD": 2, "MUL": 2, "AVERAGE_POOL_2D": 2,
    "MAX_POOL_2D": 2, "PAD": 2, "MEAN": 2, "CONCATENATION": 2, "SOFTMAX": 2, "LOGISTIC": 2, "RELU": 2,
    "RELU6": 2, "SQUEEZE": 1, "TRANSPOSE": 2, "RESHAPE": 1, "HARD_SWISH": 1, "QUANTIZE": 2,
}
_ACT_RANGE = {"RELU": (0.0, np.inf), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}


def _quant(scale, zero_point, axis: int = 0) -> Quant:
    return Quant(scale=np.asarray(scale, dtype=np.float32).reshape(-1),
                 zero_point=np.asarray(zero_point, dtype=np.int64).reshape(-1), axis=axis)


def asymmetric_quant(lo: float, hi: float) -> Quant:
    """int8 parameters for the real range [lo, hi], widened to include 0 (0.0 maps exactly to the zero point)."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    scale = (hi - lo) / 255.0
    if not np.isfinite(scale) or scale <= 1e-9:
        scale = 1.0 / 255.0 if scale <= 1e-9 else scale
    zp = int(np.clip(np.round(-128.0 - lo / scale), -128, 127))
    return _quant(scale, zp)


def _quantize_values(x: np.ndarray, q: Quant, dtype: str = "int8") -> np.ndarray:
    info = np.iinfo(dtype)
    scale = q.scale.astype(np.float64)
    zp = q.zero_point.astype(np.float64)
    if q.per_channel:
        shape = [1] * x.ndim
        shape[q.axis] = -1
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    return np.clip(np.round(x.astype(np.float64) / scale) + zp, info.min, info.max).astype(dtype)


def symmetric_weight_quant(w: np.ndarray, axis: int | None) -> Quant:
    """Symmetric int8 ([-127, 127], zero point 0); per channel along `axis`, per tensor if None."""
    w = np.asarray(w, dtype=np.float64)
    if axis is None:
        maxabs = np.array([np.max(np.abs(w))]) if w.size else np.array([0.0])
        axis = 0
    else:
        maxabs = np.max(np.abs(np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)), axis=1)
    scale = np.where(maxabs > 0, maxabs / 127.0, 1.0)
    return _quant(scale, np.zeros(scale.shape, dtype=np.int64), axis=axis)


def observe_ranges(graph: Graph, calibration: list[list[np.ndarray]]) -> dict[int, tuple[float, float]]:
    """Min/max of every activation tensor (keyed by tensor index) over the calibration samples.

    Runs the float graph in LiteRT (BUILTIN_REF) with all intermediate tensors preserved.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    model = graph_to_bytes(graph)  # renumbers: graph tensor index == interpreter tensor index
    interp = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                         experimental_preserve_all_tensors=True)
    interp.allocate_tensors()
    acts = graph.activations()
    lo = {t.index: np.inf for t in acts}
    hi = {t.index: -np.inf for t in acts}
    details = interp.get_input_details()
    if not calibration:
        raise ValueError("quantization needs at least one calibration sample")
    for sample in calibration:
        if len(sample) != len(details):
            raise ValueError(f"calibration sample has {len(sample)} inputs, the graph has {len(details)}")
        for d, x in zip(details, sample):
            interp.set_tensor(d["index"], np.asarray(x, dtype=d["dtype"]).reshape(d["shape"]))
        interp.invoke()
        for t in acts:
            v = interp.get_tensor(t.index)
            if v.size:
                lo[t.index] = min(lo[t.index], float(np.min(v)))
                hi[t.index] = max(hi[t.index], float(np.max(v)))
    return {i: (lo[i], hi[i]) for i in lo}


def _concat_overrides(graph: Graph, ranges: dict[int, tuple[float, float]]) -> dict[int, tuple[float, float]]:
    """Widened ranges (by id(tensor)) so that the inputs of each CONCATENATION share its parameters."""
    producer = {id(t): op for op in graph.ops for t in op.outputs}
    out: dict[int, tuple[float, float]] = {}

    def widen(key, lo, hi):
        a, b = out.get(key, (np.inf, -np.inf))
        out[key] = (min(a, lo), max(b, hi))

    for op in graph.ops:
        if op.kind != "CONCATENATION" or op.outputs[0].dtype != "float32":
            continue
        rs = [ranges[t.index] for t in op.inputs + op.outputs if t is not None and not t.is_constant]
        lo, hi = min(r[0] for r in rs), max(r[1] for r in rs)
        widen(id(op.outputs[0]), lo, hi)
        for t in op.inputs:
            if t is None or t.is_constant:
                continue
            p = producer.get(id(t))
            while p is not None and p.kind in SHARE_INPUT_QUANT:  # their output follows their input
                t = p.inputs[0]
                p = producer.get(id(t))
            if p is None or (p.kind not in FIXED_OUTPUT_QUANT and p.kind != "CONCATENATION"):
                widen(id(t), lo, hi)
    return out


def _output_quant(op: Op, out: Tensor, in_q: Quant | None, rng: tuple[float, float],
                  override: tuple[float, float] | None = None) -> Quant:
    if op.kind in FIXED_OUTPUT_QUANT:
        return _quant(*FIXED_OUTPUT_QUANT[op.kind])
    if op.kind in SHARE_INPUT_QUANT and in_q is not None:
        return _quant(in_q.scale.copy(), in_q.zero_point.copy(), in_q.axis)
    lo, hi = rng
    if not np.isfinite(lo) or not np.isfinite(hi):
        lo, hi = 0.0, 0.0
    act = op.attrs.get("fused_activation", "NONE")
    if op.kind in ("RELU", "RELU6"):
        act = op.kind
    if act in _ACT_RANGE:
        a_lo, a_hi = _ACT_RANGE[act]
        lo, hi = max(lo, a_lo), min(hi, a_hi)
        hi = max(hi, lo)
    if override is not None:
        lo, hi = min(lo, override[0]), max(hi, override[1])
    return asymmetric_quant(lo, hi)


def _same_quant(a: Quant | None, b: Quant | None) -> bool:
    return (a is not None and b is not None and np.array_equal(a.scale, b.scale)
            and np.array_equal(a.zero_point, b.zero_point))


def _requantized(t: Tensor, q: Quant, new_ops: list[Op], extra: list[Tensor]) -> Tensor:
    """`t` itself if it already has parameters `q`, else the output of an int8->int8 QUANTIZE to `q`."""
    if t.is_constant or t.dtype != "int8" or _same_quant(t.quant, q):
        return t
    for prev in extra:  # one requantization per (tensor, parameters)
        if prev.name.startswith(t.name + "_requant") and _same_quant(prev.quant, q):
            return prev
    r = Tensor(f"{t.name}_requant{len(extra)}", tuple(t.shape), "int8",
               quant=Quant(q.scale.copy(), q.zero_point.copy(), q.axis))
    extra.append(r)
    new_ops.append(Op(kind="QUANTIZE", inputs=[t], outputs=[r], attrs={"_version": INT8_OP_VERSION["QUANTIZE"]}))
    return r


def quantize_graph(float_graph: Graph, calibration: list[list[np.ndarray]], per_channel: bool = True) -> Graph:
    """Full-integer int8 copy of `float_graph` (int8 inputs and outputs); the float graph is not modified.

    `calibration` is a list of samples, each a list with one array per graph input.
    """
    ranges = observe_ranges(float_graph, calibration)
    overrides = _concat_overrides(float_graph, ranges)
    new: dict[int, Tensor] = {}  # id(old tensor) -> new tensor
    act_q: dict[int, Quant] = {}  # id(old activation) -> its quantization

    for t in float_graph.inputs:
        if t.dtype != "float32":
            raise ValueError(f"graph input {t.name!r} is {t.dtype}, expected float32")
        lo, hi = ranges[t.index]
        if id(t) in overrides:
            lo, hi = min(lo, overrides[id(t)][0]), max(hi, overrides[id(t)][1])
        act_q[id(t)] = asymmetric_quant(lo, hi)

    def act_tensor(t: Tensor) -> Tensor:
        if id(t) not in new:
            dtype = "int8" if t.dtype == "float32" else t.dtype
            new[id(t)] = Tensor(t.name, tuple(t.shape), dtype, quant=act_q.get(id(t)) if dtype == "int8" else None)
        return new[id(t)]

    def const_tensor(t: Tensor, data: np.ndarray, q: Quant | None, dtype: str) -> Tensor:
        nt = Tensor(t.name, tuple(t.shape), dtype, quant=q, data=np.asarray(data, dtype=dtype).reshape(t.shape))
        new[id(t)] = nt
        return nt

    new_ops: list[Op] = []
    extra: list[Tensor] = []  # tensors created for requantization
    for op in float_graph.ops:
        first = next((t for t in op.inputs if t is not None and not t.is_constant), None)
        in_q = act_q.get(id(first)) if first is not None else None
        # outputs first: their parameters only depend on the (already known) inputs and observed ranges
        for out in op.outputs:
            if out.dtype == "float32":
                act_q[id(out)] = _output_quant(op, out, in_q, ranges.get(out.index, (0.0, 0.0)),
                                               overrides.get(id(out)))
        inputs: list[Tensor | None] = []
        w_q: Quant | None = None
        for pos, t in enumerate(op.inputs):
            if t is None:
                inputs.append(None)
            elif not t.is_constant:
                inputs.append(act_tensor(t))
            elif id(t) in new:
                inputs.append(new[id(t)])
            elif t.dtype != "float32":
                inputs.append(const_tensor(t, t.data, t.quant, t.dtype))  # shapes, paddings, axes
            elif op.kind in WEIGHT_AXIS and pos == 1:
                w_q = symmetric_weight_quant(t.data, WEIGHT_AXIS[op.kind] if per_channel else None)
                inputs.append(const_tensor(t, _quantize_values(t.data, w_q), w_q, "int8"))
            elif op.kind in WEIGHT_AXIS and pos == 2:
                if w_q is None or in_q is None:
                    raise ValueError(f"{op.kind} bias {t.name!r} needs a quantized input and weights")
                b_scale = in_q.scalar_scale * w_q.scale.astype(np.float64)
                b_q = _quant(b_scale, np.zeros(b_scale.shape, dtype=np.int64), axis=0)
                inputs.append(const_tensor(t, _quantize_values(t.data, b_q, "int32"), b_q, "int32"))
            elif op.kind == "CONCATENATION":  # must share the output's parameters
                q = act_q[id(op.outputs[0])]
                inputs.append(const_tensor(t, _quantize_values(t.data, q), q, "int8"))
            else:
                data = np.asarray(t.data, dtype=np.float64)
                q = asymmetric_quant(data.min() if data.size else 0.0, data.max() if data.size else 0.0)
                inputs.append(const_tensor(t, _quantize_values(t.data, q), q, "int8"))
        outputs = [act_tensor(t) for t in op.outputs]
        if op.kind == "CONCATENATION":
            inputs = [_requantized(t, outputs[0].quant, new_ops, extra) for t in inputs]
        attrs = dict(op.attrs)
        attrs["_version"] = max(int(attrs.get("_version", 1)), INT8_OP_VERSION.get(op.kind, 1))
        new_ops.append(Op(kind=op.kind, inputs=inputs, outputs=outputs, attrs=attrs))

    tensors = [new[id(t)] if id(t) in new else act_tensor(t) for t in float_graph.tensors] + extra
    graph = Graph(tensors=tensors, ops=new_ops, inputs=[new[id(t)] for t in float_graph.inputs],
                  outputs=[new[id(t)] for t in float_graph.outputs], name=float_graph.name)
    graph.renumber()
    return graph

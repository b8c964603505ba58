"""Reads a float32 ONNX model (opset 11-18 CNNs, e.g. from ``torch.onnx.export``) into the IR.

Layout: ONNX is NCHW, the IR is TFLite's NHWC. Every 4-D activation is kept NHWC inside the graph and
weights are transposed at import time (conv OIHW -> OHWI, depthwise OIHW -> 1HW(C*mult), Gemm/MatMul to
FULLY_CONNECTED [out, in]). **A 4-D graph input is NHWC in the IR: a user feeds NHWC data** (``x.transpose(0, 2,
3, 1)`` of what onnxruntime takes), and a 4-D graph output is NHWC too; rank-2 inputs/outputs are unchanged.

``Flatten`` after a conv keeps ONNX's (C, H, W) element order without a TRANSPOSE: the IR flattens the NHWC
tensor in (H, W, C) order and the columns of the following Gemm/MatMul are permuted at import time. Only when a
flattened tensor reaches anything other than Gemm/MatMul is a TRANSPOSE to NCHW + RESHAPE emitted.

Mapped: Conv (groups 1 or depthwise; pads/strides/dilations; asymmetric pads -> PAD + VALID conv),
ConvTranspose is not; Gemm, MatMul(+Add) -> FULLY_CONNECTED; BatchNormalization (folded into the preceding
Conv, else MUL + ADD); Relu/Clip(0, 6) (fused into a preceding CONV_2D / DEPTHWISE_CONV_2D /
FULLY_CONNECTED / ADD as TFLite does) / Sigmoid / HardSwish / LeakyRelu is not; Add/Mul (constant
broadcast; a constant Add after a conv/FC is folded into its bias); AveragePool, MaxPool, GlobalAveragePool
(MEAN), GlobalMaxPool; Flatten, Reshape, Squeeze, Unsqueeze of constants, Concat, Softmax, Pad (constant 0),
Transpose; Identity/Dropout are skipped; Constant, Shape (of static shapes), Gather, Cast... on constants are
evaluated at import time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeprune.errors import ModelFormatError, UnsupportedOpError
from edgeprune.ir import Graph, Op, Tensor

NCHW_TO_NHWC = (0, 2, 3, 1)
NHWC_TO_NCHW = (0, 3, 1, 2)
_AXIS_NCHW_TO_NHWC = {0: 0, 1: 3, 2: 1, 3: 2}
_FUSABLE = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD"}


@dataclass
class _Val:
    """An ONNX value: a constant (numpy, ONNX layout) or an IR activation with a layout tag.

    layout "same": the IR tensor has the ONNX shape and order; "nhwc": the ONNX value is NCHW and the IR tensor
    is its NHWC transpose; "flat": the ONNX value is Flatten(NCHW) (C, H, W order) and `src` is the NHWC
    tensor it came from (materialized lazily).
    """

    tensor: Tensor | None = None
    const: np.ndarray | None = None
    layout: str = "same"
    src: Tensor | None = None
    cache: dict = field(default_factory=dict)

    @property
    def onnx_shape(self) -> tuple[int, ...]:
        if self.const is not None:
            return tuple(self.const.shape)
        if self.layout == "nhwc":
            n, h, w, c = self.tensor.shape
            return (n, c, h, w)
        if self.layout == "flat":
            n, h, w, c = self.src.shape
            return (n, c * h * w)
        return tuple(self.tensor.shape)


def _out_dim(n: int, k: int, s: int, d: int, pad_total: int) -> int:
    return (n + pad_total - ((k - 1) * d + 1)) // s + 1


def _same_pads(n: int, k: int, s: int, d: int) -> tuple[int, int]:
    out = -(-n // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


class _Importer:
    def __init__(self, path: Path, model):
        self.path = path
        self.model = model
        self.g = model.graph
        self.tensors: list[Tensor] = []
        self.ops: list[Op] = []
        self.vals: dict[str, _Val] = {}
        self.n_consumers: dict[str, int] = {}
        self.graph_outputs = {o.name for o in self.g.output}
        self._names: set[str] = set()
        self.node = None
        self.node_index = -1

    # -- helpers -------------------------------------------------------------------------------------------
    def fail(self, what: str) -> UnsupportedOpError:
        n = self.node
        return UnsupportedOpError(
            f"{self.path}: {what} (ONNX op {n.op_type}, node '{n.name or '?'}', index {self.node_index})")

    def _unique(self, name: str) -> str:
        base, i = name or "t", 1
        while name in self._names:
            i += 1
            name = f"{base}_{i}"
        self._names.add(name)
        return name

    def act(self, name: str, shape) -> Tensor:
        t = Tensor(self._unique(name), tuple(int(d) for d in shape), "float32")
        self.tensors.append(t)
        return t

    def const(self, name: str, data: np.ndarray, dtype: str = "float32") -> Tensor:
        data = np.ascontiguousarray(np.asarray(data, dtype=dtype))
        t = Tensor(self._unique(name), tuple(data.shape), dtype, data=data)
        self.tensors.append(t)
        return t

    def op(self, kind: str, inputs, out: Tensor, attrs: dict | None = None) -> Op:
        o = Op(kind=kind, inputs=list(inputs), outputs=[out], attrs=dict(attrs or {}))
        self.ops.append(o)
        return o

    def producer(self, t: Tensor) -> Op | None:
        for o in reversed(self.ops):
            if o.outputs[0] is t:
                return o
        return None

    def attr(self, name: str, default=None):
        import onnx

        for a in self.node.attribute:
            if a.name == name:
                return onnx.helper.get_attribute_value(a)
        return default

    def inp(self, i: int) -> _Val | None:
        names = self.node.input
        if i >= len(names) or not names[i]:
            return None
        if names[i] not in self.vals:
            raise ModelFormatError(f"{self.path}: node {self.node_index} ('{self.node.name}') reads undefined "
                                   f"value '{names[i]}'")
        return self.vals[names[i]]

    def const_inp(self, i: int, what: str) -> np.ndarray | None:
        v = self.inp(i)
        if v is None:
            return None
        if v.const is None:
            raise self.fail(f"{what} must be a constant")
        return v.const

    def set_out(self, val: _Val, i: int = 0) -> None:
        self.vals[self.node.output[i]] = val

    def fusable(self, t: Tensor) -> Op | None:
        """The producer of `t` if an activation can be fused into it (single consumer, not a graph output)."""
        name = self.node.input[0]
        if self.n_consumers.get(name, 0) != 1 or name in self.graph_outputs:
            return None
        p = self.producer(t)
        if p is not None and p.kind in _FUSABLE and p.attrs.get("fused_activation", "NONE") == "NONE":
            return p
        return None

    # -- layout conversions ----------------------------------------------------------------------------------
    def as_nhwc(self, v: _Val) -> Tensor:
        """The IR tensor of a 4-D ONNX NCHW value, in NHWC."""
        if v.const is not None:
            raise self.fail("a constant where an activation is expected")
        if v.layout == "nhwc":
            return v.tensor
        shape = v.onnx_shape
        if len(shape) != 4:
            raise self.fail(f"expected a 4-D NCHW input, got shape {shape}")
        if "nhwc" not in v.cache:
            t = self.as_same(v)
            out = self.act(t.name + "_nhwc", tuple(shape[p] for p in NCHW_TO_NHWC))
            self.op("TRANSPOSE", [t, self.const(t.name + "_perm", np.array(NCHW_TO_NHWC), "int32")], out)
            v.cache["nhwc"] = out
        return v.cache["nhwc"]

    def as_same(self, v: _Val) -> Tensor:
        """The IR tensor in ONNX's own layout (emits TRANSPOSE / RESHAPE when needed)."""
        if v.const is not None:
            raise self.fail("a constant where an activation is expected")
        if v.layout == "same":
            return v.tensor
        if "same" in v.cache:
            return v.cache["same"]
        src = v.tensor if v.layout == "nhwc" else v.src
        n, h, w, c = src.shape
        nchw = self.act(src.name + "_nchw", (n, c, h, w))
        self.op("TRANSPOSE", [src, self.const(src.name + "_perm", np.array(NHWC_TO_NCHW), "int32")], nchw)
        out = nchw
        if v.layout == "flat":
            out = self.reshape(nchw, (n, c * h * w))
        v.cache["same"] = out
        return out

    def flat_hwc(self, v: _Val) -> Tensor:
        """A flattened value as [N, H*W*C] in NHWC order (the consumer's weights are permuted to match)."""
        if "hwc" not in v.cache:
            n, h, w, c = v.src.shape
            v.cache["hwc"] = self.reshape(v.src, (n, h * w * c))
        return v.cache["hwc"]

    def reshape(self, t: Tensor, shape) -> Tensor:
        shape = [int(d) for d in shape]
        out = self.act(t.name + "_reshape", shape)
        self.op("RESHAPE", [t, self.const(t.name + "_shape", np.array(shape), "int32")], out,
                {"new_shape": shape})
        return out

    def const_like(self, c: np.ndarray, other: _Val, name: str) -> Tensor:
        """A constant operand of a broadcasting op, converted to the IR layout of `other`."""
        c = np.asarray(c, dtype=np.float32)
        if other.layout == "nhwc" and c.ndim > 0:
            if c.ndim > 4:
                raise self.fail(f"constant of rank {c.ndim}")
            c4 = c.reshape((1,) * (4 - c.ndim) + c.shape).transpose(NCHW_TO_NHWC)
            while c4.ndim > 1 and c4.shape[0] == 1:  # drop leading 1s: [C] broadcasts along channels
                c4 = c4[0]
            c = c4
        elif other.layout == "flat":
            raise self.fail("broadcast with a flattened NCHW value")
        return self.const(name, c)

    # -- ops -----------------------------------------------------------------------------------------------
    def spatial(self, x: Tensor, kh: int, kw: int, strides, dilations, allow_pad_op: bool = True):
        """(input tensor, padding, out h, out w) for ONNX pads/auto_pad; asymmetric pads become a PAD op."""
        _, h, w, c = x.shape
        sh, sw = strides
        dh, dw = dilations
        auto = self.attr("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else auto
        if self.attr("ceil_mode", 0):
            raise self.fail("ceil_mode=1")
        if auto in ("SAME_UPPER",):
            return x, "SAME", -(-h // sh), -(-w // sw)
        if auto == "VALID":
            pads = [0, 0, 0, 0]
        elif auto == "NOTSET":
            pads = list(self.attr("pads", [0, 0, 0, 0]))
        else:
            raise self.fail(f"auto_pad={auto}")
        top, left, bottom, right = pads
        if pads == [0, 0, 0, 0]:
            return x, "VALID", _out_dim(h, kh, sh, dh, 0), _out_dim(w, kw, sw, dw, 0)
        oh, ow = _out_dim(h, kh, sh, dh, top + bottom), _out_dim(w, kw, sw, dw, left + right)
        if ((top, bottom) == _same_pads(h, kh, sh, dh) and (left, right) == _same_pads(w, kw, sw, dw)
                and oh == -(-h // sh) and ow == -(-w // sw)):
            return x, "SAME", oh, ow
        if not allow_pad_op:
            raise self.fail(f"pads {pads} that are neither VALID nor TFLite's SAME")
        padded = self.act(x.name + "_pad", (x.shape[0], h + top + bottom, w + left + right, c))
        p = np.array([[0, 0], [top, bottom], [left, right], [0, 0]])
        self.op("PAD", [x, self.const(x.name + "_paddings", p, "int32")], padded)
        return padded, "VALID", oh, ow

    def conv(self):
        x = self.as_nhwc(self.inp(0))
        w = self.const_inp(1, "Conv weight").astype(np.float32)
        b = self.const_inp(2, "Conv bias")
        if w.ndim != 4:
            raise self.fail(f"{w.ndim - 2}-D convolution")
        o, ipg, kh, kw = w.shape
        cin = x.shape[3]
        group = int(self.attr("group", 1))
        strides = list(self.attr("strides", [1, 1]))
        dil = list(self.attr("dilations", [1, 1]))
        b = np.zeros(o, np.float32) if b is None else b.astype(np.float32)
        name = self.node.output[0]
        xin, padding, oh, ow = self.spatial(x, kh, kw, strides, dil)
        attrs = {"padding": padding, "stride_h": strides[0], "stride_w": strides[1],
                 "dilation_h_factor": dil[0], "dilation_w_factor": dil[1], "fused_activation": "NONE"}
        out = self.act(name, (x.shape[0], oh, ow, o))
        if group == 1:
            if ipg != cin:
                raise ModelFormatError(f"{self.path}: Conv node '{self.node.name}' weight has {ipg} input channels,"
                                       f" its input has {cin}")
            wt = self.const(name + "_w", w.transpose(0, 2, 3, 1))
            self.op("CONV_2D", [xin, wt, self.const(name + "_b", b)], out, attrs)
        elif group == cin and ipg == 1 and o % cin == 0:
            wt = self.const(name + "_w", w.transpose(1, 2, 3, 0))
            attrs["depth_multiplier"] = o // cin
            self.op("DEPTHWISE_CONV_2D", [xin, wt, self.const(name + "_b", b)], out, attrs)
        else:
            raise self.fail(f"grouped convolution (group={group}, {cin} input channels)")
        self.set_out(_Val(tensor=out, layout="nhwc"))

    def fc(self, a: _Val, w_in_out: np.ndarray, bias: np.ndarray | None):
        """FULLY_CONNECTED of a rank-2 value with weights given as [in, out] in ONNX order."""
        if a.const is not None:
            raise self.fail("constant first operand")
        shape = a.onnx_shape
        if len(shape) != 2:
            raise self.fail(f"rank-{len(shape)} input (only rank 2 maps to FULLY_CONNECTED)")
        w = np.asarray(w_in_out, dtype=np.float32).T  # [out, in]
        if w.shape[1] != shape[1]:
            raise ModelFormatError(f"{self.path}: node '{self.node.name}': weight of {w.shape[1]} inputs for a "
                                   f"value of shape {shape}")
        if a.layout == "flat":
            _, h, wd, c = a.src.shape
            # IR column (h, w, c) holds ONNX feature c*H*W + h*W + w
            w = w.reshape(w.shape[0], c, h, wd).transpose(0, 2, 3, 1).reshape(w.shape[0], -1)
            x = self.flat_hwc(a)
        else:
            x = self.as_same(a)
        units = w.shape[0]
        bias = np.zeros(units, np.float32) if bias is None else np.broadcast_to(
            np.asarray(bias, np.float32).reshape(-1), (units,))
        name = self.node.output[0]
        out = self.act(name, (shape[0], units))
        self.op("FULLY_CONNECTED", [x, self.const(name + "_w", w), self.const(name + "_b", bias)], out,
                {"fused_activation": "NONE", "keep_num_dims": False})
        self.set_out(_Val(tensor=out))

    def gemm(self):
        a = self.inp(0)
        b = self.const_inp(1, "Gemm B")
        c = self.const_inp(2, "Gemm C")
        if self.attr("transA", 0):
            raise self.fail("transA=1")
        alpha, beta = float(self.attr("alpha", 1.0)), float(self.attr("beta", 1.0))
        w = b.T if self.attr("transB", 0) else b  # [in, out]
        if c is not None and c.size not in (1, w.shape[1]):
            raise self.fail(f"bias of shape {c.shape}")
        self.fc(a, alpha * w, None if c is None else beta * np.broadcast_to(c.reshape(-1), (w.shape[1],)))

    def matmul(self):
        b = self.const_inp(1, "MatMul second operand")
        if b.ndim != 2:
            raise self.fail(f"rank-{b.ndim} weight")
        self.fc(self.inp(0), b, None)

    def activation(self, kind: str):
        v = self.inp(0)
        if kind in ("RELU", "RELU6") and v.const is None and v.layout != "flat":
            p = self.fusable(v.tensor)
            if p is not None:
                p.attrs["fused_activation"] = kind
                self.set_out(v)
                return
        x = self.as_same(v) if v.layout == "flat" else v.tensor
        out = self.act(self.node.output[0], x.shape)
        self.op(kind, [x], out)
        self.set_out(_Val(tensor=out, layout="same" if v.layout == "flat" else v.layout))

    def clip(self):
        lo = self.const_inp(1, "Clip min") if len(self.node.input) > 1 else None
        hi = self.const_inp(2, "Clip max") if len(self.node.input) > 2 else None
        lo = float(self.attr("min", -np.inf)) if lo is None else float(lo)
        hi = float(self.attr("max", np.inf)) if hi is None else float(hi)
        if lo == 0.0 and hi == 6.0:
            self.activation("RELU6")
        elif lo == 0.0 and hi == np.inf:
            self.activation("RELU")
        else:
            raise self.fail(f"Clip({lo}, {hi}) (only Clip(0, 6) and Clip(0, inf))")

    def binary(self, kind: str):
        a, b = self.inp(0), self.inp(1)
        if a.const is not None and b.const is not None:
            self.set_out(_Val(const=(a.const + b.const) if kind == "ADD" else (a.const * b.const)))
            return
        name = self.node.output[0]
        if a.const is not None or b.const is not None:
            v, c = (a, b.const) if b.const is not None else (b, a.const)
            if v.layout == "flat":
                v = _Val(tensor=self.as_same(v))
            x = v.tensor
            # Add of a per-channel constant right after a conv / FC: fold into its bias
            p = self.producer(x)
            channels = x.shape[-1]
            if (kind == "ADD" and p is not None and p.kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
                    and p.attrs.get("fused_activation") == "NONE" and p.outputs[0] is x
                    and self.n_consumers.get(self.node.input[0 if b.const is not None else 1], 0) == 1
                    and (self.node.input[0 if b.const is not None else 1]) not in self.graph_outputs):
                ct = self.const_like(c, v, name + "_c").data
                if ct.size in (1, channels) and np.broadcast_shapes(ct.shape, x.shape) == x.shape:
                    bias = p.inputs[2]
                    bias.data = (bias.data + np.broadcast_to(ct.reshape(-1), (channels,))).astype(np.float32)
                    self.set_out(v)
                    return
            ct = self.const_like(c, v, name + "_c")
            shape = np.broadcast_shapes(ct.shape, x.shape)
            if shape != tuple(x.shape):
                raise self.fail(f"broadcast of a constant {c.shape} widens the activation {v.onnx_shape}")
            out = self.act(name, shape)
            self.op(kind, [x, ct], out, {"fused_activation": "NONE"})
            self.set_out(_Val(tensor=out, layout=v.layout))
            return
        if a.layout == "nhwc" and b.layout == "nhwc":
            xa, xb, layout = a.tensor, b.tensor, "nhwc"
        elif a.layout == "nhwc" and len(b.onnx_shape) == 4 or b.layout == "nhwc" and len(a.onnx_shape) == 4:
            xa, xb, layout = self.as_nhwc(a), self.as_nhwc(b), "nhwc"
        else:
            xa, xb, layout = self.as_same(a), self.as_same(b), "same"
        out = self.act(name, np.broadcast_shapes(xa.shape, xb.shape))
        self.op(kind, [xa, xb], out, {"fused_activation": "NONE"})
        self.set_out(_Val(tensor=out, layout=layout))

    def batchnorm(self):
        v = self.inp(0)
        scale, bias, mean, var = (self.const_inp(i, "BatchNormalization parameter").astype(np.float64)
                                  for i in (1, 2, 3, 4))
        eps = float(self.attr("epsilon", 1e-5))
        a = scale / np.sqrt(var + eps)
        shift = bias - mean * a
        if v.const is not None or v.layout == "flat":
            raise self.fail("BatchNormalization of a constant or flattened value")
        x = v.tensor
        p = self.fusable(x)
        if p is not None and p.kind in ("CONV_2D", "DEPTHWISE_CONV_2D") and v.layout == "nhwc":
            w, b = p.inputs[1], p.inputs[2]
            axis = 0 if p.kind == "CONV_2D" else 3
            shape = [1, 1, 1, 1]
            shape[axis] = -1
            w.data = (w.data * a.reshape(shape)).astype(np.float32)
            b.data = (b.data * a + shift).astype(np.float32)
            self.set_out(v)
            return
        if v.layout != "nhwc" and len(x.shape) != 2:
            raise self.fail(f"BatchNormalization of a rank-{len(x.shape)} value")
        name = self.node.output[0]
        m = self.act(name + "_mul", x.shape)
        self.op("MUL", [x, self.const(name + "_scale", a)], m, {"fused_activation": "NONE"})
        out = self.act(name, x.shape)
        self.op("ADD", [m, self.const(name + "_shift", shift)], out, {"fused_activation": "NONE"})
        self.set_out(_Val(tensor=out, layout=v.layout))

    def pool(self, kind: str):
        x = self.as_nhwc(self.inp(0))
        kh, kw = self.attr("kernel_shape")
        strides = list(self.attr("strides", [1, 1]))
        if list(self.attr("dilations", [1, 1])) != [1, 1]:
            raise self.fail("dilated pooling")
        pads = list(self.attr("pads", [0, 0, 0, 0]))
        if kind == "AVERAGE_POOL_2D" and self.attr("count_include_pad", 0) and any(pads):
            raise self.fail("count_include_pad=1 with padding")
        xin, padding, oh, ow = self.spatial(x, kh, kw, strides, [1, 1], allow_pad_op=False)
        out = self.act(self.node.output[0], (x.shape[0], oh, ow, x.shape[3]))
        self.op(kind, [xin], out, {"padding": padding, "stride_h": strides[0], "stride_w": strides[1],
                                   "filter_height": kh, "filter_width": kw, "fused_activation": "NONE"})
        self.set_out(_Val(tensor=out, layout="nhwc"))

    def global_pool(self, kind: str):
        x = self.as_nhwc(self.inp(0))
        n, h, w, c = x.shape
        out = self.act(self.node.output[0], (n, 1, 1, c))
        if kind == "MEAN":
            self.op("MEAN", [x, self.const(x.name + "_axes", np.array([1, 2]), "int32")], out, {"keep_dims": True})
        else:
            self.op("MAX_POOL_2D", [x], out, {"padding": "VALID", "stride_h": 1, "stride_w": 1,
                                             "filter_height": h, "filter_width": w, "fused_activation": "NONE"})
        self.set_out(_Val(tensor=out, layout="nhwc"))

    def flatten_to(self, v: _Val, shape) -> None:
        """Reshape of an activation to `shape` (ONNX order)."""
        shape = [int(d) for d in shape]
        src = v.onnx_shape
        if v.layout == "nhwc" and len(shape) == 2 and shape[0] == src[0]:
            _, _, h, w = src
            if h * w == 1:
                self.set_out(_Val(tensor=self.reshape(v.tensor, shape)))
            else:
                self.set_out(_Val(layout="flat", src=v.tensor))
            return
        if v.layout == "flat" and len(shape) == 2 and tuple(shape) == src:
            self.set_out(v)
            return
        if list(src) == shape:
            self.set_out(v)
            return
        out = self.reshape(self.as_same(v), shape)
        self.set_out(_Val(tensor=out))

    def _target_shape(self, v: _Val, shape) -> list[int]:
        src = v.onnx_shape
        shape = [int(d) for d in shape]
        shape = [src[i] if d == 0 and i < len(src) else d for i, d in enumerate(shape)]
        if -1 in shape:
            known = int(np.prod([d for d in shape if d != -1]))
            shape[shape.index(-1)] = int(np.prod(src)) // max(known, 1)
        if int(np.prod(shape)) != int(np.prod(src)):
            raise ModelFormatError(f"{self.path}: node '{self.node.name}' reshapes {src} to {shape}")
        return shape

    def flatten(self):
        v = self.inp(0)
        axis = int(self.attr("axis", 1))
        if v.const is not None:
            c = v.const
            axis = axis % max(c.ndim, 1)
            self.set_out(_Val(const=c.reshape(int(np.prod(c.shape[:axis])), -1)))
            return
        src = v.onnx_shape
        axis = axis % len(src)
        self.flatten_to(v, [int(np.prod(src[:axis])), int(np.prod(src[axis:]))])

    def reshape_node(self):
        v = self.inp(0)
        shape = self.const_inp(1, "Reshape shape")
        if v.const is not None:
            self.set_out(_Val(const=v.const.reshape(self._target_shape(v, shape))))
            return
        self.flatten_to(v, self._target_shape(v, shape))

    def squeeze(self):
        v = self.inp(0)
        axes = self.const_inp(1, "Squeeze axes") if len(self.node.input) > 1 else self.attr("axes")
        src = v.onnx_shape
        axes = [int(a) % len(src) for a in axes] if axes is not None else [i for i, d in enumerate(src) if d == 1]
        shape = [d for i, d in enumerate(src) if i not in axes]
        if v.const is not None:
            self.set_out(_Val(const=v.const.reshape(shape)))
        else:
            self.flatten_to(v, shape)

    def unsqueeze(self):
        v = self.inp(0)
        axes = self.const_inp(1, "Unsqueeze axes") if len(self.node.input) > 1 else self.attr("axes")
        src = list(v.onnx_shape)
        rank = len(src) + len(axes)
        axes = sorted(int(a) % rank for a in axes)
        for a in axes:
            src.insert(a, 1)
        if v.const is not None:
            self.set_out(_Val(const=v.const.reshape(src)))
        else:
            self.flatten_to(v, src)

    def concat(self):
        vals = [self.inp(i) for i in range(len(self.node.input))]
        axis = int(self.attr("axis"))
        if all(v.const is not None for v in vals):
            self.set_out(_Val(const=np.concatenate([v.const for v in vals], axis=axis)))
            return
        rank = len(vals[0].onnx_shape)
        axis %= rank
        acts = [v for v in vals if v.const is None]
        layout = "nhwc" if rank == 4 and any(v.layout == "nhwc" for v in acts) else "same"
        ins = []
        for v in vals:
            if v.const is not None:
                c = v.const.astype(np.float32)
                ins.append(self.const(self.node.output[0] + "_c", c.transpose(NCHW_TO_NHWC) if layout == "nhwc" else c))
            else:
                ins.append(self.as_nhwc(v) if layout == "nhwc" else self.as_same(v))
        ir_axis = _AXIS_NCHW_TO_NHWC[axis] if layout == "nhwc" else axis
        shape = list(ins[0].shape)
        shape[ir_axis] = sum(t.shape[ir_axis] for t in ins)
        out = self.act(self.node.output[0], shape)
        self.op("CONCATENATION", ins, out, {"axis": ir_axis, "fused_activation": "NONE"})
        self.set_out(_Val(tensor=out, layout=layout))

    def softmax(self):
        v = self.inp(0)
        rank = len(v.onnx_shape)
        default = -1 if self.opset >= 13 else 1
        axis = int(self.attr("axis", default)) % rank
        if v.layout == "nhwc" and axis == 1:
            x = v.tensor
        elif v.layout != "nhwc" and axis == rank - 1 or self.opset < 13 and axis == 1 and rank == 2:
            x = self.as_same(v)
        else:
            raise self.fail(f"Softmax over axis {axis} of a rank-{rank} value (only the channel/last axis)")
        out = self.act(self.node.output[0], x.shape)
        self.op("SOFTMAX", [x], out, {"beta": 1.0})
        self.set_out(_Val(tensor=out, layout="nhwc" if v.layout == "nhwc" else "same"))

    def pad(self):
        v = self.inp(0)
        mode = self.attr("mode", b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        if mode != "constant":
            raise self.fail(f"Pad mode '{mode}'")
        pads = self.const_inp(1, "Pad pads") if len(self.node.input) > 1 else np.array(self.attr("pads"))
        value = self.const_inp(2, "Pad value") if len(self.node.input) > 2 else None
        if value is not None and value.size and float(value.reshape(-1)[0]) != 0.0:
            raise self.fail("Pad with a non-zero value")
        if len(self.node.input) > 3 and self.node.input[3]:
            raise self.fail("Pad with axes")
        rank = len(v.onnx_shape)
        pads = np.asarray(pads, dtype=np.int64).reshape(2, rank).T  # [rank, (before, after)]
        if (pads < 0).any():
            raise self.fail("negative pads")
        if v.layout == "nhwc":
            x, pads = v.tensor, pads[list(NCHW_TO_NHWC)]
        else:
            x = self.as_same(v)
        out = self.act(self.node.output[0], [d + int(a + b) for d, (a, b) in zip(x.shape, pads)])
        self.op("PAD", [x, self.const(out.name + "_paddings", pads, "int32")], out)
        self.set_out(_Val(tensor=out, layout="nhwc" if v.layout == "nhwc" else "same"))

    def transpose(self):
        v = self.inp(0)
        rank = len(v.onnx_shape)
        perm = [int(p) for p in self.attr("perm", list(range(rank))[::-1])]
        if v.const is not None:
            self.set_out(_Val(const=v.const.transpose(perm)))
            return
        if v.layout == "nhwc" and tuple(perm) == NCHW_TO_NHWC:
            self.set_out(_Val(tensor=v.tensor))  # the IR tensor already is this NHWC value
            return
        if v.layout == "same" and rank == 4 and tuple(perm) == NHWC_TO_NCHW:
            self.set_out(_Val(tensor=v.tensor, layout="nhwc"))
            return
        x = self.as_same(v)
        out = self.act(self.node.output[0], [x.shape[p] for p in perm])
        self.op("TRANSPOSE", [x, self.const(out.name + "_perm", np.array(perm), "int32")], out)
        self.set_out(_Val(tensor=out))

    def const_fold(self):
        """Shape arithmetic on constants (as torch exports for x.view(x.size(0), -1))."""
        t = self.node.op_type
        ins = [self.inp(i) for i in range(len(self.node.input))]
        if t == "Shape":
            self.set_out(_Val(const=np.array(ins[0].onnx_shape, dtype=np.int64)))
            return
        if any(v is not None and v.const is None for v in ins):
            raise self.fail("only supported on constants")
        c = [None if v is None else v.const for v in ins]
        if t == "Gather":
            r = np.take(c[0], c[1], axis=int(self.attr("axis", 0)))
        elif t == "Cast":
            import onnx

            r = c[0].astype(onnx.helper.tensor_dtype_to_np_dtype(self.attr("to")))
        elif t in ("Sub", "Div"):
            r = c[0] - c[1] if t == "Sub" else (c[0] // c[1] if c[0].dtype.kind in "iu" else c[0] / c[1])
        else:
            raise self.fail("unsupported")
        self.set_out(_Val(const=np.asarray(r)))

    def eval_constant(self, ins: list) -> None:
        from onnx.reference import ReferenceEvaluator

        try:
            ev = ReferenceEvaluator(self.node)
            feeds = {name: v.const for name, v in zip(self.node.input, ins) if name}
            results = ev.run(None, feeds)
        except Exception as e:  # noqa: BLE001 - any failure of the reference evaluator
            raise self.fail(f"cannot evaluate on constants ({type(e).__name__}: {e})") from None
        for i, r in enumerate(results):
            self.set_out(_Val(const=np.asarray(r)), i)

    # -- driver --------------------------------------------------------------------------------------------
    def run(self) -> Graph:
        from onnx import numpy_helper

        for node in self.g.node:
            for name in node.input:
                if name:
                    self.n_consumers[name] = self.n_consumers.get(name, 0) + 1
        for init in self.g.initializer:
            self.vals[init.name] = _Val(const=numpy_helper.to_array(init))
        graph_inputs = []
        for vi in self.g.input:
            if vi.name in self.vals:
                continue
            tt = vi.type.tensor_type
            if tt.elem_type != 1:
                raise UnsupportedOpError(f"{self.path}: input '{vi.name}' is not float32 (ONNX type {tt.elem_type})")
            dims = [d.dim_value if d.HasField("dim_value") else 1 for d in tt.shape.dim]
            if len(dims) == 4:
                t = self.act(vi.name, (dims[0], dims[2], dims[3], dims[1]))
                self.vals[vi.name] = _Val(tensor=t, layout="nhwc")
            else:
                t = self.act(vi.name, dims)
                self.vals[vi.name] = _Val(tensor=t)
            graph_inputs.append(t)
        handlers = {
            "Conv": self.conv, "Gemm": self.gemm, "MatMul": self.matmul,
            "Relu": lambda: self.activation("RELU"), "Clip": self.clip,
            "Sigmoid": lambda: self.activation("LOGISTIC"), "HardSwish": lambda: self.activation("HARD_SWISH"),
            "Add": lambda: self.binary("ADD"), "Mul": lambda: self.binary("MUL"),
            "BatchNormalization": self.batchnorm,
            "AveragePool": lambda: self.pool("AVERAGE_POOL_2D"), "MaxPool": lambda: self.pool("MAX_POOL_2D"),
            "GlobalAveragePool": lambda: self.global_pool("MEAN"),
            "GlobalMaxPool": lambda: self.global_pool("MAX"),
            "Flatten": self.flatten, "Reshape": self.reshape_node, "Squeeze": self.squeeze,
            "Unsqueeze": self.unsqueeze, "Concat": self.concat, "Softmax": self.softmax, "Pad": self.pad,
            "Transpose": self.transpose, "Shape": self.const_fold, "Gather": self.const_fold,
            "Cast": self.const_fold, "Sub": self.const_fold, "Div": self.const_fold,
        }
        for i, node in enumerate(self.g.node):
            self.node, self.node_index = node, i
            if node.domain not in ("", "ai.onnx"):
                raise self.fail(f"unsupported op from domain '{node.domain}'")
            if node.op_type in ("Identity", "Dropout"):
                self.set_out(self.inp(0))
                continue
            if node.op_type == "Constant":
                from onnx import numpy_helper

                a = node.attribute[0]
                if a.name != "value":
                    raise self.fail(f"Constant with '{a.name}'")
                self.set_out(_Val(const=numpy_helper.to_array(a.t)))
                continue
            if node.op_type == "Shape":
                self.const_fold()
                continue
            ins = [self.inp(j) for j in range(len(node.input))]
            if ins and all(v is None or v.const is not None for v in ins) and node.op_type not in ("Conv",):
                self.eval_constant(ins)  # shape arithmetic (torch's F.pad, x.view(x.size(0), -1), ...)
                continue
            h = handlers.get(node.op_type)
            if h is None:
                raise self.fail("unsupported op")
            h()
        outputs = []
        for o in self.g.output:
            if o.name not in self.vals:
                raise ModelFormatError(f"{self.path}: graph output '{o.name}' is never computed")
            v = self.vals[o.name]
            if v.const is not None:
                raise UnsupportedOpError(f"{self.path}: graph output '{o.name}' is a constant")
            t = v.tensor if v.layout == "nhwc" else self.as_same(v)
            outputs.append(t)
        # Drop tensors no op or graph boundary uses (e.g. a reshape cached but superseded).
        used = {id(t) for op in self.ops for t in op.inputs + op.outputs if t is not None}
        used |= {id(t) for t in graph_inputs + outputs}
        tensors = [t for t in self.tensors if id(t) in used]
        name = re.sub(r"[^0-9a-zA-Z_]", "_", self.path.stem) or "model"
        if name[0].isdigit():
            name = "m_" + name
        graph = Graph(tensors=tensors, ops=self.ops, inputs=graph_inputs, outputs=outputs, name=name)
        graph.renumber()
        return graph


def load_onnx(path: str | Path) -> Graph:
    """A float32 ONNX model as an IR graph. 4-D inputs and outputs are NHWC in the IR (see module docstring)."""
    path = Path(path)
    try:
        import onnx
    except ImportError as e:  # pragma: no cover
        raise ModelFormatError(f"{path}: reading ONNX needs the 'onnx' package ({e})") from None
    if not path.is_file():
        raise ModelFormatError(f"{path}: no such file")
    try:
        model = onnx.load(str(path))
    except Exception as e:  # noqa: BLE001 - protobuf reports damage as DecodeError / assorted errors
        raise ModelFormatError(f"{path}: not a valid ONNX model ({type(e).__name__})") from None
    if not model.HasField("graph") or (not model.graph.node and not model.graph.output):
        raise ModelFormatError(f"{path}: not an ONNX model (no graph)")
    importer = _Importer(path, model)
    importer.opset = next((int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    return importer.run()

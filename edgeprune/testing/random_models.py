"""Random, well-formed small CNNs (float32 and int8) for end-to-end tests of the compiler.

``random_cnn(seed)`` builds a float32 IR graph from CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, MUL,
AVERAGE_POOL_2D, MAX_POOL_2D, MEAN, PAD, CONCATENATION, RESHAPE, SOFTMAX, LOGISTIC, RELU, RELU6 and
HARD_SWISH; ``random_int8_cnn(seed)`` is the same graph after ``ptq.quantize_graph``. Both are deterministic
in the seed. Weights are He-scaled and then rescaled layer by layer on seeded inputs (LSUV-style) so that
activations keep an RMS near 1 whatever the depth; the final logits get an RMS near 2.5 so a closing SOFTMAX
is not flat.

``CnnBuilder`` is the small graph-building layer the generator (and examples/make_example.py) use.
"""

from __future__ import annotations

import numpy as np

from edgeprune.backends.tflite_writer import graph_to_bytes
from edgeprune.ir import Graph, Op, Tensor

ALL_OPS = frozenset({
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "AVERAGE_POOL_2D", "MAX_POOL_2D",
    "MEAN", "PAD", "CONCATENATION", "RESHAPE", "SOFTMAX", "LOGISTIC", "RELU", "RELU6", "HARD_SWISH",
})
FUSED_ACTIVATIONS = ("NONE", "RELU", "RELU6")
MAX_CHANNELS = 24


def out_dim(n: int, k: int, stride: int, dilation: int, padding: str) -> int:
    ek = (k - 1) * dilation + 1
    return -(-n // stride) if padding == "SAME" else (n - ek) // stride + 1


class CnnBuilder:
    """Appends float32 ops to a graph under construction; every method returns the output tensor."""

    def __init__(self, rng: np.random.Generator, name: str = "model"):
        self.rng = rng
        self.name = name
        self.tensors: list[Tensor] = []
        self.ops: list[Op] = []
        self.inputs: list[Tensor] = []
        self._n = 0

    # -- tensors -------------------------------------------------------------------------------------------
    def _name(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n}"

    def _act(self, shape, prefix: str) -> Tensor:
        t = Tensor(self._name(prefix), tuple(int(d) for d in shape), "float32")
        self.tensors.append(t)
        return t

    def _const(self, data: np.ndarray, prefix: str, dtype: str = "float32") -> Tensor:
        data = np.asarray(data, dtype=dtype)
        t = Tensor(self._name(prefix), tuple(data.shape), dtype, data=data)
        self.tensors.append(t)
        return t

    def _op(self, kind: str, inputs: list[Tensor], out_shape, attrs: dict | None = None) -> Tensor:
        out = self._act(out_shape, kind.lower())
        self.ops.append(Op(kind=kind, inputs=list(inputs), outputs=[out], attrs=dict(attrs or {})))
        return out

    def input(self, shape) -> Tensor:
        t = self._act(shape, "input")
        self.inputs.append(t)
        return t

    def graph(self, outputs: list[Tensor]) -> Graph:
        g = Graph(tensors=list(self.tensors), ops=list(self.ops), inputs=list(self.inputs),
                  outputs=list(outputs), name=self.name)
        g.renumber()
        return g

    def _weights(self, shape, fan_in: int, act: str) -> np.ndarray:
        gain = np.sqrt(2.0) if act in ("RELU", "RELU6") else 1.0
        return (self.rng.standard_normal(shape) * gain / np.sqrt(max(fan_in, 1))).astype(np.float32)

    def _bias(self, n: int) -> np.ndarray:
        return (self.rng.standard_normal(n) * 0.1).astype(np.float32)

    # -- ops -----------------------------------------------------------------------------------------------
    def conv(self, x: Tensor, cout: int, k: int = 3, stride: int = 1, padding: str = "SAME", dilation: int = 1,
             act: str = "RELU", kw: int | None = None) -> Tensor:
        _, h, w, cin = x.shape
        kh, kw = k, (k if kw is None else kw)
        wt = self._const(self._weights((cout, kh, kw, cin), kh * kw * cin, act), "conv_w")
        b = self._const(self._bias(cout), "conv_b")
        shape = (1, out_dim(h, kh, stride, dilation, padding), out_dim(w, kw, stride, dilation, padding), cout)
        return self._op("CONV_2D", [x, wt, b], shape, {
            "padding": padding, "stride_w": stride, "stride_h": stride, "fused_activation": act,
            "dilation_w_factor": dilation, "dilation_h_factor": dilation})

    def dwconv(self, x: Tensor, k: int = 3, stride: int = 1, padding: str = "SAME", multiplier: int = 1,
               dilation: int = 1, act: str = "RELU") -> Tensor:
        _, h, w, cin = x.shape
        cout = cin * multiplier
        wt = self._const(self._weights((1, k, k, cout), k * k, act), "dw_w")
        b = self._const(self._bias(cout), "dw_b")
        shape = (1, out_dim(h, k, stride, dilation, padding), out_dim(w, k, stride, dilation, padding), cout)
        return self._op("DEPTHWISE_CONV_2D", [x, wt, b], shape, {
            "padding": padding, "stride_w": stride, "stride_h": stride, "depth_multiplier": multiplier,
            "fused_activation": act, "dilation_w_factor": dilation, "dilation_h_factor": dilation})

    def fc(self, x: Tensor, units: int, act: str = "NONE") -> Tensor:
        n_in = x.shape[-1] if len(x.shape) == 2 else x.num_elements
        wt = self._const(self._weights((units, n_in), n_in, act), "fc_w")
        b = self._const(self._bias(units), "fc_b")
        return self._op("FULLY_CONNECTED", [x, wt, b], (1, units),
                        {"fused_activation": act, "keep_num_dims": False})

    def add(self, a: Tensor, b: Tensor, act: str = "NONE") -> Tensor:
        return self._op("ADD", [a, b], np.broadcast_shapes(a.shape, b.shape), {"fused_activation": act})

    def mul(self, a: Tensor, b: Tensor, act: str = "NONE") -> Tensor:
        return self._op("MUL", [a, b], np.broadcast_shapes(a.shape, b.shape), {"fused_activation": act})

    def const_vector(self, values: np.ndarray, prefix: str = "vec") -> Tensor:
        return self._const(np.asarray(values, dtype=np.float32), prefix)

    def pool(self, kind: str, x: Tensor, k: int = 2, stride: int = 2, padding: str = "VALID",
             act: str = "NONE", kw: int | None = None) -> Tensor:
        _, h, w, c = x.shape
        kh, kw = k, (k if kw is None else kw)
        shape = (1, out_dim(h, kh, stride, 1, padding), out_dim(w, kw, stride, 1, padding), c)
        return self._op(kind, [x], shape, {
            "padding": padding, "stride_w": stride, "stride_h": stride, "filter_width": kw,
            "filter_height": kh, "fused_activation": act})

    def mean_hw(self, x: Tensor) -> Tensor:
        axes = self._const(np.array([1, 2], dtype=np.int32), "mean_axes", "int32")
        return self._op("MEAN", [x, axes], (1, 1, 1, x.shape[3]), {"keep_dims": True})

    def pad(self, x: Tensor, pads) -> Tensor:
        pads = np.asarray(pads, dtype=np.int32).reshape(4, 2)
        p = self._const(pads, "paddings", "int32")
        shape = tuple(int(d + lo + hi) for d, (lo, hi) in zip(x.shape, pads))
        return self._op("PAD", [x, p], shape)

    def concat(self, xs: list[Tensor], act: str = "NONE") -> Tensor:
        shape = list(xs[0].shape)
        shape[3] = sum(t.shape[3] for t in xs)
        return self._op("CONCATENATION", xs, shape, {"axis": 3, "fused_activation": act})

    def reshape(self, x: Tensor, shape) -> Tensor:
        shape = [int(d) for d in shape]
        assert int(np.prod(shape)) == x.num_elements, (x.shape, shape)
        s = self._const(np.array(shape, dtype=np.int32), "shape", "int32")
        return self._op("RESHAPE", [x, s], shape, {"new_shape": shape})

    def softmax(self, x: Tensor, beta: float = 1.0) -> Tensor:
        return self._op("SOFTMAX", [x], x.shape, {"beta": float(beta)})

    def unary(self, kind: str, x: Tensor) -> Tensor:  # LOGISTIC, RELU, RELU6, HARD_SWISH
        return self._op(kind, [x], x.shape)


# -- LSUV-style rescaling -------------------------------------------------------------------------------------

def calibration_inputs(graph: Graph, n: int, seed: int) -> list[list[np.ndarray]]:
    """`n` seeded samples, uniform in [-1, 1], one array per graph input."""
    rng = np.random.default_rng([seed, 0xCA1])
    return [[rng.uniform(-1.0, 1.0, size=t.shape).astype(np.float32) for t in graph.inputs] for _ in range(n)]


def _run_all(graph: Graph, samples: list[list[np.ndarray]], index: int) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_content=graph_to_bytes(graph), experimental_preserve_all_tensors=True,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    vals = []
    for sample in samples:
        for d, x in zip(interp.get_input_details(), sample):
            interp.set_tensor(d["index"], x)
        interp.invoke()
        vals.append(interp.get_tensor(index).copy())
    return np.stack(vals)


def _scale_op(op: Op, a, shift=None) -> None:
    """out -> a * (out - shift) for a CONV/DW/FC op by rescaling its weights and bias; `a` may be per channel."""
    w, b = op.inputs[1], op.inputs[2]
    axis = 3 if op.kind == "DEPTHWISE_CONV_2D" else 0
    a = np.broadcast_to(np.asarray(a, dtype=np.float64), (w.shape[axis],))
    shape = [1] * w.data.ndim
    shape[axis] = -1
    w.data = (w.data * a.reshape(shape)).astype(np.float32)
    if b is not None and b.data is not None:
        bias = b.data.astype(np.float64) - (0.0 if shift is None else shift)
        b.data = (bias * a).astype(np.float32)


def normalize_weights(graph: Graph, samples: list[list[np.ndarray]], target: float = 1.0,
                      logits_target: float = 2.5) -> Graph:
    """LSUV-style: for each CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED in graph order, revive channels that a
    fused RELU/RELU6 zeroes on every sample (negate that channel's weights and bias), then rescale so the output
    RMS on `samples` is about `target`. The logits FC (no activation, feeding a graph output or a
    SOFTMAX/LOGISTIC) is instead centred over the samples and scaled to a spread of `logits_target`, so the
    prediction depends on the input. Modifies the graph in place and returns it."""
    feeds_head = {id(t) for t in graph.outputs}
    for op in graph.ops:
        if op.kind in ("SOFTMAX", "LOGISTIC"):
            feeds_head.add(id(op.inputs[0]))
    for op in graph.ops:
        if op.kind not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        out = op.outputs[0]
        act = op.attrs.get("fused_activation", "NONE")
        if op.kind == "FULLY_CONNECTED" and id(out) in feeds_head and act == "NONE":
            v = _run_all(graph, samples, out.index).reshape(len(samples), -1).astype(np.float64)
            spread = float(np.mean(np.std(v, axis=0)))
            a = min(logits_target / spread, 20.0) if spread > 1e-9 else 1.0
            _scale_op(op, a, shift=np.mean(v, axis=0))
            continue
        if act in ("RELU", "RELU6"):
            v = _run_all(graph, samples, out.index)
            dead = np.all(v.reshape(-1, v.shape[-1]) <= 0, axis=0)
            if dead.any():
                _scale_op(op, np.where(dead, -1.0, 1.0))
        for _ in range(3):  # repeated because RELU6 clipping is not linear
            v = _run_all(graph, samples, out.index)
            rms = float(np.sqrt(np.mean(np.square(v, dtype=np.float64))))
            if rms < 1e-6 or abs(rms / target - 1) < 0.1:
                break
            _scale_op(op, target / rms)
            if act != "RELU6":
                break
    return graph


# -- the random generator -------------------------------------------------------------------------------------

class _Gen:
    def __init__(self, seed: int, ops: frozenset[str], input_shape, cover: bool = True):
        self.cover = cover
        self.rng = np.random.default_rng([seed, 0x5EED])
        self.ops = ops
        self.b = CnnBuilder(self.rng, name=f"random_cnn_{seed}")
        self.used: set[str] = set()
        if input_shape is None:
            r = self.rng
            input_shape = (1, int(r.integers(12, 25)), int(r.integers(12, 25)), int(r.integers(1, 5)))
        self.input_shape = tuple(int(d) for d in input_shape)

    # helpers
    def has(self, *kinds: str) -> bool:
        return all(k in self.ops for k in kinds)

    def act(self) -> str:
        return str(self.rng.choice(FUSED_ACTIVATIONS, p=[0.3, 0.5, 0.2]))

    def chan(self, lo: int = 4, hi: int = MAX_CHANNELS) -> int:
        return int(self.rng.integers(lo, hi + 1))

    def note(self, t: Tensor) -> Tensor:
        self.used.update(op.kind for op in self.b.ops)
        return t

    def conv_params(self, x: Tensor, allow_stride: bool = True):
        """(k, stride, padding, dilation) that keeps the output at least 2x2."""
        r = self.rng
        h, w = x.shape[1], x.shape[2]
        for _ in range(20):
            k = int(r.integers(1, 6))
            stride = 2 if allow_stride and min(h, w) >= 8 and r.random() < 0.35 else 1
            dilation = 2 if stride == 1 and k in (2, 3) and r.random() < 0.2 else 1
            padding = "SAME" if k == 1 or r.random() < 0.6 else "VALID"
            if min(out_dim(h, k, stride, dilation, padding), out_dim(w, k, stride, dilation, padding)) >= 2:
                return k, stride, padding, dilation
        return 1, 1, "SAME", 1

    # blocks: each returns the new tensor; `blocks()` lists (name, required ops, callable)
    def blk_conv(self, x):
        k, s, p, d = self.conv_params(x)
        return self.b.conv(x, self.chan(), k, s, p, d, self.act())

    def blk_dw(self, x):
        k, s, p, d = self.conv_params(x)
        m = 2 if x.shape[3] * 2 <= MAX_CHANNELS and self.rng.random() < 0.35 else 1
        return self.b.dwconv(x, k, s, p, m, d, self.act())

    def blk_dwsep(self, x):
        k, s, p, d = self.conv_params(x)
        y = self.b.dwconv(x, k, s, p, 1, d, self.act())
        return self.b.conv(y, self.chan(), 1, 1, "SAME", 1, self.act())

    def blk_residual(self, x):
        c = x.shape[3]
        y = x
        for _ in range(int(self.rng.integers(1, 3))):
            kinds = [k for k in ("CONV_2D", "DEPTHWISE_CONV_2D") if self.has(k)]
            k = int(self.rng.choice([1, 3, 5], p=[0.3, 0.5, 0.2]))
            if self.rng.choice(kinds) == "CONV_2D":
                y = self.b.conv(y, c, k, 1, "SAME", 1, self.act())
            else:
                y = self.b.dwconv(y, k, 1, "SAME", 1, 1, self.act())
        return self.b.add(x, y, self.act())

    def blk_add_const(self, x):
        v = self.b.const_vector(self.rng.normal(0.0, 0.5, x.shape[3]), "add_c")
        return self.b.add(x, v, self.act()) if self.rng.random() < 0.5 else self.b.add(v, x, self.act())

    def blk_mul_const(self, x):
        v = self.rng.uniform(0.5, 1.5, x.shape[3]) * self.rng.choice([-1.0, 1.0], x.shape[3], p=[0.2, 0.8])
        return self.b.mul(x, self.b.const_vector(v, "mul_c"), self.act())

    def blk_swish(self, x):
        return self.b.mul(x, self.b.unary("LOGISTIC", x))

    def blk_se(self, x):
        c = x.shape[3]
        g = self.b.mean_hw(x)
        g = self.b.conv(g, max(2, c // 4), 1, 1, "SAME", 1, "RELU")
        g = self.b.conv(g, c, 1, 1, "SAME", 1, "NONE")
        g = self.b.unary("LOGISTIC", g)
        return self.b.mul(x, g)

    def blk_pool(self, x, kind):
        h, w = x.shape[1], x.shape[2]
        k = int(self.rng.integers(2, 4))
        s = int(self.rng.integers(1, 3)) if min(h, w) >= 6 else 1
        p = "SAME" if self.rng.random() < 0.5 else "VALID"
        if min(out_dim(h, k, s, 1, p), out_dim(w, k, s, 1, p)) < 2:
            p, s = "SAME", 1
        return self.b.pool(kind, x, k, s, p, self.act() if self.rng.random() < 0.3 else "NONE")

    def blk_pad(self, x):
        r = self.rng
        pads = [[0, 0], [int(r.integers(0, 3)), int(r.integers(0, 3))],
                [int(r.integers(0, 3)), int(r.integers(0, 3))], [0, 0]]
        if r.random() < 0.15:
            pads[3] = [0, int(r.integers(1, 3))]  # channel padding
        if sum(map(sum, pads)) == 0:
            pads[1] = [1, 1]
        y = self.b.pad(x, pads)
        if self.has("CONV_2D") and r.random() < 0.6:  # explicit padding + VALID conv, as converters emit
            k = int(r.integers(2, 4))
            s = 2 if min(y.shape[1], y.shape[2]) >= 8 and r.random() < 0.5 else 1
            return self.b.conv(y, self.chan(), k, s, "VALID", 1, self.act())
        return y

    def blk_concat(self, x):
        branches = [x]
        opts = ["self"]
        if self.has("CONV_2D"):
            opts += ["conv", "conv"]
        if self.has("DEPTHWISE_CONV_2D"):
            opts.append("dw")
        if self.has("MAX_POOL_2D"):
            opts.append("max")
        for _ in range(int(self.rng.integers(1, 3))):
            room = 32 - sum(t.shape[3] for t in branches)
            choice = self.rng.choice(opts)
            if choice == "conv" and room >= 2:
                branches.append(self.b.conv(x, int(self.rng.integers(2, min(room, 16) + 1)), 1, 1, "SAME", 1,
                                            self.act()))
            elif choice == "dw" and room >= x.shape[3]:
                branches.append(self.b.dwconv(x, 3, 1, "SAME", 1, 1, self.act()))
            elif choice == "max" and room >= x.shape[3]:
                branches.append(self.b.pool("MAX_POOL_2D", x, 3, 1, "SAME"))
            elif room >= x.shape[3]:
                branches.append(x)
        if len(branches) == 1:
            branches.append(x)
        self.rng.shuffle(branches)
        return self.b.concat(branches)  # converters never fuse an activation into CONCATENATION

    def blk_reshape(self, x):
        _, h, w, c = x.shape
        shape = (1, h // 2, w * 2, c) if h % 2 == 0 and h >= 4 else (1, w, h, c)
        return self.b.reshape(x, shape)

    def blocks(self, x: Tensor):
        h, w, c = x.shape[1], x.shape[2], x.shape[3]
        small = min(h, w) < 3
        cands = [
            ("conv", {"CONV_2D"}, self.blk_conv, 3.0),
            ("dw", {"DEPTHWISE_CONV_2D"}, self.blk_dw, 2.0),
            ("dwsep", {"DEPTHWISE_CONV_2D", "CONV_2D"}, self.blk_dwsep, 3.0),
            ("add_const", {"ADD"}, self.blk_add_const, 0.5),
            ("mul_const", {"MUL"}, self.blk_mul_const, 0.5),
            ("swish", {"MUL", "LOGISTIC"}, self.blk_swish, 0.5),
            ("se", {"MEAN", "CONV_2D", "LOGISTIC", "MUL"}, self.blk_se, 0.7),
            ("pad", {"PAD"}, self.blk_pad, 0.7),
            ("concat", {"CONCATENATION"}, self.blk_concat, 0.8),
            ("reshape", {"RESHAPE"}, self.blk_reshape, 0.3),
            ("softmax", {"SOFTMAX"}, lambda t: self.b.softmax(t), 0.15),
        ]
        if self.has("ADD") and (self.has("CONV_2D") or self.has("DEPTHWISE_CONV_2D")):
            cands.append(("residual", {"ADD"}, self.blk_residual, 2.0))
        for kind in ("RELU", "RELU6", "HARD_SWISH", "LOGISTIC"):
            cands.append((kind.lower(), {kind}, lambda t, k=kind: self.b.unary(k, t), 0.4))
        if not small:
            for kind in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
                cands.append((kind.lower(), {kind}, lambda t, k=kind: self.blk_pool(t, k), 1.0))
        if c * 2 > 32:
            cands = [cd for cd in cands if cd[0] != "concat"]
        if c + 2 > MAX_CHANNELS + 8:
            cands = [cd for cd in cands if cd[0] != "pad"]
        return [cd for cd in cands if cd[1] <= self.ops]

    def pick(self, x: Tensor, want: set[str]):
        cands = self.blocks(x)
        if not cands:
            return None
        wts = np.array([wt * (6.0 if req & want else 1.0) for _, req, _, wt in cands])
        i = int(self.rng.choice(len(cands), p=wts / wts.sum()))
        return cands[i]

    def missing(self, kind: str) -> bool:
        return self.cover and kind in self.ops and kind not in self.used

    def head(self, x: Tensor) -> Tensor:
        r = self.rng
        if self.has("FULLY_CONNECTED"):
            if x.num_elements > 1024 or r.random() < 0.6 or self.missing("MEAN"):
                pools = [k for k in ("MEAN", "AVERAGE_POOL_2D") if self.has(k)]
                if pools and (x.shape[1] * x.shape[2] > 1 or self.missing("MEAN")):
                    if r.choice(pools) == "MEAN" or self.missing("MEAN"):
                        x = self.b.mean_hw(x)
                    else:
                        x = self.b.pool("AVERAGE_POOL_2D", x, x.shape[1], 1, "VALID", kw=x.shape[2])
            if self.has("RESHAPE") and r.random() < 0.8:
                x = self.b.reshape(x, (1, x.num_elements))
            if r.random() < 0.3:
                x = self.b.fc(x, int(r.integers(8, 33)), str(r.choice(["RELU", "RELU6"])))
            x = self.b.fc(x, int(r.integers(2, 11)), "NONE")
            if self.has("SOFTMAX") and (r.random() < 0.85 or self.missing("SOFTMAX")):
                x = self.b.softmax(x)
            elif self.has("LOGISTIC") and r.random() < 0.5:
                x = self.b.unary("LOGISTIC", x)
        else:
            if self.missing("MEAN"):
                x = self.b.mean_hw(x)
            if self.has("SOFTMAX") and (r.random() < 0.5 or self.missing("SOFTMAX")):
                x = self.b.softmax(x)
        return x

    def build(self, n_blocks: int | None = None) -> Graph:
        x = self.b.input(self.input_shape)
        head_ops = {"FULLY_CONNECTED", "SOFTMAX", "MEAN"}  # the head places these
        n = int(self.rng.integers(3, 8)) if n_blocks is None else n_blocks
        for i in range(n + 8):
            want = (set(self.ops) - self.used - head_ops) if self.cover else set()
            if i >= n and not want:
                break
            blk = self.pick(x, want)
            if blk is None:
                break
            x = self.note(blk[2](x))
        graph = self.b.graph([self.note(self.head(x))])
        if not graph.ops:
            raise ValueError(f"random_cnn could not place any of {sorted(self.ops)}")
        return graph


def random_cnn(seed: int, ops: set[str] | None = None, input_shape=None, n_blocks: int | None = None,
               normalize: bool = True) -> Graph:
    """A random, well-formed float32 CNN, deterministic in `seed`.

    ops: the op kinds it may use (default: all of ALL_OPS, a random selection of them); when given
    explicitly, every kind in the set that can be placed is used at least once. input_shape: NHWC, default
    random between 1x12x12x1 and 1x24x24x4. The model usually ends with FULLY_CONNECTED + SOFTMAX.
    normalize: LSUV-style weight rescaling (see module docstring).
    """
    cover = ops is not None
    ops = ALL_OPS if ops is None else frozenset(ops)
    unknown = ops - ALL_OPS
    if unknown:
        raise ValueError(f"random_cnn cannot place {sorted(unknown)}; known ops: {sorted(ALL_OPS)}")
    graph = _Gen(seed, ops, input_shape, cover).build(n_blocks)
    if normalize:
        normalize_weights(graph, calibration_inputs(graph, 8, seed))
    return graph


def random_int8_cnn(seed: int, ops: set[str] | None = None, input_shape=None, n_blocks: int | None = None,
                    per_channel: bool = True, n_calibration: int = 16) -> Graph:
    """``quantize_graph(random_cnn(seed, ...))`` calibrated on `n_calibration` seeded uniform [-1, 1] inputs."""
    from edgeprune.testing.ptq import quantize_graph

    graph = random_cnn(seed, ops, input_shape, n_blocks)
    return quantize_graph(graph, calibration_inputs(graph, n_calibration, seed), per_channel=per_channel)

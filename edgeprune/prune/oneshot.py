"""One-shot structured channel pruning without training code: rank, cut, and rebuild the next layer by least squares.

``prune_oneshot(graph, calibration, keep, method)`` works on float32 and int8 IR graphs:

1. **Dependency groups on the IR** (like Torch-Pruning's): every activation's last-axis channels are nodes of a
   union-find; channel-preserving ops (activations, pools, PAD without channel padding, MEAN over H/W,
   DEPTHWISE_CONV_2D with multiplier 1, QUANTIZE, RESHAPE keeping channels innermost, ADD/MUL of two activations,
   CONCATENATION by offset) join the nodes they connect. A connected component is one prunable channel;
   components that reach a graph input/output or an op that mixes channels otherwise (SOFTMAX, TRANSPOSE, MEAN
   over channels, depthwise multiplier > 1, channel PAD, ...) are frozen. Components touching the same tensors
   form a group (e.g. all channels of a residual stream); ``keep`` is allocated per group.
2. **Importance**: ``l2`` = ||producer filters|| * ||consumer input weights|| (weights only); ``act`` =
   sum over consumers of E[x_c^2] * ||W[:, c]||^2 on calibration data (the channel's contribution to the next
   layers' outputs).
3. **Allocation**: ``keep`` as a float is the fraction of the dense MACs to keep: channels are removed greedily by
   (importance / group mean importance) per MAC saved until the MACs reach the target (each group keeps at least
   10% of its channels, at least 1), then the most important removed channels that still fit within 2% of the
   target are put back. As a dict ``{op index: channels}`` it fixes the output channels of those
   CONV_2D / FULLY_CONNECTED ops (and everything coupled to them).
4. **Reconstruction** (``+lsq``): in graph order, every CONV_2D / FULLY_CONNECTED whose input changed is refit
   on the pruned model's calibration activations (im2col patches for k > 1) to reproduce the dense layer's
   pre-activation output: ridge normal equations shrunk towards the plainly pruned weights.

int8 graphs are handled directly: weights, biases and activations are dequantized for ranking and fitting, the
refit weights are requantized symmetric per channel (bias at input scale * weight scale), and every activation
keeps its existing quantization. Calibration samples for an int8 graph may be float (quantized with the input's
parameters) or int8.

The last quarter of ``calibration`` (at least one sample, if there are 4 or more) is held out: it is not used
for fitting and the report's agreement figures are measured on it.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from edgeprune.analysis.cost import layer_costs, totals
from edgeprune.backends.tflite_writer import graph_to_bytes
from edgeprune.ir import Graph, Op, Quant, Tensor

WEIGHT_OPS = ("CONV_2D", "FULLY_CONNECTED")
_PASS_THROUGH = frozenset({"RELU", "RELU6", "LOGISTIC", "HARD_SWISH", "QUANTIZE", "DEQUANTIZE",
                           "AVERAGE_POOL_2D", "MAX_POOL_2D"})
METHODS = ("l2", "act", "l2+lsq", "act+lsq")
MIN_KEEP_FRACTION = 0.1
REFILL_SLACK = 0.02  # a float `keep` may end up to 2% of the target above it


# -- dependency groups ----------------------------------------------------------------------------------------

class _Groups:
    """Channel nodes per activation tensor (by tensor index), their components and groups."""

    def __init__(self, graph: Graph):
        graph.renumber()
        self.graph = graph
        self.nodes: dict[int, np.ndarray] = {}
        n = 0
        for t in graph.tensors:
            if not t.is_constant and len(t.shape) >= 1 and t.shape[-1] > 0:
                self.nodes[t.index] = np.arange(n, n + int(t.shape[-1]))
                n += int(t.shape[-1])
        self.n = n
        self.parent = np.arange(n)
        self.blocked = np.zeros(n, dtype=bool)
        self.node_tensor = np.zeros(n, dtype=np.int64)
        for ti, nodes in self.nodes.items():
            self.node_tensor[nodes] = ti
        self._build()

    def find(self, a: int) -> int:
        p = self.parent
        while p[a] != a:
            p[a] = p[p[a]]
            a = p[a]
        return int(a)

    def union(self, a: np.ndarray, b: np.ndarray) -> None:
        for x, y in zip(a, b):
            rx, ry = self.find(int(x)), self.find(int(y))
            if rx != ry:
                self.parent[ry] = rx

    def block(self, *ts: Tensor | None) -> None:
        for t in ts:
            if t is not None and t.index in self.nodes:
                self.blocked[self.nodes[t.index]] = True

    def _build(self) -> None:
        g = self.graph
        N = self.nodes
        for op in g.ops:
            acts = [t for t in op.inputs if t is not None and not t.is_constant]
            out = op.outputs[0]
            k = op.kind
            x = acts[0] if acts else None
            if x is not None and x.index not in N or out.index not in N:
                self.block(*acts, *op.outputs)
                continue
            if k == "CONV_2D":
                if x.shape[-1] != op.inputs[1].shape[3]:  # grouped convolution
                    self.block(x, out)
            elif k == "FULLY_CONNECTED":
                if x.shape[-1] != op.inputs[1].shape[1]:
                    self.block(x)
            elif k == "DEPTHWISE_CONV_2D":
                if out.shape[-1] == x.shape[-1]:
                    self.union(N[x.index], N[out.index])
                else:
                    self.block(x, out)
            elif k in _PASS_THROUGH:
                self.union(N[x.index], N[out.index])
            elif k == "MEAN":
                axes = {int(a) % len(x.shape) for a in np.asarray(op.inputs[1].data).reshape(-1)}
                if len(x.shape) - 1 not in axes and out.shape[-1] == x.shape[-1]:
                    self.union(N[x.index], N[out.index])
                else:
                    self.block(x, out)
            elif k == "PAD":
                pads = np.asarray(op.inputs[1].data).reshape(-1, 2)
                if not pads[-1].any():
                    self.union(N[x.index], N[out.index])
                else:
                    self.block(x, out)
            elif k == "RESHAPE":
                li, lo = x.shape[-1], out.shape[-1]
                if lo % li == 0:
                    self.union(N[out.index], N[x.index][np.arange(lo) % li])
                elif li % lo == 0:
                    self.union(N[x.index], N[out.index][np.arange(li) % lo])
                else:
                    self.block(x, out)
            elif k == "CONCATENATION":
                axis = int(op.attrs.get("axis", -1)) % len(out.shape)
                if any(t is not None and t.is_constant for t in op.inputs):
                    self.block(*acts, out)
                elif axis == len(out.shape) - 1:
                    off = 0
                    for t in op.inputs:
                        c = t.shape[-1]
                        self.union(N[out.index][off:off + c], N[t.index])
                        off += c
                else:
                    for t in acts:
                        self.union(N[t.index], N[out.index])
            elif k in ("ADD", "MUL"):
                c = out.shape[-1]
                for t in op.inputs:
                    if t is None:
                        continue
                    last = t.shape[-1] if len(t.shape) else 1
                    if t.is_constant:
                        if last not in (1, c):
                            self.block(out)
                    elif last == c:
                        self.union(N[t.index], N[out.index])
                    elif last != 1:
                        self.block(t, out)
            else:
                self.block(*acts, *op.outputs)
        self.block(*g.inputs, *g.outputs)
        roots = np.array([self.find(i) for i in range(self.n)], dtype=np.int64)
        self.root = roots
        frozen = np.zeros(self.n, dtype=bool)
        frozen_roots = set(roots[self.blocked].tolist())
        for i in range(self.n):
            frozen[i] = roots[i] in frozen_roots
        self.frozen = frozen
        # groups: free components with the same set of tensors
        comp_tensors: dict[int, set[int]] = {}
        for i in np.flatnonzero(~frozen):
            comp_tensors.setdefault(int(roots[i]), set()).add(int(self.node_tensor[i]))
        by_sig: dict[tuple, list[int]] = {}
        for r, ts in comp_tensors.items():
            by_sig.setdefault(tuple(sorted(ts)), []).append(r)
        producers = {op.outputs[0].index: op for op in g.ops}
        self.groups = []
        for sig, comps in by_sig.items():
            sources = [producers[ti] for ti in sig if ti in producers and producers[ti].kind in WEIGHT_OPS]
            if not sources:
                continue
            first = self.nodes[sig[0]]
            comps = sorted(comps, key=lambda r: int(np.flatnonzero(roots[first] == r)[0])
                           if (roots[first] == r).any() else 0)
            self.groups.append({"comps": comps, "tensors": list(sig), "sources": sources})
        self.comp_nodes = {r: np.flatnonzero(roots == r) for g_ in self.groups for r in g_["comps"]}


# -- values ---------------------------------------------------------------------------------------------------

def _deq(t: Tensor) -> np.ndarray:
    x = np.asarray(t.data if t.data is not None else 0, dtype=np.float64)
    if t.dtype == "float32" or t.quant is None:
        return x
    q = t.quant
    scale, zp = q.scale.astype(np.float64), q.zero_point.astype(np.float64)
    if q.per_channel:
        shape = [1] * x.ndim
        shape[q.axis] = -1
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    return (x - zp) * scale


def _deq_act(t: Tensor, v: np.ndarray) -> np.ndarray:
    if t.dtype == "float32" or t.quant is None:
        return v.astype(np.float64)
    return (v.astype(np.float64) - t.quant.scalar_zero_point) * t.quant.scalar_scale


def _feed(graph: Graph, sample: list[np.ndarray]) -> list[np.ndarray]:
    out = []
    for t, x in zip(graph.inputs, sample):
        x = np.asarray(x)
        if t.dtype != "float32" and x.dtype.kind == "f" and t.quant is not None:
            info = np.iinfo(t.dtype)
            x = np.clip(np.round(x / t.quant.scalar_scale) + t.quant.scalar_zero_point, info.min, info.max)
        out.append(x.astype(t.dtype).reshape(t.shape))
    return out


def _run(graph: Graph, samples: list[list[np.ndarray]], indices) -> dict[int, np.ndarray]:
    """Dequantized values of tensors `indices` on every sample, stacked along a new leading axis."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_content=graph_to_bytes(graph), experimental_preserve_all_tensors=True,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    details = interp.get_input_details()
    vals: dict[int, list] = {i: [] for i in indices}
    for s in samples:
        for d, x in zip(details, _feed(graph, s)):
            interp.set_tensor(d["index"], x)
        interp.invoke()
        for i in indices:
            vals[i].append(_deq_act(graph.tensors[i], interp.get_tensor(i)))
    return {i: np.stack(v) for i, v in vals.items()}


# -- pruning a copy -------------------------------------------------------------------------------------------

def _slice_quant(q: Quant | None, mask: np.ndarray) -> Quant | None:
    if q is None or not q.per_channel:
        return q
    return Quant(scale=q.scale[mask].copy(), zero_point=q.zero_point[mask].copy(), axis=q.axis)


def _set(t: Tensor, data: np.ndarray) -> None:
    t.data = np.ascontiguousarray(data)
    t.shape = tuple(int(d) for d in data.shape)


def _apply(graph: Graph, G: _Groups, alive: np.ndarray) -> Graph:
    """A copy of `graph` with the channels whose nodes are not `alive` removed (weights sliced, no refit)."""
    g = copy.deepcopy(graph)
    g.renumber()
    masks = {ti: alive[nodes] for ti, nodes in G.nodes.items()}
    full = {ti: m.all() for ti, m in masks.items()}
    done: set[int] = set()

    def m(t: Tensor) -> np.ndarray:
        return masks.get(t.index, np.ones(t.shape[-1], dtype=bool))

    for op in g.ops:
        out = op.outputs[0]
        if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            w, b = op.inputs[1], op.inputs[2] if len(op.inputs) > 2 else None
            om, im = m(out), m(op.inputs[0])
            if op.kind == "CONV_2D":
                _set(w, w.data[om][..., im])
                w.quant = _slice_quant(w.quant, om) if w.quant is not None and w.quant.axis == 0 else w.quant
            elif op.kind == "DEPTHWISE_CONV_2D":
                _set(w, w.data[..., om])
                w.quant = _slice_quant(w.quant, om)
            else:
                _set(w, w.data[om][:, im])
                w.quant = _slice_quant(w.quant, om)
            if b is not None:
                _set(b, b.data[om])
                b.quant = _slice_quant(b.quant, om)
        elif op.kind in ("ADD", "MUL"):
            om = m(out)
            for t in op.inputs:
                if t is not None and t.is_constant and len(t.shape) and t.shape[-1] == len(om) > 1 \
                        and id(t) not in done:
                    _set(t, t.data[..., om])
                    done.add(id(t))
        if op.kind == "RESHAPE":
            pass  # fixed below, once the output shape is known
    for ti, mask in masks.items():
        if not full[ti]:
            t = g.tensors[ti]
            t.shape = tuple(t.shape[:-1]) + (int(mask.sum()),)
    for op in g.ops:
        if op.kind == "RESHAPE":
            shape = [int(d) for d in op.outputs[0].shape]
            if len(op.inputs) > 1 and op.inputs[1] is not None and op.inputs[1].is_constant:
                _set(op.inputs[1], np.array(shape, dtype=op.inputs[1].dtype))
            op.attrs["new_shape"] = shape
    return g


# -- importance -----------------------------------------------------------------------------------------------

def _importance(graph: Graph, G: _Groups, method: str, dense_vals: dict[int, np.ndarray] | None) -> np.ndarray:
    """Importance per node root: an array indexed by root id (0 for frozen)."""
    src = np.zeros(G.n)
    cons = np.zeros(G.n)
    act = np.zeros(G.n)
    for op in graph.ops:
        if op.kind not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        w = _deq(op.inputs[1])
        x, out = op.inputs[0], op.outputs[0]
        if op.kind == "CONV_2D":
            src[G.nodes[out.index]] += np.sum(w ** 2, axis=(1, 2, 3))
            wc = np.sum(w ** 2, axis=(0, 1, 2))
        elif op.kind == "DEPTHWISE_CONV_2D":
            src[G.nodes[out.index]] += np.sum(w ** 2, axis=(0, 1, 2))
            continue
        else:
            src[G.nodes[out.index]] += np.sum(w ** 2, axis=1)
            wc = np.sum(w ** 2, axis=0)
        if x.index in G.nodes:
            cons[G.nodes[x.index]] += wc
            if dense_vals is not None and x.index in dense_vals:
                v = dense_vals[x.index]
                e = np.mean(v.reshape(-1, v.shape[-1]) ** 2, axis=0)
                act[G.nodes[x.index]] += e * wc
    imp = np.zeros(G.n)
    for r, nodes in G.comp_nodes.items():
        if method == "act":
            imp[r] = act[nodes].sum()
        else:
            s, c = src[nodes].sum(), cons[nodes].sum()
            imp[r] = math.sqrt(s) * math.sqrt(c) if c > 0 else math.sqrt(s)
    return imp


def _macs(graph: Graph, G: _Groups, alive: np.ndarray) -> int:
    total = 0

    def count(t: Tensor) -> int:
        nodes = G.nodes.get(t.index)
        return int(t.shape[-1]) if nodes is None else int(alive[nodes].sum())

    for op in graph.ops:
        if op.kind not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        out = op.outputs[0]
        rows = int(np.prod(out.shape[:-1]))
        w = op.inputs[1].shape
        if op.kind == "CONV_2D":
            total += rows * count(out) * w[1] * w[2] * count(op.inputs[0])
        elif op.kind == "DEPTHWISE_CONV_2D":
            total += rows * count(out) * w[1] * w[2]
        else:
            cin = count(op.inputs[0])
            total += rows * count(out) * (w[1] * cin // max(int(op.inputs[0].shape[-1]), 1))
    return total


def _round_groups(G: _Groups, imp: np.ndarray, alive: np.ndarray, round_to: int) -> np.ndarray:
    """Each group keeps a multiple of round_to channels (the nearest, at least round_to when it had that many),
    taking back its most important removed channels or dropping its least important kept ones."""
    for gr in G.groups:
        comps = sorted(gr["comps"], key=lambda r: imp[r], reverse=True)
        kept = [r for r in comps if alive[G.comp_nodes[r]].all()]
        n = len(comps)
        if round_to <= 1 or n <= round_to:
            continue
        want = max(round_to, min(n, int(round(len(kept) / round_to)) * round_to))
        for i, r in enumerate(comps):
            alive[G.comp_nodes[r]] = i < want
    return alive


def _select(graph: Graph, G: _Groups, imp: np.ndarray, keep) -> np.ndarray:
    alive = np.ones(G.n, dtype=bool)
    if isinstance(keep, dict):
        for idx, count in keep.items():
            op = graph.ops[int(idx)] if 0 <= int(idx) < len(graph.ops) else None
            if op is None or op.kind not in WEIGHT_OPS:
                raise ValueError(f"keep: op {idx} is not a CONV_2D / FULLY_CONNECTED op")
            groups = [gr for gr in G.groups if op in gr["sources"]]
            out_nodes = G.nodes[op.outputs[0].index]
            if not groups or G.frozen[out_nodes].all():
                raise ValueError(f"keep: the output channels of op {idx} ({op.kind}) cannot be pruned "
                                 "(they reach a graph output or an op that mixes channels)")
            if len(groups) > 1 or G.frozen[out_nodes].any():
                raise ValueError(f"keep: the output channels of op {idx} are coupled non-uniformly")
            comps = groups[0]["comps"]
            count = int(count)
            if not 1 <= count <= len(comps):
                raise ValueError(f"keep: op {idx} has {len(comps)} prunable channels, asked to keep {count}")
            order = sorted(comps, key=lambda r: imp[r])
            for r in order[: len(comps) - count]:
                alive[G.comp_nodes[r]] = False
        return alive
    frac = float(keep)
    if not 0.0 < frac <= 1.0:
        raise ValueError(f"keep fraction must be in (0, 1], got {keep}")
    dense = _macs(graph, G, alive)
    target = frac * dense
    state = []
    for gr in G.groups:
        comps = sorted(gr["comps"], key=lambda r: imp[r])
        mean = float(np.mean([imp[r] for r in comps])) or 1.0
        floor = max(1, math.ceil(MIN_KEEP_FRACTION * len(comps)))
        state.append({"order": comps, "next": 0, "removable": len(comps) - floor, "mean": mean})
    macs = dense
    while macs > target:
        best, best_score, best_macs = None, np.inf, None
        for gi, st in enumerate(state):
            if st["next"] >= st["removable"]:
                continue
            r = st["order"][st["next"]]
            alive[G.comp_nodes[r]] = False
            m = _macs(graph, G, alive)
            alive[G.comp_nodes[r]] = True
            saved = macs - m
            if saved <= 0:
                continue
            score = (imp[r] / st["mean"]) / saved
            if score < best_score:
                best, best_score, best_macs = gi, score, m
        if best is None:
            break
        st = state[best]
        alive[G.comp_nodes[st["order"][st["next"]]]] = False
        st["next"] += 1
        macs = best_macs
    # the last removal may overshoot: put back the most important channels that still fit the budget
    removed = [(imp[r] / st["mean"], r) for st in state for r in st["order"][: st["next"]]]
    for _, r in sorted(removed, reverse=True):
        alive[G.comp_nodes[r]] = True
        m = _macs(graph, G, alive)
        if m <= target * (1 + REFILL_SLACK):
            macs = m
        else:
            alive[G.comp_nodes[r]] = False
    return alive


# -- reconstruction -------------------------------------------------------------------------------------------

def _patches(x: np.ndarray, op: Op, oh: int, ow: int) -> np.ndarray:
    """im2col of NHWC `x` for a CONV_2D: rows (n, oh, ow), columns (kh, kw, c) like the OHWI weights."""
    _, kh, kw, _ = op.inputs[1].shape
    sh, sw = int(op.attrs.get("stride_h", 1)), int(op.attrs.get("stride_w", 1))
    dh, dw = int(op.attrs.get("dilation_h_factor", 1)), int(op.attrs.get("dilation_w_factor", 1))
    n, h, w, c = x.shape
    need_h, need_w = (oh - 1) * sh + (kh - 1) * dh + 1, (ow - 1) * sw + (kw - 1) * dw + 1
    top = left = 0
    if op.attrs.get("padding", "SAME") == "SAME":
        top, left = max(need_h - h, 0) // 2, max(need_w - w, 0) // 2
    xp = np.pad(x, ((0, 0), (top, max(need_h - h - top, 0)), (left, max(need_w - w - left, 0)), (0, 0)))
    cols = [xp[:, i * dh: i * dh + (oh - 1) * sh + 1: sh, j * dw: j * dw + (ow - 1) * sw + 1: sw, :]
            for i in range(kh) for j in range(kw)]
    return np.stack(cols, axis=3).reshape(n * oh * ow, kh * kw * c)


def _op_inputs(op: Op, x: np.ndarray) -> np.ndarray:
    """The design matrix of a CONV_2D / FULLY_CONNECTED for input values `x` (samples stacked)."""
    x = x.reshape((-1,) + tuple(op.inputs[0].shape[1:]))
    if op.kind == "CONV_2D":
        _, oh, ow, _ = op.outputs[0].shape
        return _patches(x, op, oh, ow)
    return x.reshape(-1, op.inputs[1].shape[1])


def _weights_2d(op: Op) -> tuple[np.ndarray, np.ndarray]:
    w = _deq(op.inputs[1])
    b = op.inputs[2]
    bias = np.zeros(w.shape[0]) if b is None else _deq(b)
    return w.reshape(w.shape[0], -1), bias


def _store(op: Op, w2: np.ndarray, bias: np.ndarray) -> None:
    from edgeprune.testing.ptq import _quantize_values, symmetric_weight_quant

    wt, bt = op.inputs[1], op.inputs[2]
    w = w2.reshape(wt.shape)
    if wt.dtype == "float32":
        wt.data = w.astype(np.float32)
        if bt is not None:
            bt.data = bias.astype(np.float32)
        return
    q = symmetric_weight_quant(w, 0 if wt.quant is not None and wt.quant.per_channel else None)
    wt.data, wt.quant = _quantize_values(w, q), q
    if bt is not None:
        in_scale = op.inputs[0].quant.scalar_scale
        s = in_scale * q.scale.astype(np.float64)
        bq = Quant(scale=s.astype(np.float32), zero_point=np.zeros(s.shape, dtype=np.int64), axis=0)
        bt.data, bt.quant = _quantize_values(np.broadcast_to(bias, (w.shape[0],)), bq, "int32"), bq


def _reconstruct(dense: Graph, pruned: Graph, G: _Groups, alive: np.ndarray, fit: list, alpha: float,
                 max_rows: int = 6000) -> list[int]:
    """Refits, in graph order, every CONV_2D / FULLY_CONNECTED of `pruned` whose input changed. In place."""
    changed: set[int] = {ti for ti, nodes in G.nodes.items() if not alive[nodes].all()}
    todo = []
    for op in pruned.ops:
        ins = [t.index for t in op.inputs if t is not None and not t.is_constant]
        if op.kind in WEIGHT_OPS and any(i in changed for i in ins):
            todo.append(op.index)
        if any(i in changed for i in ins):
            changed.add(op.outputs[0].index)
    if not todo:
        return []
    dense_in = _run(dense, fit, sorted({dense.ops[i].inputs[0].index for i in todo}))
    rng = np.random.default_rng(0)
    for i in todo:
        dop, pop = dense.ops[i], pruned.ops[i]
        xd = dense_in[dop.inputs[0].index]
        xp = _run(pruned, fit, [pop.inputs[0].index])[pop.inputs[0].index]
        ad, ap = _op_inputs(dop, xd), _op_inputs(pop, xp)
        wd, bd = _weights_2d(dop)
        om = alive[G.nodes[dop.outputs[0].index]] if dop.outputs[0].index in G.nodes else slice(None)
        y = (ad @ wd.T + bd)[:, om]
        if ap.shape[0] > max_rows:
            rows = rng.choice(ap.shape[0], max_rows, replace=False)
            ap, y = ap[rows], y[rows]
        a = np.concatenate([ap, np.ones((ap.shape[0], 1))], axis=1)
        w0, b0 = _weights_2d(pop)
        prior = np.concatenate([w0, b0[:, None]], axis=1).T  # [D+1, O']
        gram = a.T @ a
        lam = alpha * np.trace(gram) / gram.shape[0] + 1e-12
        sol = np.linalg.solve(gram + lam * np.eye(gram.shape[0]), a.T @ y + lam * prior)
        _store(pop, sol[:-1].T, sol[-1])
    return todo


# -- the entry point ------------------------------------------------------------------------------------------

def _agreement(dense: Graph, candidate: Graph, samples: list) -> dict:
    di, ci = dense.outputs[0].index, candidate.outputs[0].index
    yd = _run(dense, samples, [di])[di].reshape(len(samples), -1)
    yc = _run(candidate, samples, [ci])[ci].reshape(len(samples), -1)
    return {"top1": float(np.mean(np.argmax(yd, axis=1) == np.argmax(yc, axis=1))),
            "rel_l2": float(np.linalg.norm(yc - yd) / max(np.linalg.norm(yd), 1e-12))}


def _layer_rows(before: Graph, after: Graph) -> list[dict]:
    cb, ca = layer_costs(before), layer_costs(after)
    rows = []
    for op_b, op_a, lb, la in zip(before.ops, after.ops, cb, ca):
        if op_b.kind not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        rows.append({"op": op_b.index, "kind": op_b.kind,
                     "in_channels_before": int(op_b.inputs[0].shape[-1]),
                     "in_channels_after": int(op_a.inputs[0].shape[-1]),
                     "channels_before": int(op_b.outputs[0].shape[-1]),
                     "channels_after": int(op_a.outputs[0].shape[-1]),
                     "macs_before": lb.macs, "macs_after": la.macs})
    return rows


def prune_oneshot(graph: Graph, calibration: list[list[np.ndarray]], keep: dict[int, int] | float,
                  method: str = "l2+lsq", alpha: float = 1e-3, round_to: int = 1) -> tuple[Graph, dict]:
    """Structured channel pruning of a float32 or int8 graph, with least-squares refit of the next layers.

    keep: fraction of the dense MACs to keep (allocated over groups by importance per MAC), or
    ``{op index: output channels to keep}`` for CONV_2D / FULLY_CONNECTED ops. method: ``l2`` or ``act``
    ranking, with ``+lsq`` for reconstruction. alpha: ridge strength relative to the mean Gram diagonal.
    Returns (pruned graph, report); `graph` is not modified.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if not calibration:
        raise ValueError("prune_oneshot needs calibration samples")
    rank, _, lsq = method.partition("+")
    dense = copy.deepcopy(graph)
    dense.renumber()
    n = len(calibration)
    heldout = n >= 4
    n_hold = max(1, n // 4) if heldout else 0
    fit = list(calibration[: n - n_hold]) if heldout else list(calibration)
    hold = list(calibration[n - n_hold:]) if heldout else list(calibration)

    G = _Groups(dense)
    dense_vals = None
    if rank == "act":
        idx = sorted({op.inputs[0].index for op in dense.ops if op.kind in WEIGHT_OPS
                      and op.inputs[0].index in G.nodes})
        dense_vals = _run(dense, fit, idx)
    imp = _importance(dense, G, rank, dense_vals)
    alive = _select(dense, G, imp, keep)
    if not isinstance(keep, dict):
        alive = _round_groups(G, imp, alive, round_to)
    plain = _apply(dense, G, alive)
    recon_ops: list[int] = []
    result = plain
    if lsq:
        result = _apply(dense, G, alive)
        recon_ops = _reconstruct(dense, result, G, alive, fit, alpha)

    macs_before, macs_after = totals(layer_costs(dense))["macs"], totals(layer_costs(result))["macs"]
    report = {
        "method": method,
        "keep": keep if isinstance(keep, dict) else float(keep),
        "dtype": next((t.dtype for t in dense.inputs), "float32"),
        "macs_before": macs_before,
        "macs_after": macs_after,
        "macs_fraction": macs_after / macs_before if macs_before else 1.0,
        "layers": _layer_rows(dense, result),
        "groups": [{"source_ops": [op.index for op in gr["sources"]], "channels_before": len(gr["comps"]),
                    "channels_after": int(sum(alive[G.comp_nodes[r]].all() for r in gr["comps"]))}
                   for gr in G.groups],
        "reconstructed_ops": recon_ops,
        "calibration": {"fit": len(fit), "heldout": len(hold) if heldout else 0},
        "agreement": {"plain": _agreement(dense, plain, hold)},
    }
    if lsq:
        report["agreement"]["reconstructed"] = _agreement(dense, result, hold)
    if not heldout:
        report["agreement"]["note"] = "fewer than 4 calibration samples: measured on the fitting samples"
    result.renumber()
    return result, report

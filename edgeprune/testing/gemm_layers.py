"""Random int8 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED layers for kernel tests, and multi-layer graphs of
them (one firmware build covers many kernel paths)."""

from __future__ import annotations

import shutil

import numpy as np

from edgeprune.ir import Graph, Op
from edgeprune.testing.single_op import qparams, tensor

ACTS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]


def out_size(n, k, s, d, padding):
    eff = (k - 1) * d + 1
    return (n + s - 1) // s if padding == "SAME" else (n - eff + s) // s


def random_layer(rng, kind, cfg, tag=""):
    """(op, input tensor, output tensor, input data) for one int8 layer."""
    act = cfg.get("act", str(rng.choice(ACTS)))
    s_in, z_in = float(rng.uniform(0.005, 0.1)), int(rng.integers(-128, 128))
    s_out, z_out = float(rng.uniform(0.02, 0.6)), int(rng.integers(-128, 128))
    if kind == "FULLY_CONNECTED":
        b, depth, units = cfg["batches"], cfg["depth"], cfg["units"]
        n = units if cfg["per_channel"] else 1
        wq = qparams(rng.uniform(0.002, 0.05, size=n).astype(np.float32), np.full(n, cfg.get("w_zp", 0)), axis=0)
        w_shape, oc, in_shape, out_shape = (units, depth), units, (b, depth), (b, units)
        attrs = {"fused_activation": act, "keep_num_dims": False}
        s_out = float(rng.uniform(0.05, 1.0))
    else:
        n_, h, w, c = cfg["n"], cfg["h"], cfg["w"], cfg["c"]
        kh, kw, sh, sw, dh, dw, pad = cfg["kh"], cfg["kw"], cfg["sh"], cfg["sw"], cfg["dh"], cfg["dw"], cfg["pad"]
        if pad == "VALID":
            h, w = max(h, (kh - 1) * dh + 1), max(w, (kw - 1) * dw + 1)
        oh, ow = out_size(h, kh, sh, dh, pad), out_size(w, kw, sw, dw, pad)
        if kind == "CONV_2D":
            oc = cfg["oc"]
            w_shape, axis = (oc, kh, kw, c), 0
        else:
            oc = c * cfg["dm"]
            w_shape, axis = (1, kh, kw, oc), 3
        n = oc if cfg["per_channel"] else 1
        wq = qparams(rng.uniform(0.002, 0.05, size=n).astype(np.float32), np.zeros(n, dtype=np.int64), axis=axis)
        in_shape, out_shape = (n_, h, w, c), (n_, oh, ow, oc)
        attrs = {"padding": pad, "stride_h": sh, "stride_w": sw, "dilation_h_factor": dh,
                 "dilation_w_factor": dw, "fused_activation": act}
        if kind == "DEPTHWISE_CONV_2D":
            attrs["depth_multiplier"] = cfg["dm"]
    x = tensor(f"x{tag}", in_shape, "int8", qparams(s_in, z_in))
    wt = tensor(f"w{tag}", w_shape, "int8", wq, data=rng.integers(-127, 128, size=w_shape))
    bscale = (np.float32(s_in) * wq.scale.astype(np.float32)).astype(np.float32)
    bdata = rng.integers(-20000, 20000, size=oc) if cfg.get("bias", True) else np.zeros(oc)
    bias = tensor(f"b{tag}", (oc,), "int32", qparams(bscale, np.zeros(bscale.size, dtype=np.int64)), data=bdata)
    y = tensor(f"y{tag}", out_shape, "int8", qparams(s_out, z_out))
    op = Op(kind=kind, inputs=[x, wt, bias], outputs=[y], attrs=attrs)
    return op, x, y, rng.integers(-128, 128, size=in_shape).astype(np.int8)


def layers_graph(layers, name="dsp_layers"):
    tensors = []
    for op, *_ in layers:
        tensors += [t for t in op.inputs if t is not None] + list(op.outputs)
    g = Graph(tensors=tensors, ops=[op for op, *_ in layers], inputs=[x for _, x, _, _ in layers],
              outputs=[y for _, _, y, _ in layers], name=name)
    g.renumber()
    return g


def gemm_graph(seed: int = 0, name: str = "gemm_layers") -> Graph:
    """Three layers deep enough for block sparsity: conv 1x1 64->64 on 8x8, conv 3x3 32->32 on 8x8 and FC
    256->64 (per-channel weights, bias, no activation)."""
    rng = np.random.default_rng(seed)
    common = {"per_channel": True, "bias": True, "act": "NONE"}
    conv = {"n": 1, "h": 8, "w": 8, "sh": 1, "sw": 1, "dh": 1, "dw": 1, "pad": "SAME", **common}
    layers = [random_layer(rng, "CONV_2D", {**conv, "c": 64, "oc": 64, "kh": 1, "kw": 1}, "_a"),
              random_layer(rng, "CONV_2D", {**conv, "c": 32, "oc": 32, "kh": 3, "kw": 3}, "_b"),
              random_layer(rng, "FULLY_CONNECTED", {"batches": 1, "depth": 256, "units": 64, **common}, "_c")]
    return layers_graph(layers, name=name)


def qemu_available(target: str) -> bool:
    """Whether the target's cross compiler and QEMU are installed."""
    from edgeprune.targets import load_profile

    prof = load_profile(target)
    return bool(shutil.which(prof.toolchain.cxx) and shutil.which(prof.raw["qemu"]["system"]))

"""Helium (MVE) int8 kernels (csrc/kernels/*_s8_mve.cc) against LiteRT's reference kernels, under QEMU on a
Cortex-M55 (mps3-an547): the kernels only build for MVE targets, so there is no host binding.

Each firmware holds many independent single ops (one graph input and output each) so a seeded sweep costs a
few builds: 1x1 GEMM (strides, channel tails, odd pixel counts, batches), im2col GEMM (SAME/VALID, strides,
dilations, K and output-channel tails, in_c 1 and 3), depthwise (channel tails, borders, strides,
dilations), fully connected (depth tails, batches, per-tensor / per-channel), ADD (sizes not a multiple of 4),
random scales, zero points (including -128 / 127), multipliers > 1 and every fused activation; plus the fallbacks
(depth multiplier 2, asymmetric FC weights, broadcasting ADD) that must stay on the portable kernels.
int8 results must be bit-exact.
The host part checks the build-time layouts and the vector requantization identity in numpy.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from edgeprune.backends.tflite_writer import graph_to_bytes
from edgeprune.ir import Graph, Op
from edgeprune.lower import lower_graph
from edgeprune.lower.isa import mve
from edgeprune.testing.single_op import qparams, tensor

ACTS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]
M55_ISA = frozenset({"thumb2", "dsp", "mve", "mve-fp"})

needs_qemu = pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                                reason="qemu-system-arm / arm-none-eabi-gcc not installed")


def _out(n, k, s, d, padding):
    eff = (k - 1) * d + 1
    return -(-n // s) if padding == "SAME" else (n - eff) // s + 1


def _zp(rng):
    return int(rng.choice([-128, 127, *rng.integers(-128, 128, size=6)]))


def _weights_q(rng, n, axis, per_channel):
    k = n if per_channel else 1
    return qparams(rng.uniform(0.002, 0.05, size=k).astype(np.float32), np.zeros(k, dtype=np.int64), axis=axis)


def _bias(rng, name, n, s_in, wq):
    scales = (np.float32(s_in) * wq.scale.astype(np.float32)).astype(np.float32)
    data = rng.integers(-30000, 30000, size=n) if rng.random() < 0.85 else np.zeros(n)
    return tensor(name, (n,), "int32", qparams(scales, np.zeros(scales.size, dtype=np.int64)), data=data)


def _io(rng, tag, x_shape, y_shape):
    s_in = float(rng.uniform(0.005, 0.1))
    # Sometimes a small output scale: effective multipliers > 1 (a left shift before VQRDMULH).
    s_out = float(rng.uniform(0.0005, 0.004) if rng.random() < 0.2 else rng.uniform(0.02, 0.6))
    x = tensor(f"x{tag}", x_shape, "int8", qparams(s_in, _zp(rng)))
    y = tensor(f"y{tag}", y_shape, "int8", qparams(s_out, _zp(rng)))
    return x, y, s_in


def conv_op(rng, tag, n, h, w, c, oc, kh, kw, sh=1, sw=1, dh=1, dw=1, padding="SAME", act=None, per_channel=None):
    oh, ow = _out(h, kh, sh, dh, padding), _out(w, kw, sw, dw, padding)
    x, y, s_in = _io(rng, tag, (n, h, w, c), (n, oh, ow, oc))
    wq = _weights_q(rng, oc, 0, rng.random() < 0.6 if per_channel is None else per_channel)
    wt = tensor(f"w{tag}", (oc, kh, kw, c), "int8", wq, data=rng.integers(-128, 128, size=(oc, kh, kw, c)))
    attrs = {"padding": padding, "stride_h": sh, "stride_w": sw, "dilation_h_factor": dh, "dilation_w_factor": dw,
             "fused_activation": act or str(rng.choice(ACTS))}
    return Op(kind="CONV_2D", inputs=[x, wt, _bias(rng, f"b{tag}", oc, s_in, wq)], outputs=[y], attrs=attrs)


def dw_op(rng, tag, n, h, w, c, kh, kw, sh=1, sw=1, dh=1, dw=1, padding="SAME", dm=1, act=None):
    oc = c * dm
    oh, ow = _out(h, kh, sh, dh, padding), _out(w, kw, sw, dw, padding)
    x, y, s_in = _io(rng, tag, (n, h, w, c), (n, oh, ow, oc))
    wq = _weights_q(rng, oc, 3, rng.random() < 0.7)
    wt = tensor(f"w{tag}", (1, kh, kw, oc), "int8", wq, data=rng.integers(-128, 128, size=(1, kh, kw, oc)))
    attrs = {"padding": padding, "stride_h": sh, "stride_w": sw, "dilation_h_factor": dh, "dilation_w_factor": dw,
             "depth_multiplier": dm, "fused_activation": act or str(rng.choice(ACTS))}
    return Op(kind="DEPTHWISE_CONV_2D", inputs=[x, wt, _bias(rng, f"b{tag}", oc, s_in, wq)], outputs=[y],
              attrs=attrs)


def fc_op(rng, tag, batches, depth, units, per_channel=False, w_zp=0, act=None):
    x, y, s_in = _io(rng, tag, (batches, depth), (batches, units))
    wq = _weights_q(rng, units, 0, per_channel)
    if w_zp:
        wq = qparams(wq.scale, np.full(wq.scale.size, w_zp, dtype=np.int64))
    wt = tensor(f"w{tag}", (units, depth), "int8", wq, data=rng.integers(-127, 128, size=(units, depth)))
    return Op(kind="FULLY_CONNECTED", inputs=[x, wt, _bias(rng, f"b{tag}", units, s_in, wq)], outputs=[y],
              attrs={"fused_activation": act or str(rng.choice(ACTS))})


def add_op(rng, tag, shape, shape2=None, act=None):
    s1, s2 = float(rng.uniform(0.01, 0.2)), float(rng.uniform(0.01, 0.2))
    a = tensor(f"a{tag}", shape, "int8", qparams(s1, _zp(rng)))
    b = tensor(f"c{tag}", shape2 or shape, "int8", qparams(s2, _zp(rng)))
    y = tensor(f"y{tag}", shape, "int8", qparams(float(rng.uniform(0.01, 0.3)), _zp(rng)))
    return Op(kind="ADD", inputs=[a, b], outputs=[y], attrs={"fused_activation": act or str(rng.choice(ACTS))})


def _graph(ops, name):
    tensors = [t for op in ops for t in (*op.inputs, *op.outputs)]
    inputs = [t for op in ops for t in op.inputs if not t.is_constant]
    g = Graph(tensors=tensors, ops=ops, inputs=inputs, outputs=[op.outputs[0] for op in ops], name=name)
    g.renumber()
    return g


def gemm_cases(seed):
    rng = np.random.default_rng(seed)
    ops = [
        conv_op(rng, "a", 1, 25, 5, 64, 64, 1, 1, act="RELU"),  # KWS pointwise
        conv_op(rng, "b", 1, 5, 7, 16, 10, 1, 1, sh=2, sw=2),  # 1x1 stride 2, out_c tail, odd pixels
        conv_op(rng, "c", 2, 3, 5, 21, 7, 1, 1),  # 1x1, K tail, batch 2 (pairs cross batches)
        conv_op(rng, "d", 1, 4, 3, 5, 3, 1, 1, sh=1, sw=2, padding="VALID"),  # K < 16, 3 channels
        conv_op(rng, "e", 1, 9, 8, 16, 16, 3, 3),  # ResNet-style 3x3 SAME
        conv_op(rng, "f", 1, 8, 9, 16, 12, 3, 3, sh=2, sw=2),  # stride 2, odd pixel count per batch
        conv_op(rng, "g", 1, 11, 6, 1, 9, 10, 4, sh=2, sw=2),  # KWS first layer shape class, in_c 1
        conv_op(rng, "h", 1, 7, 7, 3, 16, 3, 3, padding="VALID"),  # in_c 3, K 27
        conv_op(rng, "i", 2, 7, 6, 5, 6, 3, 2, dh=2, dw=2),  # dilations (per-tap im2col copies)
        conv_op(rng, "j", 1, 6, 6, 8, 5, 2, 3, sh=3, sw=1, dh=1, dw=2, padding="VALID"),
        conv_op(rng, "k", 1, 3, 3, 40, 4, 5, 5),  # taps mostly outside the input
        conv_op(rng, "l", 1, 1, 1, 33, 1, 1, 1),  # one pixel, one channel
    ]
    for i in range(6):  # random geometries
        kh, kw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        dh, dw = int(rng.choice([1, 1, 2])), int(rng.choice([1, 1, 2]))
        padding = str(rng.choice(["SAME", "VALID"]))
        h = max(int(rng.integers(1, 10)), (kh - 1) * dh + 1)
        w = max(int(rng.integers(1, 10)), (kw - 1) * dw + 1)
        ops.append(conv_op(rng, f"r{i}", int(rng.choice([1, 1, 2])), h, w, int(rng.integers(1, 40)),
                           int(rng.integers(1, 20)), kh, kw, int(rng.integers(1, 3)), int(rng.integers(1, 3)),
                           dh, dw, padding))
    return ops


def dw_fc_cases(seed):
    rng = np.random.default_rng(seed)
    ops = [
        dw_op(rng, "a", 1, 25, 5, 64, 3, 3, act="RELU"),  # KWS depthwise
        dw_op(rng, "b", 1, 6, 7, 21, 3, 3),  # channel tail > 16
        dw_op(rng, "c", 2, 5, 4, 5, 3, 3, sh=2, sw=2),  # channel tail < 8, batch 2
        dw_op(rng, "d", 1, 9, 9, 16, 5, 5, dh=2, dw=1),  # 5x5 dilated: mostly border pixels
        dw_op(rng, "e", 1, 7, 8, 24, 3, 2, sh=2, sw=1, padding="VALID"),  # all interior
        dw_op(rng, "f", 1, 2, 2, 9, 3, 3, sh=3, sw=3),  # 8 < channels < 16
        dw_op(rng, "g", 1, 5, 5, 4, 3, 3, dm=2),  # depth multiplier 2: portable fallback
        fc_op(rng, "h", 1, 64, 12),  # KWS classifier
        fc_op(rng, "i", 3, 37, 5, per_channel=True),  # depth tail, batches
        fc_op(rng, "j", 2, 8, 3),
        fc_op(rng, "k", 1, 20, 4, w_zp=3),  # asymmetric weights: portable fallback
        add_op(rng, "l", (1, 5, 5, 16), act="RELU"),  # ResNet residual
        add_op(rng, "m", (2, 3, 7)),  # size not a multiple of 4
        add_op(rng, "n", (1, 3, 4, 5), (1, 1, 1, 5)),  # broadcasting: portable fallback
    ]
    for i in range(4):
        kh, kw, dh = int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.choice([1, 2]))
        h, w = max(int(rng.integers(1, 9)), (kh - 1) * dh + 1), max(int(rng.integers(1, 9)), kw)
        ops.append(dw_op(rng, f"r{i}", 1, h, w, int(rng.integers(1, 50)), kh, kw, int(rng.integers(1, 3)),
                         int(rng.integers(1, 3)), dh, 1, str(rng.choice(["SAME", "VALID"]))))
    return ops


EXPECTED = {
    "gemm": ["ep_conv2d_1x1_s8_mve"] * 4 + ["ep_conv2d_im2col_s8_mve"] * 7 + ["ep_conv2d_1x1_s8_mve"],
    "dw_fc": ["ep_depthwise_conv2d_s8_mve"] * 6 + ["ep_depthwise_conv2d_s8"] + ["ep_fully_connected_s8_mve"] * 3
    + ["ep_fully_connected_s8", "ep_add_s8_mve", "ep_add_s8_mve", "ep_add_s8"],
}


@pytest.mark.parametrize("group", ["gemm", "dw_fc"])
def test_specializers_choose_mve_kernels(group):
    ops = gemm_cases(0) if group == "gemm" else dw_fc_cases(0)
    # The planner may reorder independent ops; compare in graph order.
    calls = sorted(lower_graph(_graph(ops, "t"), M55_ISA).calls, key=lambda c: c.op.index)
    funcs = [c.func for c in calls]
    assert funcs[:len(EXPECTED[group])] == EXPECTED[group]
    # Without "mve" (Cortex-M4/M7) nothing of this module applies.
    assert not any(c.func.endswith("_mve") for c in lower_graph(_graph(ops, "t"), {"dsp"}).calls)


@needs_qemu
@pytest.mark.parametrize("group,seed", [("gemm", 0), ("gemm", 1), ("dw_fc", 0), ("dw_fc", 1)])
def test_mve_kernels_bit_exact_on_cortex_m55(group, seed, tmp_path):
    from edgeprune.pipeline import build
    from edgeprune.targets import load_profile
    from edgeprune.verify import verify

    ops = gemm_cases(seed) if group == "gemm" else dw_fc_cases(seed)
    graph = _graph(ops, f"mve_{group}")
    model = tmp_path / "m.tflite"
    model.write_bytes(graph_to_bytes(graph))
    build(model, load_profile("cortex-m55"), tmp_path / "out")
    result = verify(tmp_path / "out", inputs=2, qemu=True)
    assert result["bit_exact"] is True, result


# ---------------------------------------------------------------- host checks of the build-time rewrites


def _rdbp(x, e):
    mask = (1 << e) - 1
    rem = x & mask
    thr = (mask >> 1) + (x < 0)
    return (x >> e) + (rem > thr)


def test_vrshl_fixup_is_rounding_divide_by_pot():
    """The MVE sequence: VAND with the (negative) shift, VSHR #31, VQADD, VRSHL == RoundingDivideByPOT."""
    rng = np.random.default_rng(0)
    xs = np.concatenate([rng.integers(-2**31, 2**31, size=4000), np.arange(-70, 70),
                         [-2**31, 2**31 - 1, -2**31 + 1]]).astype(np.int64)
    for e in range(0, 32):
        rsh = -e
        fix = np.where((xs < 0) & (rsh < 0), -1, 0)  # (x & rsh) >> 31: sign of x when rsh != 0
        fixed = np.maximum(xs + fix, -2**31)  # VQADD saturates
        vrshl = (fixed + ((1 << e) >> 1)) >> e if e else fixed  # VRSHL: rounding right shift, half up
        ref = np.array([_rdbp(int(x), e) for x in xs])
        np.testing.assert_array_equal(vrshl, ref, err_msg=f"shift {e}")


def test_packed_filter_layout():
    w = np.arange(6 * 20, dtype=np.int64).reshape(6, 20).astype(np.int8)
    packed = mve.pack_gemm_filter(w).reshape(2, 2, 4, 16)  # [oc/4][K/16][4][16]
    for oc in range(8):
        for k in range(32):
            expect = w[oc, k] if oc < 6 and k < 20 else 0
            assert packed[oc // 4, k // 16, oc % 4, k % 16] == expect


def test_rq_layouts():
    bias, mult, shift = np.arange(5) + 100, np.arange(5) + 200, np.array([3, -1, 0, -31, 2])
    rq = mve.gemm_rq(bias, mult, shift).reshape(2, 4, 4)
    np.testing.assert_array_equal(rq[0, :, 1], [101, 201, 0, -1])
    np.testing.assert_array_equal(rq[1, :, 0], [104, 204, 2, 0])
    np.testing.assert_array_equal(rq[1, :, 1], [0, 0, 0, 0])
    c = 19
    folded, raw = np.arange(c) + 1000, np.arange(c) + 2000
    rq = mve.depthwise_rq(folded, raw, np.arange(c) + 3000, np.zeros(c, dtype=np.int64)).reshape(4, 5, 8)
    for ch in range(c):
        g, lane = divmod(ch, 8)
        slot = lane // 2 + (4 if lane % 2 else 0)
        assert rq[g, 0, slot] == 1000 + ch and rq[g, 1, slot] == 3000 + ch and rq[g, 4, slot] == 2000 + ch

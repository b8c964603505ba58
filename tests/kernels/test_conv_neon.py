"""AArch64 NEON int8 kernels (csrc/kernels/*_neon.cc, *_sdot.cc) against LiteRT's reference kernels, under
qemu-aarch64: rpi4 (-cpu cortex-a72: SMLAL/SADALP GEMM, no SDOT) and rpi5 (-cpu cortex-a76: SDOT GEMM). The kernels
only build for AArch64, so there is no host binding.

The cases are the Helium sweep's (tests/kernels/test_conv_mve.py: 1x1 and im2col GEMMs over strides, dilations,
padding, K and channel tails, batches; depthwise borders and tails; ADD), plus the -128 weight fallbacks: the
SMLAL GEMM and the depthwise kernel sum two products in int16 and need weights in [-127, 127].
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edgeprune.backends.tflite_writer import graph_to_bytes
from edgeprune.lower import lower_graph
from edgeprune.lower.isa import neon

# The Helium sweep's case builders (tests run with --import-mode=importlib: load the sibling module by path).
_spec = importlib.util.spec_from_file_location("_mve_cases", Path(__file__).with_name("test_conv_mve.py"))
_mve = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mve)
_graph, add_op, conv_op, dw_op = _mve._graph, _mve.add_op, _mve.conv_op, _mve.dw_op
dw_fc_cases, gemm_cases = _mve.dw_fc_cases, _mve.gemm_cases

RPI4_ISA = frozenset({"neon", "crc"})
RPI5_ISA = frozenset({"neon", "crc", "dotprod", "fp16", "rcpc"})

needs_qemu = pytest.mark.skipif(shutil.which("qemu-aarch64") is None or shutil.which("aarch64-linux-gnu-g++") is None,
                                reason="qemu-aarch64 / aarch64-linux-gnu-g++ not installed")


def _clip_weights(ops):
    """Weights in [-127, 127] (TFLite's int8 weight range), so the int16 paths apply."""
    for op in ops:
        if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            op.inputs[1].data = np.maximum(op.inputs[1].data, -127).astype(np.int8)
    return ops


def cases(group, seed):
    if group == "gemm":
        rng = np.random.default_rng(200 + seed)
        # Pruned channel counts: rows of filter_w * in_c bytes read in place with K padded per row (past the
        # input's end: from a copy), out_c tails as an overlapping last tile.
        ops = gemm_cases(seed) + [
            conv_op(rng, "p1", 1, 8, 8, 10, 14, 3, 3, act="RELU"),
            conv_op(rng, "p2", 2, 5, 5, 10, 13, 3, 3, padding="VALID"),
            conv_op(rng, "p3", 1, 4, 5, 10, 9, 1, 1, padding="VALID"),
            conv_op(rng, "p4", 1, 7, 6, 14, 5, 3, 3, sh=2, sw=2),
            conv_op(rng, "p5", 1, 9, 9, 3, 10, 3, 3),
            conv_op(rng, "p6", 1, 6, 6, 20, 18, 3, 3, padding="VALID")]
        # in_c % 16 == 0 beyond 16 channels or strided (the SDOT planes, segments = 3): runs of whole blocks and a
        # remainder that crosses rows, batches, an out_c tail (no runs), stride_w 3 with dilation_h, a 5-group
        # channel count, a 5x5 border, and a border too wide for pad_planes' table (1x11, 512 channels, stride 2).
        # Last, a strided 1x1 read in place with 2 whole blocks per output row.
        rng = np.random.default_rng(300 + seed)
        ops += [conv_op(rng, "q1", 1, 5, 19, 32, 16, 3, 3, act="RELU"),
                conv_op(rng, "q2", 2, 9, 20, 16, 24, 3, 3, sh=2, sw=2),
                conv_op(rng, "q3", 1, 7, 21, 48, 12, 3, 3, sh=2, sw=2, padding="VALID"),
                conv_op(rng, "q4", 1, 8, 26, 32, 8, 2, 3, sw=3, dh=2),
                conv_op(rng, "q5", 1, 3, 9, 80, 16, 1, 3),
                conv_op(rng, "q6", 1, 5, 20, 32, 8, 5, 5, sh=1, sw=2),
                conv_op(rng, "q7", 1, 1, 12, 512, 8, 1, 11, sw=2),
                conv_op(rng, "q8", 1, 6, 34, 32, 16, 1, 1, sh=2, sw=2)]  # direct rows 64 bytes apart: row runs
        return _clip_weights(ops)
    ops = [op for op in dw_fc_cases(seed) if op.kind != "FULLY_CONNECTED"]
    rng = np.random.default_rng(100 + seed)
    # 3x3 with C >= 16 (the SDOT path on rpi5): strides, dilations, VALID, batches, a channel tail.
    ops += [dw_op(rng, "s1", 2, 9, 8, 33, 3, 3, sh=2, sw=2, act="RELU"),
            dw_op(rng, "s2", 1, 9, 9, 20, 3, 3, dh=2, dw=2),
            dw_op(rng, "s3", 1, 7, 6, 48, 3, 3, sh=1, sw=2, padding="VALID")]
    ops = _clip_weights(ops)
    ops.append(add_op(rng, "big", (1, 9, 7, 16)))  # 16-element steps and a tail
    return ops


def _with_minus_128(ops):
    for op in ops:
        w = op.inputs[1].data.copy()
        w.flat[0] = -128
        op.inputs[1].data = w
    return ops


def test_specializers_choose_neon_kernels():
    g = _graph(cases("gemm", 0), "t")
    rpi4 = {c.func for c in lower_graph(g, RPI4_ISA).calls}
    rpi5 = {c.func for c in lower_graph(_graph(cases("gemm", 0), "t"), RPI5_ISA).calls}
    assert rpi4 == {"ep_conv2d_s8_neon"} and rpi5 == {"ep_conv2d_s8_sdot"}
    funcs = [c.func for c in sorted(lower_graph(_graph(cases("dw_fc", 0), "t"), RPI4_ISA).calls,
                                    key=lambda c: c.op.index)]
    assert funcs.count("ep_depthwise_conv2d_s8_neon") == 13 and "ep_depthwise_conv2d_s8" in funcs  # dm 2
    assert funcs.count("ep_add_s8_neon") == 3 and "ep_add_s8" in funcs  # broadcasting stays portable
    # A -128 weight: SDOT still applies, the int16 pair sums do not.
    rng = np.random.default_rng(0)
    ops = _with_minus_128([conv_op(rng, "a", 1, 5, 5, 16, 8, 3, 3), dw_op(rng, "b", 1, 5, 5, 16, 3, 3)])
    assert [c.func for c in lower_graph(_graph(ops, "t"), RPI4_ISA).calls] == ["ep_conv2d_s8",
                                                                               "ep_depthwise_conv2d_s8"]
    assert lower_graph(_graph(ops, "t"), RPI5_ISA).calls[0].func == "ep_conv2d_s8_sdot"


def test_sdot_panel_layout():
    w = np.arange(10 * 20, dtype=np.int64).reshape(10, 20).astype(np.int8)
    assert neon.sdot_tiles(10) == [(0, 8), (6, 4)] and neon.sdot_tiles(14) == [(0, 8), (6, 8)]
    assert neon.sdot_tiles(3) == [(0, 4)] and neon.sdot_tiles(6) == [(0, 8)] and neon.sdot_tiles(16) == [(0, 8), (8, 8)]
    packed = neon.pack_sdot(w)
    wide = packed[:2 * 128].reshape(2, 4, 2, 4, 4)  # [K/16][group][half][4 oc][4 k]: channels [0, 8)
    narrow = packed[2 * 128:].reshape(2, 4, 4, 4)  # [K/16][group][4 oc][4 k]: channels [6, 10)
    assert packed.size == 2 * 128 + 2 * 64
    for k in range(32):
        for j in range(8):
            assert wide[k // 16, (k % 16) // 4, j // 4, j % 4, k % 4] == (w[j, k] if k < 20 else 0)
        for j in range(4):
            assert narrow[k // 16, (k % 16) // 4, j, k % 4] == (w[6 + j, k] if k < 20 else 0)
    packed = neon.pack_smlal(w).reshape(3, 2, 4, 16)  # tiles [0, 4), [4, 8), [6, 10)
    assert packed[2, 1, 3, 3] == w[9, 19] and packed[2, 1, 0, 3] == w[6, 19] and packed[2, 1, 3, 4] == 0
    rq = neon.sdot_rq(np.arange(10), np.arange(10) + 100, -np.ones(10, dtype=np.int64))
    assert rq.size == 5 * 8 + 7 * 4
    assert list(rq[:16]) == list(range(8)) * 2 and list(rq[16:24]) == list(range(100, 108))
    assert list(rq[40:56]) == list(range(6, 10)) * 4 and list(rq[56:60]) == list(range(106, 110))
    assert list(neon.gemm_rq(np.arange(10), np.arange(10), np.zeros(10), 4)[32:36]) == [6, 7, 8, 9]


def test_depthwise_scratch_covers_the_columns_the_kernel_interleaves():
    """The 3x3 SDOT depthwise path interleaves 64 bytes per column of the image it reads: with VALID padding and
    stride 2 it reads the input in place, all in_w columns, though the windows span fewer (here 5 of 6)."""
    p = {"in_h": 7, "in_w": 6, "in_c": 48, "filter_h": 3, "filter_w": 3, "out_h": 3, "out_w": 2, "stride_h": 1,
         "stride_w": 2, "dilation_h": 1, "dilation_w": 1, "pad_h": 0, "pad_w": 0}
    assert neon.depthwise_scratch_bytes(p) == 48 + 64 * 6  # 9 tap offsets (int32, rounded up to 16), 6 columns


def test_segments_pad_filter_rows():
    """Rows of filter_w * in_c bytes that are not a multiple of 16 are read in place, K padded per row."""
    rng = np.random.default_rng(0)
    calls = lower_graph(_graph(_clip_weights([conv_op(rng, "a", 1, 8, 8, 10, 14, 3, 3),
                                              conv_op(rng, "b", 1, 6, 6, 1, 8, 10, 4)]), "t"), RPI5_ISA).calls
    seg = calls[0]
    assert seg.params["segments"] == 1 and seg.params["k_padded"] == 3 * 32
    assert calls[1].params["segments"] == 0  # 4-byte rows: im2col (16-byte rows would triple K)
    assert seg.consts["filter"].size == 2 * 96 * 8


def test_planes_for_wide_or_strided_inputs():
    """The SDOT GEMM reads in_c % 16 == 0 inputs as planes when the in-place rows would not be contiguous (in_c > 16
    or stride_w > 1), with K unpadded and the scratch holding stride_w * in_c / 16 planes of the padded rows."""
    rng = np.random.default_rng(1)
    ops = _clip_weights([conv_op(rng, "a", 1, 9, 10, 32, 8, 3, 3),
                         conv_op(rng, "b", 1, 9, 10, 16, 8, 3, 3, sh=2, sw=2),
                         conv_op(rng, "c", 1, 9, 10, 16, 8, 3, 3),
                         conv_op(rng, "d", 1, 9, 10, 32, 8, 1, 1, sh=2, sw=2)])

    def by_shape(calls):  # (in_c, stride_w, filter_w) -> params
        return {(c.params["in_c"], c.params["stride_w"], c.params["filter_w"]): c.params for c in calls}

    sdot = by_shape(lower_graph(_graph(ops, "t"), RPI5_ISA).calls)
    a, b = sdot[(32, 1, 3)], sdot[(16, 2, 3)]
    assert a["segments"] == 3 and b["segments"] == 3
    assert sdot[(16, 1, 3)]["segments"] == 1  # 16 channels at stride 1: contiguous in place already
    assert sdot[(32, 2, 1)]["direct"] == 1
    assert a["k_padded"] == 9 * 32 and b["k_padded"] == 9 * 16
    # padded 11 x 12 (SAME): 2 planes of 12 columns; stride 2 (out 5 x 5): padded 11 x 11, 2 x 2 planes of 6 columns
    assert neon.planes_bytes(a) == 11 * 12 * 32 and neon.planes_bytes(b) == 11 * 6 * 2 * 16
    assert neon.gemm_scratch_bytes(a) == neon.planes_bytes(a) + 4 * 18 + 8  # the step offsets, 16-byte aligned
    smlal = lower_graph(_graph(ops, "t"), RPI4_ISA).calls
    assert all(c.params["segments"] != 3 for c in smlal)


@needs_qemu
@pytest.mark.parametrize("target,group", [("rpi4", "gemm"), ("rpi4", "dw_fc"), ("rpi5", "gemm"), ("rpi5", "dw_fc")])
def test_neon_kernels_bit_exact(target, group, tmp_path):
    from edgeprune.pipeline import build
    from edgeprune.targets import load_profile
    from edgeprune.verify import verify

    ops = cases(group, 1)
    if target == "rpi5":  # SDOT takes -128 weights too
        ops = _with_minus_128(ops[:6]) + ops[6:]
    model = tmp_path / "m.tflite"
    model.write_bytes(graph_to_bytes(_graph(ops, f"neon_{group}")))
    build(model, load_profile(target), tmp_path / "out")
    result = verify(tmp_path / "out", inputs=2, qemu=True)
    assert result["bit_exact"] is True, result
    kernels = {layer["kernel"] for layer in result["layers"]}
    assert kernels & {"ep_conv2d_s8_neon", "ep_conv2d_s8_sdot", "ep_depthwise_conv2d_s8_neon"}, kernels


@needs_qemu
def test_rpi4_build_has_no_sdot_and_cortex_a72_traps_it(tmp_path):
    """The rpi4 runtime has no SDOT in its code, and qemu -cpu cortex-a72 would catch one: the rpi5 binary of a
    conv model dies there with SIGILL."""
    from edgeprune.benchmark import bench_input, build_binary
    from edgeprune.pipeline import build, load_model
    from edgeprune.targets import load_profile, qemu

    rng = np.random.default_rng(0)
    model = tmp_path / "m.tflite"
    model.write_bytes(graph_to_bytes(_graph(_clip_weights([conv_op(rng, "a", 1, 6, 6, 16, 16, 3, 3)]), "conv")))
    elves = {}
    for target in ("rpi4", "rpi5"):
        out = tmp_path / target
        build(model, load_profile(target), out)
        (tmp_path / f"bin_{target}").mkdir()
        elves[target] = build_binary(out, load_profile(target), tmp_path / f"bin_{target}" / "ep_bench",
                                     bench_input(load_model(model)))
        dis = subprocess.run(["aarch64-linux-gnu-objdump", "-d", str(elves[target])], capture_output=True, text=True,
                             check=True).stdout
        assert ("\tsdot\t" in dis) == (target == "rpi5"), target
    rpi4 = load_profile("rpi4")
    ok = subprocess.run([*qemu.qemu_command(rpi4, elves["rpi4"]), "1", "0"], capture_output=True, check=False)
    assert ok.returncode == 0, ok.stderr
    trapped = subprocess.run([*qemu.qemu_command(rpi4, elves["rpi5"]), "1", "0"], capture_output=True, check=False)
    assert trapped.returncode == -4, (trapped.returncode, trapped.stderr)  # SIGILL


def few_channel_dw_ops(seed):
    """Depthwise layers with fewer than 16 channels and stride_w 1 (MobileNet-0.25's first block has 8): the NEON
    kernel runs 16 consecutive (pixel, channel) bytes of a row as one block, with per-phase weights; rows shorter
    than 16 bytes and stride_w 2 keep the per-pixel path."""
    rng = np.random.default_rng(400 + seed)
    return _clip_weights([
        dw_op(rng, "t1", 1, 12, 10, 8, 3, 3, act="RELU"),  # one phase, SAME borders
        dw_op(rng, "t2", 2, 7, 9, 3, 3, 3, dh=2, dw=2),  # 3 phases, dilation, batch 2
        dw_op(rng, "t3", 1, 9, 6, 15, 5, 5, sh=2, sw=1, act="RELU6"),  # 15 phases, 5x5, an overlapping last block
        dw_op(rng, "t4", 1, 6, 5, 6, 3, 1, padding="VALID"),  # 3x1: the generic tap loop
        dw_op(rng, "t5", 1, 3, 3, 1, 3, 3, padding="VALID"),  # one output byte a row: per pixel
        dw_op(rng, "t6", 1, 8, 8, 5, 3, 3, sh=2, sw=2),  # stride_w 2: per pixel
        dw_op(rng, "t7", 1, 4, 2, 12, 3, 3)])  # exactly 24 bytes a row: two blocks, the second overlapping


def transpose_op(rng, tag, shape, perm):
    """TRANSPOSE int8 (NCHW -> NHWC as PyTorch exports put in front of a model)."""
    from edgeprune.ir import Op
    from edgeprune.testing.single_op import qparams, tensor

    q = qparams(0.05, int(rng.integers(-20, 20)))
    p = tensor(f"perm{tag}", (len(perm),), "int32", data=np.array(perm, dtype=np.int32))
    return Op(kind="TRANSPOSE", inputs=[tensor(f"x{tag}", shape, "int8", q), p],
              outputs=[tensor(f"y{tag}", tuple(shape[i] for i in perm), "int8", q)], attrs={})


@needs_qemu
@pytest.mark.parametrize("target", ["rpi4", "rpi5", "rpi4-armv7"])
def test_neon_few_channels_transpose_fc_bit_exact(target, tmp_path):
    from edgeprune.pipeline import build
    from edgeprune.targets import load_profile
    from edgeprune.verify import verify

    if target == "rpi4-armv7" and (shutil.which("qemu-arm") is None or shutil.which("arm-linux-gnueabihf-g++") is None):
        pytest.skip("qemu-arm / arm-linux-gnueabihf-g++ not installed")
    ops = few_channel_dw_ops(0)
    rng = np.random.default_rng(9)
    # The NCHW -> NHWC input transposes of PyTorch exports: ST2/ST3/ST4 plane interleaves with tails, and a strided
    # walk where the contiguous input dim is not the output's next one.
    transposes = [transpose_op(rng, "u1", (1, 3, 20, 17), (0, 2, 3, 1)),
                  transpose_op(rng, "u2", (2, 4, 5, 33), (0, 2, 3, 1)),
                  transpose_op(rng, "u3", (1, 2, 3, 40), (0, 2, 3, 1)),
                  transpose_op(rng, "u4", (1, 2, 7, 40), (0, 3, 2, 1))]
    # FULLY_CONNECTED, four units a step of 16 (SDOT / SMULL + SADALP): unit and depth tails, batches, asymmetric
    # weights, -128 weights (no int16 pair sums), an autoencoder-sized layer.
    fcs = [_mve.fc_op(rng, "v1", 1, 640, 128, per_channel=True), _mve.fc_op(rng, "v2", 3, 37, 6),
           _mve.fc_op(rng, "v3", 2, 48, 7, w_zp=3), _mve.fc_op(rng, "v4", 1, 15, 5)]
    for op in fcs[:2]:
        op.inputs[1].data = op.inputs[1].data.copy()
        op.inputs[1].data[::3, ::5] = -128
    model = tmp_path / "m.tflite"
    model.write_bytes(graph_to_bytes(_graph(ops + transposes + fcs, "dw_few")))
    build(model, load_profile(target), tmp_path / "out")
    result = verify(tmp_path / "out", inputs=2, qemu=True)
    assert result["bit_exact"] is True, result
    layers = result["layers"]
    kernels = {layer["name"]: (layer["kernel"], layer["instructions"]) for layer in layers}
    assert sorted(k for k, _ in kernels.values()) == (["ep_depthwise_conv2d_s8_neon"] * len(ops)
                                                      + ["ep_fully_connected_s8"] * len(fcs)
                                                      + ["ep_transpose_s8"] * len(transposes))
    # 12 x 10 x 8 outputs of 9 MACs: under 2 instructions a MAC with the padding and the phase table included (the
    # per-channel scalar loop the 16-lane blocks replace takes about 14).
    assert kernels[ops[0].outputs[0].name][1] < 2 * 12 * 10 * 8 * 9


def avg_pool_op(rng, tag, n, h, w, c, fh, fw, sh=1, sw=1, padding="VALID", act="NONE"):
    from edgeprune.ir import Op
    from edgeprune.lower.quant import compute_padding
    from edgeprune.testing.single_op import qparams, tensor

    oh, _ = compute_padding(h, fh, sh, 1, padding)
    ow, _ = compute_padding(w, fw, sw, 1, padding)
    q = qparams(float(rng.uniform(0.005, 0.2)), int(rng.integers(-128, 128)))
    attrs = {"padding": padding, "stride_w": sw, "stride_h": sh, "filter_width": fw, "filter_height": fh,
             "fused_activation": act}
    return Op(kind="AVERAGE_POOL_2D", inputs=[tensor(f"x{tag}", (n, h, w, c), "int8", q)],
              outputs=[tensor(f"y{tag}", (n, oh, ow, c), "int8", q)], attrs=attrs)


@needs_qemu
@pytest.mark.parametrize("target", ["rpi4", "rpi5"])
def test_neon_avg_pool_bit_exact(target, tmp_path):
    """ep_avg_pool_s8_neon: 16-channel blocks and a scalar channel tail, borders (SAME: smaller windows), strides,
    batches, the activations, and windows of more than 256 pixels (int32 sums instead of int16)."""
    from edgeprune.pipeline import build
    from edgeprune.targets import load_profile
    from edgeprune.verify import verify

    rng = np.random.default_rng(7)
    ops = [avg_pool_op(rng, "a", 1, 8, 8, 64, 8, 8),  # global pool, 4 blocks (ResNet-8 / KWS shape class)
           avg_pool_op(rng, "b", 2, 7, 9, 20, 3, 2, sh=2, sw=1, padding="SAME", act="RELU"),  # block + tail
           avg_pool_op(rng, "c", 1, 5, 6, 5, 2, 3, sh=1, sw=3, padding="SAME", act="RELU6"),  # channels < 16
           avg_pool_op(rng, "d", 1, 18, 17, 32, 18, 17),  # 306 pixels per window: int32 sums
           avg_pool_op(rng, "e", 1, 20, 20, 17, 17, 16, sh=3, sw=4, padding="SAME", act="RELU_N1_TO_1")]
    model = tmp_path / "m.tflite"
    model.write_bytes(graph_to_bytes(_graph(ops, "neon_avg_pool")))
    build(model, load_profile(target), tmp_path / "out")
    result = verify(tmp_path / "out", inputs=3, qemu=True)
    assert result["bit_exact"] is True, result
    assert [layer["kernel"] for layer in result["layers"]] == ["ep_avg_pool_s8_neon"] * len(ops)


def test_columns_for_small_in_c():
    """A small filter_h * in_c (an RGB stem): the GEMM reads its rows from "columns" (segments = 2), K = filter_h *
    filter_w * in_c rounded up to 16 once, in (fx, fy, c) order; wider inputs keep segments / im2col rows."""
    rng = np.random.default_rng(0)
    ops = _clip_weights([conv_op(rng, "a", 1, 8, 8, 3, 16, 3, 3), conv_op(rng, "b", 1, 8, 8, 16, 8, 3, 3),
                         conv_op(rng, "c", 1, 8, 8, 4, 8, 4, 3), conv_op(rng, "d", 1, 8, 8, 3, 8, 5, 5)])
    for isa in (RPI4_ISA, RPI5_ISA):
        calls = sorted(lower_graph(_graph(ops, "t"), isa).calls, key=lambda c: c.op.index)
        assert [c.params["segments"] for c in calls[:3]] == [2, 1, 2], isa
        assert calls[3].params["segments"] != 2  # filter_h 5: no TBL chunk
        assert calls[0].params["k_padded"] == 32 and calls[2].params["k_padded"] == 48
    w = ops[0].inputs[1].data  # [oc, fy, fx, c]
    packed = neon.pack_smlal(w.transpose(0, 2, 1, 3).reshape(16, 27))
    assert np.array_equal(lower_graph(_graph(ops[:1], "t"), RPI4_ISA).calls[0].consts["filter"], packed)
    assert packed.reshape(4, 2, 4, 16)[0, 0, 1, 3] == w[1, 1, 0, 0]  # k = 3: fx 0, fy 1, c 0


def _pow2_conv(rng, tag, n, h, w, c, oc, kh, kw, act, out_zp, sh=1, sw=1, padding="SAME"):
    """A conv whose effective scale is 2^-7 (input 1/16, weights 1/32, output 1/4): multiplier 2^30, shift -6, so
    one accumulator in 64 lies exactly halfway between two outputs, negative ones included (the rounding fixup's
    case)."""
    from edgeprune.ir import Op
    from edgeprune.testing.single_op import qparams, tensor

    oh, ow = _mve._out(h, kh, sh, 1, padding), _mve._out(w, kw, sw, 1, padding)
    x = tensor(f"x{tag}", (n, h, w, c), "int8", qparams(0.0625, int(rng.integers(-20, 20))))
    y = tensor(f"y{tag}", (n, oh, ow, oc), "int8", qparams(0.25, out_zp))
    wq = qparams(np.array([1 / 32], dtype=np.float32), np.zeros(1, dtype=np.int64), axis=0)
    wt = tensor(f"w{tag}", (oc, kh, kw, c), "int8", wq, data=rng.integers(-127, 128, size=(oc, kh, kw, c)))
    bias = _mve._bias(rng, f"b{tag}", oc, 0.0625, wq)
    attrs = {"padding": padding, "stride_h": sh, "stride_w": sw, "dilation_h_factor": 1, "dilation_w_factor": 1,
             "fused_activation": act}
    return Op(kind="CONV_2D", inputs=[x, wt, bias], outputs=[y], attrs=attrs)


def _pow2_add(tag, shape, act, out_zp):
    """ADD with scales 1/4, 1/8 and output 1/2: the output rescale is 2^-20 (multiplier 2^30, shift -19), exact
    halves included."""
    from edgeprune.ir import Op
    from edgeprune.testing.single_op import qparams, tensor

    a = tensor(f"a{tag}", shape, "int8", qparams(0.25, 3))
    b = tensor(f"c{tag}", shape, "int8", qparams(0.125, -9))
    y = tensor(f"y{tag}", shape, "int8", qparams(0.5, out_zp))
    return Op(kind="ADD", inputs=[a, b], outputs=[y], attrs={"fused_activation": act})


@needs_qemu
@pytest.mark.parametrize("target", ["rpi4", "rpi5"])
def test_neon_stems_and_output_stages_bit_exact(target, tmp_path):
    """Columns (small in_c: 1-5 channels, filter_h 2-4, padding, strides, dilation_h, batches, channel tails), the
    SMLAL tile's step modes (SLIDE3 over 16 channels, SLIDE3_S2 at stride 2, PAIRS over 32 / 64 channels and 1x1
    stride 2) and the output stages of conv_neon.h (EPI_RELU_U8: ReLU with zero point -128; EPI_RELU: ReLU / ReLU6
    with other zero points; EPI_FULL; EPI_CLAMP) on accumulators with exact negative halves, and the same stages in
    ADD."""
    from edgeprune.pipeline import build
    from edgeprune.targets import load_profile
    from edgeprune.verify import verify

    rng = np.random.default_rng(11)
    ops = _clip_weights([
        conv_op(rng, "c1", 2, 9, 11, 3, 16, 3, 3, act="RELU"),
        conv_op(rng, "c2", 1, 10, 17, 3, 8, 3, 3, sh=2, sw=2),
        conv_op(rng, "c3", 1, 8, 8, 1, 6, 3, 3, padding="VALID"),
        conv_op(rng, "c4", 1, 9, 9, 4, 12, 4, 3),
        conv_op(rng, "c5", 1, 9, 13, 5, 7, 3, 2, dh=2),
        conv_op(rng, "c6", 1, 6, 7, 2, 5, 2, 3, sw=3)])
    ops += [_pow2_conv(rng, "r1", 1, 8, 12, 16, 16, 3, 3, "RELU", -128),  # SLIDE3, U8
            _pow2_conv(rng, "r2", 1, 9, 16, 16, 12, 3, 3, "RELU", -7, sh=2, sw=2),  # SLIDE3_S2, RELU
            _pow2_conv(rng, "r3", 1, 6, 9, 32, 8, 3, 3, "RELU6", -128),  # PAIRS (segments), RELU
            _pow2_conv(rng, "r4", 2, 8, 10, 32, 10, 1, 1, "NONE", 3, sh=2, sw=2, padding="VALID"),  # direct, FULL
            _pow2_conv(rng, "r5", 1, 12, 12, 3, 16, 3, 3, "RELU", -128),  # columns, U8
            _pow2_conv(rng, "r6", 1, 5, 6, 64, 8, 3, 3, "RELU_N1_TO_1", 0),  # PAIRS, CLAMP
            _pow2_conv(rng, "r7", 1, 7, 7, 16, 4, 3, 3, "RELU", 40)]  # out_c 4, RELU
    ops += [_pow2_add("a1", (1, 9, 7, 16), "RELU", -128), _pow2_add("a2", (1, 5, 5, 16), "RELU", 4),
            _pow2_add("a3", (1, 3, 3, 16), "NONE", -2), _pow2_add("a4", (1, 3, 7, 5), "RELU6", -128)]
    model = tmp_path / "m.tflite"
    model.write_bytes(graph_to_bytes(_graph(ops, "neon_stages")))
    build(model, load_profile(target), tmp_path / "out")
    result = verify(tmp_path / "out", inputs=3, qemu=True)
    assert result["bit_exact"] is True, result
    conv = "ep_conv2d_s8_neon" if target == "rpi4" else "ep_conv2d_s8_sdot"
    assert sorted(layer["kernel"] for layer in result["layers"]) == ["ep_add_s8_neon"] * 4 + [conv] * 13

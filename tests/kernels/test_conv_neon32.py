"""AArch32 NEON int8 kernels against LiteRT's reference kernels under qemu-arm -cpu cortex-a15 (armv7-a +
NEON/VFPv4, target rpi4-armv7): csrc/kernels/conv2d_s8_neon32.cc, and the AArch64 intrinsic kernels for
DEPTHWISE_CONV_2D, ADD, AVERAGE_POOL_2D and the FULLY_CONNECTED dot loop built for AArch32. They only build for
AArch32 NEON, so there is no host binding.

The cases are the AArch64 NEON sweep's (tests/kernels/test_conv_neon.py, built on the Helium sweep: 1x1 and im2col
GEMMs over strides, dilations, SAME/VALID padding, K and channel tails, batches, per-tensor and per-channel weights,
every activation, multipliers > 1; depthwise borders, strides, dilations and channel tails; FC depth tails, batches,
per-channel weights; ADD sizes; average pool windows), plus the -128 weight fallback (the int16 pair sums need
weights in [-127, 127]) and a check that the armv7 lowering picks the new kernels.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgeprune.backends.tflite_writer import graph_to_bytes
from edgeprune.lower import lower_graph
from edgeprune.testing.single_op import qparams

# The AArch64 NEON sweep's case builders (tests run with --import-mode=importlib: load the sibling module by path).
_spec = importlib.util.spec_from_file_location("_neon_cases", Path(__file__).with_name("test_conv_neon.py"))
_neon = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_neon)
_graph, conv_op, dw_op, cases = _neon._graph, _neon.conv_op, _neon.dw_op, _neon.cases
_clip_weights, _with_minus_128 = _neon._clip_weights, _neon._with_minus_128
add_op, avg_pool_op, fc_op, dw_fc_cases = _neon.add_op, _neon.avg_pool_op, _neon._mve.fc_op, _neon._mve.dw_fc_cases

ARMV7_ISA = frozenset({"armv7-neon", "vfpv4"})

needs_qemu = pytest.mark.skipif(shutil.which("qemu-arm") is None or shutil.which("arm-linux-gnueabihf-g++") is None,
                                reason="qemu-arm / arm-linux-gnueabihf-g++ not installed")


def test_armv7_profile_isa_selects_neon32():
    from edgeprune.targets import load_profile

    assert set(load_profile("rpi4-armv7").isa) >= {"armv7-neon"}
    assert "neon" not in set(load_profile("rpi4-armv7").isa)  # no AArch64 specializer applies


def test_specializers_choose_neon32_kernels():
    funcs = {c.func for c in lower_graph(_graph(cases("gemm", 0), "t"), ARMV7_ISA).calls}
    assert funcs == {"ep_conv2d_s8_neon32"}
    # A -128 weight: the int16 pair sums do not apply, the layer stays portable.
    rng = np.random.default_rng(0)
    ops = _with_minus_128([conv_op(rng, "a", 1, 5, 5, 16, 8, 3, 3)]) + _clip_weights([conv_op(rng, "b", 1, 5, 5, 16,
                                                                                             8, 1, 1)])
    assert [c.func for c in lower_graph(_graph(ops, "t"), ARMV7_ISA).calls] == ["ep_conv2d_s8", "ep_conv2d_s8_neon32"]
    funcs = [c.func for c in sorted(lower_graph(_graph(dw_cases(0), "t"), ARMV7_ISA).calls, key=lambda c: c.op.index)]
    assert funcs.count("ep_depthwise_conv2d_s8_neon") == 15 and funcs.count("ep_depthwise_conv2d_s8") == 1  # dm 2
    assert funcs.count("ep_add_s8_neon") == 3 and "ep_add_s8" in funcs  # broadcasting stays portable
    assert funcs.count("ep_fully_connected_s8") == 5  # the portable kernel, with its AArch32 NEON dot loop
    pool = [avg_pool_op(rng, "p", 1, 8, 8, 64, 8, 8)]
    assert [c.func for c in lower_graph(_graph(pool, "t"), ARMV7_ISA).calls] == ["ep_avg_pool_s8_neon"]
    # Nothing AArch64-only applies to armv7 (no "neon" feature), and nothing of neon32 to AArch64.
    assert not {c.func for c in lower_graph(_graph(cases("gemm", 0), "t"), {"neon"}).calls} & {"ep_conv2d_s8_neon32"}


def dw_cases(seed):
    """The Helium / AArch64 depthwise-FC-ADD sweep with weights in [-127, 127], 3x3 C >= 16 strides, dilations and
    VALID, a longer FC (wrapping dot loop tails), a 16-element ADD with a tail."""
    ops = _clip_weights(dw_fc_cases(seed))
    rng = np.random.default_rng(100 + seed)
    ops += _clip_weights([dw_op(rng, "s1", 2, 9, 8, 33, 3, 3, sh=2, sw=2, act="RELU"),
                          dw_op(rng, "s2", 1, 9, 9, 20, 3, 3, dh=2, dw=2),
                          dw_op(rng, "s3", 1, 7, 6, 48, 3, 3, sh=1, sw=2, padding="VALID")])
    ops += [fc_op(rng, "f1", 2, 301, 7, per_channel=True, act="NONE"), add_op(rng, "big", (1, 9, 7, 16))]
    # 3x3, C >= 16 (the AArch32 asm block) in each requantization variant: some channel shifting left (effective
    # multipliers up to 4), the largest multiplier in [0.5, 1) (a zero shift: the masked rounding fixup), and
    # (usually, from the random scales) every shift negative.
    for tag, ratio in (("v1", 4.0), ("v2", 0.8)):
        op = dw_op(rng, tag, 1, 6, 7, 32, 3, 3, act="NONE")
        s_in, s_w = float(op.inputs[0].quant.scale[0]), float(np.max(op.inputs[1].quant.scale))
        op.outputs[0].quant = qparams(s_in * s_w / ratio, int(op.outputs[0].quant.zero_point[0]))
        ops += _clip_weights([op])
    return ops


def _build_and_verify(ops, name, tmp_path, inputs=2):
    from edgeprune.pipeline import build
    from edgeprune.targets import load_profile
    from edgeprune.verify import verify

    model = tmp_path / "m.tflite"
    model.write_bytes(graph_to_bytes(_graph(ops, name)))
    build(model, load_profile("rpi4-armv7"), tmp_path / "out")
    return verify(tmp_path / "out", inputs=inputs, qemu=True)


@needs_qemu
@pytest.mark.parametrize("seed", [1, 2])
def test_neon32_conv_bit_exact(seed, tmp_path):
    ops = cases("gemm", seed)
    rng = np.random.default_rng(300 + seed)
    # Small out_c (one zero-padded tile), odd pixel counts, a -128 weight (stays portable) next to NEON layers.
    ops += _clip_weights([conv_op(rng, "q1", 1, 5, 3, 16, 3, 1, 1, padding="VALID"),
                          conv_op(rng, "q2", 3, 3, 5, 7, 6, 3, 2, sh=2, sw=1, act="RELU6"),
                          conv_op(rng, "q3", 1, 6, 6, 32, 17, 1, 1, sh=2, sw=2, padding="VALID"),
                          conv_op(rng, "q4", 2, 9, 9, 3, 8, 5, 5, dh=2, dw=2, per_channel=True)])
    ops += _with_minus_128([conv_op(rng, "q5", 1, 4, 4, 8, 4, 3, 3)])
    result = _build_and_verify(ops, f"neon32_gemm_{seed}", tmp_path)
    assert result["bit_exact"] is True, result
    kernels = [layer["kernel"] for layer in result["layers"]]
    assert kernels.count("ep_conv2d_s8_neon32") == len(ops) - 1 and kernels.count("ep_conv2d_s8") == 1, kernels


@needs_qemu
@pytest.mark.parametrize("seed", [1, 2])
def test_neon32_depthwise_fc_add_bit_exact(seed, tmp_path):
    ops = dw_cases(seed)
    result = _build_and_verify(ops, f"neon32_dw_{seed}", tmp_path)
    assert result["bit_exact"] is True, result
    kernels = [layer["kernel"] for layer in result["layers"]]
    assert kernels.count("ep_depthwise_conv2d_s8_neon") == 15 and kernels.count("ep_add_s8_neon") == 3, kernels


@needs_qemu
def test_neon32_avg_pool_bit_exact(tmp_path):
    """ep_avg_pool_s8_neon on AArch32: 16-channel blocks and a tail, SAME borders, strides, batches, activations,
    windows of more than 256 pixels."""
    rng = np.random.default_rng(7)
    ops = [avg_pool_op(rng, "a", 1, 8, 8, 64, 8, 8),
           avg_pool_op(rng, "b", 2, 7, 9, 20, 3, 2, sh=2, sw=1, padding="SAME", act="RELU"),
           avg_pool_op(rng, "c", 1, 5, 6, 5, 2, 3, sh=1, sw=3, padding="SAME", act="RELU6"),
           avg_pool_op(rng, "d", 1, 18, 17, 32, 18, 17),
           avg_pool_op(rng, "e", 1, 20, 20, 17, 17, 16, sh=3, sw=4, padding="SAME", act="RELU_N1_TO_1")]
    result = _build_and_verify(ops, "neon32_avg_pool", tmp_path, inputs=3)
    assert result["bit_exact"] is True, result
    assert [layer["kernel"] for layer in result["layers"]] == ["ep_avg_pool_s8_neon"] * len(ops)

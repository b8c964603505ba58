"""Armv7E-M DSP conv kernels (edgeprune/lower/isa/dsp.py, csrc/kernels/*_s8_dsp.cc) are bit-exact.

Host: each seeded single-op case is lowered for a DSP target, the expected kernel (or the portable fallback)
is checked, and the program runs through the pybind module, where the DSP intrinsics are emulated in plain C,
against LiteRT BUILTIN_REF. QEMU: several layers per model (one firmware build covers many paths) on the real
Cortex-M4 and Cortex-M7, every output compared with LiteRT. Also: the exact fast requantization against
arith.h's multiply_by_quantized_multiplier, through a tiny conv whose accumulators hit the edge cases.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgeprune.backends.tflite_writer import graph_to_bytes
from edgeprune.lower import lower_graph
from edgeprune.lower.isa.dsp import gemm_weights
from edgeprune.runtime.host import run_program
from edgeprune.testing.gemm_layers import layers_graph as _graph
from edgeprune.testing.gemm_layers import qemu_available as _qemu_available
from edgeprune.testing.gemm_layers import random_layer as _layer
from edgeprune.testing.reference import litert_run

DSP = frozenset({"dsp"})


@pytest.fixture(autouse=True)
def _dense_only(monkeypatch):
    """These tests are about the dense kernels: the block-sparse ones (test_sparse_dsp.py) would take layers
    whose K padding leaves whole zero blocks."""
    from edgeprune.lower.isa import dsp_sparse

    monkeypatch.setattr(dsp_sparse, "MODE", "dense")


def _conv_cfg(rng, path):
    cfg = {"n": int(rng.choice([1, 1, 2])), "h": int(rng.integers(1, 10)), "w": int(rng.integers(1, 10)),
           "c": int(rng.integers(1, 10)), "oc": int(rng.integers(1, 10)),
           "kh": int(rng.integers(1, 5)), "kw": int(rng.integers(1, 5)),
           "sh": int(rng.integers(1, 4)), "sw": int(rng.integers(1, 4)),
           "dh": int(rng.choice([1, 1, 2])), "dw": int(rng.choice([1, 1, 2])),
           "pad": str(rng.choice(["SAME", "VALID"])), "per_channel": bool(rng.integers(0, 2)),
           "bias": bool(rng.random() < 0.85)}
    if path == "1x1":
        cfg.update(kh=1, kw=1, c=4 * int(rng.integers(1, 5)))
    elif path == "c4":  # fast im2col (in_c % 4 == 0)
        cfg.update(c=4 * int(rng.integers(1, 4)))
    return cfg


def _dw_cfg(rng, path):
    cfg = {"n": int(rng.choice([1, 1, 2])), "h": int(rng.integers(1, 10)), "w": int(rng.integers(1, 10)),
           "c": 4 * int(rng.integers(1, 4)), "dm": 1,
           "kh": int(rng.integers(1, 5)), "kw": int(rng.integers(1, 5)),
           "sh": int(rng.integers(1, 4)), "sw": int(rng.integers(1, 4)),
           "dh": int(rng.choice([1, 1, 2])), "dw": int(rng.choice([1, 1, 2])),
           "pad": str(rng.choice(["SAME", "VALID"])), "per_channel": bool(rng.integers(0, 2)),
           "bias": bool(rng.random() < 0.85)}
    if path == "3x3":
        cfg.update(kh=3, kw=3, dh=1, dw=1, sw=int(rng.choice([1, 2, 3])), sh=int(rng.choice([1, 2])),
                   h=int(rng.integers(3, 12)), w=int(rng.integers(3, 12)))
    elif path == "fallback":  # depth multiplier > 1 or in_c % 4 != 0: the portable kernel
        if rng.random() < 0.5:
            cfg["dm"] = 2
        else:
            cfg["c"] = int(rng.choice([1, 3, 5, 6]))
    return cfg


def _fc_cfg(rng, path):
    cfg = {"batches": int(rng.choice([1, 1, 2, 3])), "depth": int(rng.integers(1, 70)),
           "units": int(rng.integers(1, 20)), "per_channel": bool(rng.integers(0, 2)),
           "bias": bool(rng.random() < 0.85)}
    if path == "fallback":  # per-tensor weights with a zero point: the portable kernel
        cfg.update(per_channel=False, w_zp=int(rng.choice([-3, 2, 7])))
    return cfg


def _expected(kind, path, cfg):
    if kind == "CONV_2D":
        one = cfg["kh"] == 1 and cfg["kw"] == 1 and cfg["c"] % 4 == 0
        return "ep_conv2d_1x1_s8_dsp" if one else "ep_conv2d_s8_dsp"
    if kind == "DEPTHWISE_CONV_2D":
        if cfg["dm"] != 1 or cfg["c"] % 4:
            return "ep_depthwise_conv2d_s8"
        three = cfg["kh"] == 3 and cfg["kw"] == 3 and cfg["dh"] == 1 and cfg["dw"] == 1
        return "ep_depthwise_conv2d_3x3_s8_dsp" if three else "ep_depthwise_conv2d_s8_dsp"
    return "ep_fully_connected_s8" if path == "fallback" else "ep_fully_connected_s8_dsp"


PATHS = [("CONV_2D", "any", 30), ("CONV_2D", "c4", 20), ("CONV_2D", "1x1", 20),
         ("DEPTHWISE_CONV_2D", "any", 25), ("DEPTHWISE_CONV_2D", "3x3", 25), ("DEPTHWISE_CONV_2D", "fallback", 6),
         ("FULLY_CONNECTED", "any", 25), ("FULLY_CONNECTED", "fallback", 5)]
CFG = {"CONV_2D": _conv_cfg, "DEPTHWISE_CONV_2D": _dw_cfg, "FULLY_CONNECTED": _fc_cfg}
HOST_CASES = [(kind, path, i) for kind, path, count in PATHS for i in range(count)]


def _seed(kind, path, i):
    return [["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"].index(kind),
            ["any", "c4", "1x1", "3x3", "fallback"].index(path), i]


@pytest.mark.parametrize("kind,path,seed", HOST_CASES)
def test_host_sweep(kind, path, seed):
    rng = np.random.default_rng(_seed(kind, path, seed))
    cfg = CFG[kind](rng, path)
    layer = _layer(rng, kind, cfg)
    graph = _graph([layer])
    program = lower_graph(graph, DSP)
    assert [c.func for c in program.calls] == [_expected(kind, path, cfg)]
    ours = run_program(program, [layer[3]])
    ref = litert_run(graph_to_bytes(graph), [layer[3]])
    np.testing.assert_array_equal(ours[0].reshape(ref[0].shape), ref[0])


def test_gemm_weight_layout():
    """Row pairs, groups of 4 along K in the SXTAB16 order k0, k2, k1, k3, zero padding."""
    w = np.arange(3 * 5, dtype=np.int8).reshape(3, 5)
    out, k_pad = gemm_weights(w)
    assert k_pad == 8 and out.dtype == np.int16 and out.size == 4 * 8
    assert out[:8].tolist() == [0, 2, 1, 3, 5, 7, 6, 8]  # group 0 of rows 0 and 1
    assert out[8:16].tolist() == [4, 0, 0, 0, 9, 0, 0, 0]  # group 1 of rows 0 and 1
    assert out[16:24].tolist() == [10, 12, 11, 13, 0, 0, 0, 0]  # group 0 of row 2 and the padding row


# Effective scales (input * weight / output) that give every kind of shift: left shifts (>= 0.5),
# e = 1 ([0.25, 0.5)), e = 2, deep right shifts.
EFFECTIVE_SCALES = [40.0, 1.5, 0.75, 0.5, 0.3, 0.26, 0.2, 1e-3, 1e-7]


def _scaled_layer(rng, kind, cfg, scales, tag=""):
    """A layer whose per-channel effective scales cycle through `scales`, with large biases."""
    layer = _layer(rng, kind, cfg, tag)
    op, x, y, data = layer
    x.quant.scale[:] = np.float32(0.05)
    y.quant.scale[:] = np.float32(0.05)
    w, b = op.inputs[1], op.inputs[2]
    n = w.quant.scale.size
    w.quant.scale[:] = np.resize(np.asarray(scales, dtype=np.float32), n)
    w.data[...] = rng.integers(-3, 4, size=w.data.shape)  # keep some outputs inside the int8 range
    b.quant.scale[:] = (np.float32(0.05) * w.quant.scale).astype(np.float32)
    b.data[:] = rng.integers(-2**22, 2**22, size=b.data.shape) // np.maximum(1, (w.quant.scale * 1e4).astype(np.int64))
    return layer


@pytest.mark.parametrize("kind", ["CONV_2D", "DEPTHWISE_CONV_2D"])
@pytest.mark.parametrize("shape", ["1x1", "3x3"])
def test_requantization_every_shift(kind, shape):
    """Left shifts, e = 1, deep right shifts and large biases through the exact one-SMMLAR requantization."""
    rng = np.random.default_rng([7, len(kind), len(shape)])
    k = 1 if shape == "1x1" else 3
    cfg = {"n": 1, "h": 5, "w": 6, "c": 8, "oc": 9, "dm": 1, "kh": k, "kw": k, "sh": 1, "sw": 1, "dh": 1, "dw": 1,
           "pad": "SAME", "per_channel": True, "act": "NONE"}
    layer = _scaled_layer(rng, kind, cfg, EFFECTIVE_SCALES)
    graph = _graph([layer])
    program = lower_graph(graph, DSP)
    assert program.calls[0].func.endswith("_dsp") and program.calls[0].params["all_right"] == 0
    ours = run_program(program, [layer[3]])
    ref = litert_run(graph_to_bytes(graph), [layer[3]])
    np.testing.assert_array_equal(ours[0], ref[0])


def _tflite_mbqm(x, m, shift):
    """TFLite MultiplyByQuantizedMultiplier (double rounding), in Python integers."""
    left, right = max(shift, 0), max(-shift, 0)
    a = ((x << left) + 2**31) % 2**32 - 2**31
    ab = a * m
    q = ab + (2**30 if ab >= 0 else 1 - 2**30)
    h = abs(q) // 2**31 * (1 if q >= 0 else -1)
    mask = (1 << right) - 1
    return (h >> right) + (1 if (h & mask) > (mask >> 1) + (1 if h < 0 else 0) else 0)


def _one_smlal(x, m, shift):
    """ep::dsp::requantize (csrc/include/edgeprune/dsp.h), in Python integers modulo 2^32 / 2^64."""
    def s32(v):
        v %= 2**32
        return v - 2**32 if v >= 2**31 else v
    e = -shift
    xs = s32(x << max(-e, 0))
    hb = 1 << (e - 1) if e > 0 else 0
    khi = s32(hb + ((xs >> 31) & (-1 if e > 0 else 0)))
    hi = s32((((khi % 2**32) << 32) + 2**31 + xs * s32(2 * m)) % 2**64 >> 32)
    return s32(hi + xs) >> max(e, 0)


def test_requantize_formula():
    """The derivation behind the one-SMMLAR requantization, against TFLite's formula, under its preconditions."""
    rng = np.random.default_rng(3)
    cases = 0
    for m in [2**30, 2**30 + 1, 2**31 - 1, 3 * 2**29] + [int(v) for v in rng.integers(2**30, 2**31, size=12)]:
        for shift in range(-31, 31):
            e = max(-shift, 0)
            lim = 2**31 - 3 - (1 << (e - 1) if e else 0)  # |x| + 2^(e-1) + 2 < 2^31
            xs = list(range(-300, 300, 7)) + [lim, -lim, 0, 1, -1]
            xs += [int(v) for v in rng.integers(-lim, lim, size=40)]
            if e:
                xs += [(k << e) + (1 << (e - 1)) for k in range(-5, 5)]  # exact ties after the high mul
            if shift > 0:
                xs += [int(v) for v in rng.integers(-2**31, 2**31, size=20)]  # left shifts wrap like TFLite
            for x in xs:
                if shift <= 0 and abs(x) > lim:
                    continue
                assert _one_smlal(x, m, shift) == _tflite_mbqm(x, m, shift), (x, m, shift)
                cases += 1
    assert cases > 50000


# ------------------------------------------------------------------------------------------------ QEMU

QEMU_PATHS = [("CONV_2D", "any"), ("CONV_2D", "c4"), ("CONV_2D", "1x1"), ("DEPTHWISE_CONV_2D", "any"),
              ("DEPTHWISE_CONV_2D", "3x3"), ("DEPTHWISE_CONV_2D", "3x3"), ("FULLY_CONNECTED", "any"),
              ("DEPTHWISE_CONV_2D", "fallback")]


@pytest.mark.parametrize("target,seed", [("cortex-m7", 0), ("cortex-m7", 1), ("cortex-m4", 2)])
def test_qemu_layers(tmp_path, target, seed):
    if not _qemu_available(target):
        pytest.skip(f"toolchain or QEMU for {target} not installed")
    from edgeprune.pipeline import build
    from edgeprune.targets import load_profile
    from edgeprune.verify import verify

    rng = np.random.default_rng([1000, seed])
    layers, expected = [], []
    for i, (kind, path) in enumerate(QEMU_PATHS):
        cfg = CFG[kind](rng, path)
        if kind != "FULLY_CONNECTED":  # keep the firmware small and fast
            cfg.update(h=min(cfg["h"] + 3, 12), w=min(cfg["w"] + 3, 12))
        layers.append(_layer(rng, kind, cfg, tag=str(i)))
        expected.append(_expected(kind, path, cfg))
    kind = "DEPTHWISE_CONV_2D" if seed % 2 else "CONV_2D"  # the general (left shift, e = 1) requantization
    cfg = {"n": 1, "h": 4, "w": 5, "c": 8, "oc": 7, "dm": 1, "kh": 3, "kw": 3, "sh": 1, "sw": 1, "dh": 1, "dw": 1,
           "pad": "SAME", "per_channel": True, "act": "NONE"}
    layers.append(_scaled_layer(rng, kind, cfg, EFFECTIVE_SCALES, tag="s"))
    graph = _graph(layers)
    model = tmp_path / "m.tflite"
    model.write_bytes(graph_to_bytes(graph))
    report = build(model, load_profile(target), tmp_path / "out")
    text = (tmp_path / "out" / "src" / f"{report['name']}.c").read_text()
    for func in expected:
        assert func in text
    r = verify(tmp_path / "out", inputs=2, qemu=True)
    assert r["bit_exact"], r

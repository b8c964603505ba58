"""SOFTMAX, LOGISTIC, RELU, RELU6, HARD_SWISH, QUANTIZE, DEQUANTIZE against LiteRT's reference kernels.

int8 results must be bit-exact. float32 results are compared with rtol 1e-5 / atol 1e-6 (on the host they
are in fact identical: the kernels follow TFLite's operation order and call the same libm).

Parameters come from seeded sweeps: scales log-uniform over many decades (plus hand-picked extremes),
zero points over the whole int8 range, and int8 inputs that always contain all 256 values.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgeprune.errors import UnsupportedOpError
from edgeprune.lower import lower_graph
from edgeprune.testing.reference import litert_run
from edgeprune.testing.single_op import qparams, run_both, single_op, tensor

ALL_INT8 = np.arange(-128, 128, dtype=np.int8)
FLOAT_RTOL, FLOAT_ATOL = 1e-5, 1e-6


def int8_data(shape, rng) -> np.ndarray:
    """Random int8 data of `shape` that contains every int8 value when it has >= 256 elements."""
    n = int(np.prod(shape))
    vals = rng.integers(-128, 128, size=n)
    if n >= 256:
        vals[rng.permutation(n)[:256]] = np.arange(-128, 128)
    return vals.astype(np.int8).reshape(shape)


def log_uniform(rng, lo_exp, hi_exp) -> float:
    return float(np.float32(10.0 ** rng.uniform(lo_exp, hi_exp)))


def build(kind, x_dtype, y_dtype, shape, xq=None, yq=None, attrs=None):
    x = tensor("x", shape, x_dtype, xq)
    y = tensor("y", shape, y_dtype, yq)
    return single_op(kind, [x], [y], attrs or {})


def assert_int8_exact(kind, x_dtype, shape, xq, yq, data, attrs=None, y_dtype="int8"):
    graph, fb = build(kind, x_dtype, y_dtype, shape, xq, yq, attrs)
    ours, ref = run_both(graph, fb, [data])
    if not np.array_equal(ours[0], ref[0]):
        bad = np.nonzero(ours[0].reshape(-1) != ref[0].reshape(-1))[0]
        i = int(bad[0])
        raise AssertionError(
            f"{kind}: {bad.size} of {ours[0].size} outputs differ (xq={_q(xq)} yq={_q(yq)} attrs={attrs}); "
            f"first at {i}: input {data.reshape(-1)[i]} ours {ours[0].reshape(-1)[i]} ref {ref[0].reshape(-1)[i]}")


def assert_float_close(kind, shape, data, attrs=None, x_dtype="float32", xq=None):
    graph, fb = build(kind, x_dtype, "float32", shape, xq, None, attrs)
    ours, ref = run_both(graph, fb, [data])
    np.testing.assert_allclose(ours[0], ref[0], rtol=FLOAT_RTOL, atol=FLOAT_ATOL, equal_nan=True)


def assert_unsupported(kind, x_dtype, y_dtype, shape, xq, yq, attrs=None, match=None):
    graph, _ = build(kind, x_dtype, y_dtype, shape, xq, yq, attrs)
    with pytest.raises(UnsupportedOpError, match=match):
        lower_graph(graph)


def litert_rejects(kind, x_dtype, y_dtype, shape, xq, yq, attrs=None) -> bool:
    """Whether LiteRT's Prepare refuses the model (only for conditions that fail cleanly, not abort)."""
    _, fb = build(kind, x_dtype, y_dtype, shape, xq, yq, attrs)
    try:
        litert_run(fb, [np.zeros(shape, dtype=x_dtype)])
    except (RuntimeError, ValueError):
        return True
    return False


def _q(q):
    return None if q is None else (q.scale.tolist(), q.zero_point.tolist())


def float_data(shape, rng, magnitude=4.0, specials=True) -> np.ndarray:
    x = (rng.standard_normal(int(np.prod(shape))) * magnitude).astype(np.float32)
    if specials and x.size >= 8:
        x[:8] = [0.0, -0.0, 3.0, -3.0, 6.0, -9.5, 17.0, -120.0]
    return x.reshape(shape)


# ---------------------------------------------------------------------------------------------- RELU / RELU6

SCALE_CASES_RELU = [
    (0.05, -3, 0.07, 5),
    (1.0, 0, 1.0, 0),  # identity
    (0.02, -128, 0.02, -128),
    (0.1, 127, 0.001, -128),  # large up-scaling: saturates
    (1e-4, 10, 0.5, 100),  # tiny multiplier
    (0.0235294, -128, 0.0235294, -128),  # 6/255: RELU6 range exactly representable
    (3e-6, 0, 7.0, 0),
    (50.0, -20, 0.01, 0),
    (1000.0, 0, 1e-4, -128),  # ratio 1e7: the reference's int32 arithmetic wraps, ours must too
    (700.0, 127, 3e-6, 127),
]


@pytest.mark.parametrize("kind", ["RELU", "RELU6"])
@pytest.mark.parametrize("case", range(len(SCALE_CASES_RELU) + 24))
def test_relu_int8(kind, case):
    rng = np.random.default_rng(100 + case)
    if case < len(SCALE_CASES_RELU):
        s_in, z_in, s_out, z_out = SCALE_CASES_RELU[case]
    else:
        s_in, s_out = log_uniform(rng, -5, 2), log_uniform(rng, -5, 2)
        z_in, z_out = (int(v) for v in rng.integers(-128, 128, size=2))
    shape = [(1, 256), (2, 16, 8), (1, 3, 5, 20), (4, 100)][case % 4]
    assert_int8_exact(kind, "int8", shape, qparams(s_in, z_in), qparams(s_out, z_out), int8_data(shape, rng))


@pytest.mark.parametrize("kind", ["RELU", "RELU6"])
def test_relu_float(kind):
    rng = np.random.default_rng(7)
    for shape in [(1, 64), (2, 3, 4, 5), (7,)]:
        data = float_data(shape, rng)
        if data.size >= 10:
            data.reshape(-1)[8:10] = [np.inf, -np.inf]
        assert_float_close(kind, shape, data)


def test_relu_unsupported():
    # RELU6 with an output scale so small that 6 / scale overflows int32 in TFLite.
    assert_unsupported("RELU6", "int8", "int8", (1, 4), qparams(0.1, 0), qparams(1e-10, 0))
    # input / output scale ratio >= 2^30
    assert_unsupported("RELU", "int8", "int8", (1, 4), qparams(1e4, 0), qparams(1e-6, 0))
    # per-channel activations
    assert_unsupported("RELU", "int8", "int8", (1, 2), qparams([0.1, 0.2], [0, 0], axis=1), qparams(0.1, 0))
    assert_unsupported("RELU", "int8", "int8", (1, 4), None, qparams(0.1, 0))


# ---------------------------------------------------------------------------------------------- HARD_SWISH

SCALE_CASES_HSWISH = [
    (0.05, -3, 0.07, 5),
    (0.0235, -128, 0.0235, -128),
    (1.0, 0, 0.02, 0),  # reluish exponent > 0: saturating left shifts
    (20.0, 10, 0.2, -5),
    (1e-3, 0, 1.0, 0),  # output exponent below -15: int16 rounding-shift quirks
    (1e-6, 5, 10.0, -7),  # both exponents far below -15
    (2e-7, -100, 2e-7, 100),
    (0.5, 127, 0.004, -128),  # ratio 125: exponent 0
    (1e-4, 0, 1e-4, 0),
]


@pytest.mark.parametrize("case", range(len(SCALE_CASES_HSWISH) + 40))
def test_hard_swish_int8(case):
    rng = np.random.default_rng(200 + case)
    if case < len(SCALE_CASES_HSWISH):
        s_in, z_in, s_out, z_out = SCALE_CASES_HSWISH[case]
    else:
        s_in = log_uniform(rng, -6, 2)
        s_out = float(np.float32(s_in / 10.0 ** rng.uniform(-4, 2.1)))  # ratio in [1e-2, ~125] mostly
        z_in, z_out = (int(v) for v in rng.integers(-128, 128, size=2))
    shape = [(1, 256), (2, 4, 4, 8), (3, 100)][case % 3]
    xq, yq = qparams(s_in, z_in), qparams(s_out, z_out)
    graph, _ = build("HARD_SWISH", "int8", "int8", shape, xq, yq)
    try:
        lower_graph(graph)
    except UnsupportedOpError:
        # Only where TFLite refuses too (output multiplier exponent > 0).
        assert litert_rejects("HARD_SWISH", "int8", "int8", shape, xq, yq)
        return
    assert_int8_exact("HARD_SWISH", "int8", shape, xq, yq, int8_data(shape, rng))


def test_hard_swish_float():
    rng = np.random.default_rng(8)
    for shape in [(1, 300), (2, 3, 4, 5)]:
        data = float_data(shape, rng)
        data.reshape(-1)[8:12] = [np.inf, -np.inf, 1e30, -1e30]
        assert_float_close("HARD_SWISH", shape, data)


def test_hard_swish_unsupported():
    xq, yq = qparams(1.0, 0), qparams(0.001, 0)  # input / output scale = 1000 >= 128
    assert_unsupported("HARD_SWISH", "int8", "int8", (1, 8), xq, yq, match="128")
    assert litert_rejects("HARD_SWISH", "int8", "int8", (1, 8), xq, yq)


# ---------------------------------------------------------------------------------------------- LOGISTIC


@pytest.mark.parametrize("case", range(40))
def test_logistic_int8(case):
    rng = np.random.default_rng(300 + case)
    s_in = [0.1, 0.0625, 1.0, 1e-4, 0.5][case] if case < 5 else log_uniform(rng, -4, 1)
    z_in = int(rng.integers(-128, 128)) if case else 0
    z_out = -128 if case % 3 == 0 else int(rng.integers(-128, 128))  # TFLite's LUT path takes any zero point
    shape = [(1, 256), (2, 8, 16), (5, 60)][case % 3]
    assert_int8_exact("LOGISTIC", "int8", shape, qparams(s_in, z_in), qparams(1.0 / 256, z_out), int8_data(shape, rng))


def test_logistic_float():
    rng = np.random.default_rng(9)
    for shape, mag in [((1, 500), 8.0), ((2, 3, 7), 30.0)]:
        data = float_data(shape, rng, magnitude=mag)
        data.reshape(-1)[8:12] = [np.inf, -np.inf, 16.62, -9.0]
        assert_float_close("LOGISTIC", shape, data)


def test_logistic_unsupported():
    assert_unsupported("LOGISTIC", "int8", "int8", (1, 8), qparams(0.1, 0), qparams(1.0 / 255, -128), match="1/256")
    assert_unsupported("LOGISTIC", "int8", "float32", (1, 8), qparams(0.1, 0), None)


# ---------------------------------------------------------------------------------------------- SOFTMAX

SOFTMAX_SHAPES = [(1, 10), (3, 7), (2, 3, 5), (2, 2, 2, 9), (1, 1000), (16,), (4, 1), (2, 256)]


@pytest.mark.parametrize("case", range(48))
def test_softmax_int8(case):
    rng = np.random.default_rng(400 + case)
    shape = SOFTMAX_SHAPES[case % len(SOFTMAX_SHAPES)]
    fixed = [(1.0, 0.1), (1.0, 0.00390625), (1.0, 1.0), (100.0, 1.0), (0.1, 0.001), (2.0, 0.05), (1e-3, 0.05),
             (1.0, 1.5e-8)]
    if case < len(fixed):
        beta, s_in = fixed[case]
    else:
        beta = float(np.float32(10.0 ** rng.uniform(-2, 1.5)))
        s_in = log_uniform(rng, -4, 1)
    z_in = int(rng.integers(-128, 128))
    # Output scale: 1/256 or within TFLite's tolerance of it.
    s_out = 1.0 / 256 if case % 4 else float(np.float32(1.0 / 256 * (1 + rng.uniform(-0.0009, 0.0009))))
    data = int8_data(shape, rng)
    if case % 5 == 1:  # narrow rows: many equal maxima
        data = np.clip(data, 120, 127).astype(np.int8)
    if max_softmax_row_sum(data, beta * s_in) > 400:
        # LiteRT's reference aborts the process when a row's sum of exponentials reaches 512: keep away.
        data = data.reshape(-1, shape[-1])
        data[:] = -128
        data[:, 0] = 127
        data = data.reshape(shape)
        if max_softmax_row_sum(data, beta * s_in) > 400:
            shape = (2, 256)
            data = int8_data(shape, rng)
    assert_int8_exact("SOFTMAX", "int8", shape, qparams(s_in, z_in), qparams(s_out, -128), data, {"beta": beta})


def max_softmax_row_sum(data: np.ndarray, beta_scale: float) -> float:
    rows = data.reshape(-1, data.shape[-1]).astype(np.float64)
    return float(np.max(np.sum(np.exp((rows - rows.max(axis=1, keepdims=True)) * beta_scale), axis=1)))


def test_softmax_int8_large_sum():
    """Rows whose exponentials sum to >= 512: TFLite aborts, we output -128 (the rounded probability)."""
    shape = (3, 1000)
    data = np.zeros(shape, dtype=np.int8)
    data[1, :] = np.arange(1000) % 7  # sum ~ 1000 * mean(exp(-0.01 k)) ~ 970: still >= 512
    data[2, :] = -128
    data[2, 0] = 127  # peaked row: sum 1 + 999 * exp(-255 * 0.01) ~ 79, computed normally
    xq, yq = qparams(0.01, 0), qparams(1.0 / 256, -128)
    graph, _ = build("SOFTMAX", "int8", "int8", shape, xq, yq, {"beta": 1.0})
    from edgeprune.runtime.host import run_program

    out = run_program(lower_graph(graph), [data])[0]
    assert np.all(out[0] == -128) and np.all(out[1] == -128)
    assert out[2, 0] > -128 and np.all(out[2, 1:] == -128)
    # The normal row is still TFLite's result.
    assert_int8_exact("SOFTMAX", "int8", (1, 1000), xq, yq, data[2:3], {"beta": 1.0})


def test_softmax_int8_params():
    from edgeprune.lower.ops.activation import softmax_s8_params

    # beta * scale * 2^26 capped at 2^31 - 1: shift 31, only the row maxima contribute.
    assert softmax_s8_params(1.0, 100.0) == (2**31 - 1, 31, 0)
    mult, shift, diff_min = softmax_s8_params(0.1, 1.0)
    assert 2**30 <= mult < 2**31 and diff_min == -math.floor(31 * 2**26 / 2**shift)


@pytest.mark.parametrize("beta", [1.0, 0.5, 3.0])
def test_softmax_float(beta):
    rng = np.random.default_rng(10)
    for shape in [(1, 10), (3, 7), (2, 3, 5), (1, 1000), (16,)]:
        assert_float_close("SOFTMAX", shape, float_data(shape, rng, magnitude=5.0, specials=False), {"beta": beta})


def test_softmax_unsupported():
    x = qparams(0.1, 0)
    assert_unsupported("SOFTMAX", "int8", "int8", (1, 8), x, qparams(1.0 / 256, 0), {"beta": 1.0}, match="-128")
    assert_unsupported("SOFTMAX", "int8", "int8", (1, 8), x, qparams(1.0 / 250, -128), {"beta": 1.0}, match="1/256")
    assert litert_rejects("SOFTMAX", "int8", "int8", (1, 8), x, qparams(1.0 / 256, 0), {"beta": 1.0})
    assert litert_rejects("SOFTMAX", "int8", "int8", (1, 8), x, qparams(1.0 / 250, -128), {"beta": 1.0})
    # beta * scale * 2^26 <= 1: TFLite aborts in Prepare (not run here), we refuse.
    assert_unsupported("SOFTMAX", "int8", "int8", (1, 8), qparams(1e-9, 0), qparams(1.0 / 256, -128), {"beta": 1.0})
    assert_unsupported("SOFTMAX", "int8", "int16", (1, 8), x, qparams(1.0 / 32768, 0), {"beta": 1.0})


# ---------------------------------------------------------------------------------------------- QUANTIZE


def quantize_inputs(shape, scale, zp, rng) -> np.ndarray:
    """Floats around every rounding boundary and beyond the int8 range, plus inf and -0."""
    n = int(np.prod(shape))
    k = rng.integers(-140 - zp, 140 - zp, size=n).astype(np.float64)
    frac = rng.choice([0.0, 0.5, -0.5, 0.49999997, 0.50000003, rng.uniform(-1, 1)], size=n)
    x = ((k + frac) * np.float64(scale)).astype(np.float32)
    # Exact float multiples of (j + 0.5) * scale, computed in float32, hit TFLite's float division ties.
    half = (np.float32(scale) * (np.arange(n, dtype=np.float32) % 64 - 32 + np.float32(0.5))).astype(np.float32)
    x[::3] = half[::3]
    if n >= 12:  # beyond int32 after division: LiteRT (x86) converts to INT32_MIN, then adds the zero point
        x[:12] = [0.0, -0.0, np.inf, -np.inf, 1e30, -1e30, np.nan, 3e9 * scale, -3e9 * scale, 2.1e9 * scale,
                  -2.1e9 * scale, 1e38]
    return x.reshape(shape)


@pytest.mark.parametrize("case", range(30))
def test_quantize_float_to_int8(case):
    rng = np.random.default_rng(500 + case)
    fixed = [(0.1, 0), (1.0, -128), (0.00390625, 127), (1e-6, 3), (1e3, -7), (1e-30, 0)]
    if case < len(fixed):
        scale, zp = fixed[case]
    else:
        scale, zp = log_uniform(rng, -6, 3), int(rng.integers(-128, 128))
    shape = [(1, 300), (2, 5, 7), (4, 3, 3, 10)][case % 3]
    assert_int8_exact("QUANTIZE", "float32", shape, None, qparams(scale, zp), quantize_inputs(shape, scale, zp, rng))


@pytest.mark.parametrize("axis", [0, 1, 2, 3])
def test_quantize_float_to_int8_per_channel(axis):
    rng = np.random.default_rng(600 + axis)
    shape = (3, 4, 5, 6)
    c = shape[axis]
    scales = [log_uniform(rng, -3, 1) for _ in range(c)]
    zps = [int(v) for v in rng.integers(-128, 128, size=c)]
    data = (rng.standard_normal(shape) * 20).astype(np.float32)
    data.reshape(-1)[:6] = [np.inf, -np.inf, np.nan, 1e30, -1e30, 0.0]
    assert_int8_exact("QUANTIZE", "float32", shape, None, qparams(scales, zps, axis=axis), data)


@pytest.mark.parametrize("case", range(30))
def test_quantize_int8_to_int8(case):
    rng = np.random.default_rng(700 + case)
    fixed = [(0.1, 0, 0.1, 0), (0.1, -5, 0.1, 7), (0.05, 0, 0.1, 0), (1.0, 3, 1e-4, -3), (1e-4, -128, 1.0, 127),
             (0.3, 127, 0.30000001, -128), (1000.0, -128, 1e-4, 127)]
    if case < len(fixed):
        s_in, z_in, s_out, z_out = fixed[case]
    else:
        s_in, s_out = log_uniform(rng, -5, 2), log_uniform(rng, -5, 2)
        z_in, z_out = (int(v) for v in rng.integers(-128, 128, size=2))
    shape = [(1, 256), (2, 8, 20)][case % 2]
    assert_int8_exact("QUANTIZE", "int8", shape, qparams(s_in, z_in), qparams(s_out, z_out), int8_data(shape, rng))


def test_quantize_unsupported():
    assert_unsupported("QUANTIZE", "float32", "int16", (1, 4), None, qparams(0.1, 0))
    assert_unsupported("QUANTIZE", "int8", "int8", (1, 2), qparams([0.1, 0.2], [0, 0], axis=1), qparams(0.1, 0))
    assert_unsupported("QUANTIZE", "float32", "int8", (1, 4), None, None)


# ---------------------------------------------------------------------------------------------- DEQUANTIZE


@pytest.mark.parametrize("case", range(20))
def test_dequantize(case):
    rng = np.random.default_rng(800 + case)
    fixed = [(0.1, 0), (1.0, -128), (1e-38, 5), (1e30, 127), (3e-45, 0)]  # subnormal and huge products
    if case < len(fixed):
        scale, zp = fixed[case]
    else:
        scale, zp = log_uniform(rng, -8, 4), int(rng.integers(-128, 128))
    shape = [(1, 256), (3, 90)][case % 2]
    graph, fb = build("DEQUANTIZE", "int8", "float32", shape, qparams(scale, zp), None)
    data = int8_data(shape, rng)
    ours, ref = run_both(graph, fb, [data])
    np.testing.assert_array_equal(ours[0], ref[0])  # bit-exact, not just close


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_dequantize_per_channel(axis):
    rng = np.random.default_rng(900 + axis)
    shape = (4, 6, 11)
    c = shape[axis]
    scales = [log_uniform(rng, -4, 1) for _ in range(c)]
    zps = [int(v) for v in rng.integers(-128, 128, size=c)]
    graph, fb = build("DEQUANTIZE", "int8", "float32", shape, qparams(scales, zps, axis=axis), None)
    data = int8_data(shape, rng)
    ours, ref = run_both(graph, fb, [data])
    np.testing.assert_array_equal(ours[0], ref[0])


def test_dequantize_unsupported():
    assert_unsupported("DEQUANTIZE", "int16", "float32", (1, 4), qparams(0.1, 0), None)
    assert_unsupported("DEQUANTIZE", "int8", "float32", (1, 4), None, None)

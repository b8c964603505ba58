"""AVERAGE_POOL_2D / MAX_POOL_2D / MEAN against LiteRT's reference kernels (BUILTIN_REF).

int8 results must be bit-exact; float32 within 1e-5 relative / 1e-6 absolute (in practice they are exact).
"""

import zlib

import numpy as np
import pytest

from edgeprune.errors import UnsupportedOpError
from edgeprune.lower import lower_graph
from edgeprune.lower.quant import compute_padding
from edgeprune.testing.single_op import qparams, run_both, single_op, tensor

ACTS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]


def _check(dtype, ours, ref):
    if dtype == "int8":
        np.testing.assert_array_equal(ours, ref)
    else:
        np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)


def _data(rng, shape, dtype):
    if dtype == "int8":
        return rng.integers(-128, 128, size=shape).astype(np.int8)
    return rng.uniform(-8, 8, size=shape).astype(np.float32)


def _pool(kind, dtype, shape, fh, fw, sh, sw, padding, act, seed):
    rng = np.random.default_rng(seed)
    n, h, w, c = shape
    oh, _ = compute_padding(h, fh, sh, 1, padding)
    ow, _ = compute_padding(w, fw, sw, 1, padding)
    q = qparams(float(np.exp(rng.uniform(-5, -1))), int(rng.integers(-128, 128))) if dtype == "int8" else None
    x = tensor("x", shape, dtype, q)
    y = tensor("y", (n, oh, ow, c), dtype, q)
    attrs = {"padding": padding, "stride_w": sw, "stride_h": sh, "filter_width": fw, "filter_height": fh,
             "fused_activation": act}
    graph, fb = single_op(kind, [x], [y], attrs)
    ours, ref = run_both(graph, fb, [_data(rng, shape, dtype)])
    _check(dtype, ours[0], ref[0])


def _pool_cases(n_cases, seed):
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n_cases):
        fh, fw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        padding = "SAME" if i % 2 else "VALID"
        h, w = int(rng.integers(fh, fh + 7)), int(rng.integers(fw, fw + 7))
        shape = (int(rng.integers(1, 3)), h, w, int(rng.integers(1, 9)))
        cases.append((shape, fh, fw, sh, sw, padding, ACTS[i % 4]))
    return cases


@pytest.mark.parametrize("kind", ["AVERAGE_POOL_2D", "MAX_POOL_2D"])
@pytest.mark.parametrize("dtype", ["int8", "float32"])
def test_pool_sweep(kind, dtype):
    for i, case in enumerate(_pool_cases(60, zlib.crc32(f"{kind}{dtype}".encode()))):
        _pool(kind, dtype, *case, seed=i)


@pytest.mark.parametrize("kind", ["AVERAGE_POOL_2D", "MAX_POOL_2D"])
@pytest.mark.parametrize("dtype", ["int8", "float32"])
def test_pool_fixed(kind, dtype):
    # Global pool, big SAME windows over a small image (partial windows everywhere), 1x1 windows.
    _pool(kind, dtype, (1, 7, 7, 16), 7, 7, 1, 1, "VALID", "NONE", 1)
    _pool(kind, dtype, (2, 5, 4, 3), 5, 5, 2, 2, "SAME", "RELU", 2)
    _pool(kind, dtype, (1, 6, 6, 5), 1, 1, 1, 1, "SAME", "RELU6", 3)
    _pool(kind, dtype, (1, 9, 11, 2), 3, 2, 3, 1, "SAME", "RELU_N1_TO_1", 4)


def test_avg_pool_int8_rounding_negative_halves():
    # Sums that land exactly on .5 of both signs: TFLite rounds half away from zero.
    x = tensor("x", (1, 1, 4, 2), "int8", qparams(0.1, 0))
    y = tensor("y", (1, 1, 2, 2), "int8", qparams(0.1, 0))
    attrs = {"padding": "VALID", "stride_w": 2, "stride_h": 1, "filter_width": 2, "filter_height": 1,
             "fused_activation": "NONE"}
    graph, fb = single_op("AVERAGE_POOL_2D", [x], [y], attrs)
    data = np.array([[[[-3, 3], [-4, 4], [5, -1], [6, -2]]]], dtype=np.int8)
    ours, ref = run_both(graph, fb, [data])
    np.testing.assert_array_equal(ours[0], ref[0])
    np.testing.assert_array_equal(ours[0].reshape(-1), [-4, 4, 6, -2])


def test_pool_int8_quantization_mismatch_is_unsupported():
    x = tensor("x", (1, 4, 4, 2), "int8", qparams(0.1, 0))
    y = tensor("y", (1, 2, 2, 2), "int8", qparams(0.2, 0))
    attrs = {"padding": "VALID", "stride_w": 2, "stride_h": 2, "filter_width": 2, "filter_height": 2,
             "fused_activation": "NONE"}
    for kind in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        graph, _ = single_op(kind, [x], [y], attrs)
        with pytest.raises(UnsupportedOpError, match="operator 0"):
            lower_graph(graph)


def _mean(dtype, shape, axes, keep, qi, qo, seed, axes_dtype="int32"):
    rng = np.random.default_rng(seed)
    rank = len(shape)
    res = sorted({a % rank for a in axes})
    oshape = tuple(1 if i in res else d for i, d in enumerate(shape)) if keep else \
        tuple(d for i, d in enumerate(shape) if i not in res)
    x = tensor("x", shape, dtype, qparams(*qi) if dtype == "int8" else None)
    ax = tensor("axis", (len(axes),), axes_dtype, data=np.array(axes))
    y = tensor("y", oshape, dtype, qparams(*qo) if dtype == "int8" else None)
    graph, fb = single_op("MEAN", [x, ax], [y], {"keep_dims": keep})
    ours, ref = run_both(graph, fb, [_data(rng, shape, dtype)])
    _check(dtype, ours[0], ref[0])


MEAN_CASES = [
    ((1, 5, 6, 8), [1, 2], True),  # global average pool, keep dims (TFLite's special 4-D case)
    ((2, 5, 6, 8), [2, 1], False),
    ((2, 3, 4, 5), [3], True),
    ((2, 3, 4, 5), [0, 2], False),
    ((2, 3, 4, 5), [-1, -3], True),
    ((2, 3, 4, 5), [0, 1, 2, 3], False),
    ((3, 7), [1], False),
    ((3, 7), [0], True),
    ((4, 1, 6), [1], False),
    ((10,), [0], False),
    ((2, 3, 2, 3, 2), [1, 3], True),  # 5-D
    ((2, 3, 4), [1, 1], False),  # duplicate axis
    ((1, 16, 16, 3), [1, 2], True),
]


@pytest.mark.parametrize("dtype", ["int8", "float32"])
@pytest.mark.parametrize("case", MEAN_CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}")
def test_mean(dtype, case):
    shape, axes, keep = case
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    # Same quantization, different zero points only, different scales (both directions).
    quants = [((0.05, 3), (0.05, 3)), ((0.05, -10), (0.05, 20)), ((0.05, 0), (0.02, -5)), ((0.02, -128), (0.1, 7))]
    for _ in range(4):
        quants.append(((float(np.exp(rng.uniform(-6, 0))), int(rng.integers(-128, 128))),
                       (float(np.exp(rng.uniform(-6, 0))), int(rng.integers(-128, 128)))))
    for i, (qi, qo) in enumerate(quants if dtype == "int8" else quants[:2]):
        _mean(dtype, shape, axes, keep, qi, qo, seed=i)


def test_mean_int64_axes_is_unsupported():
    # TFLite's MEAN rejects int64 axes in Prepare; so do we.
    x = tensor("x", (1, 4, 4, 3), "int8", qparams(0.1, 0))
    ax = tensor("axis", (2,), "int64", data=np.array([1, 2]))
    y = tensor("y", (1, 1, 1, 3), "int8", qparams(0.1, 0))
    graph, _ = single_op("MEAN", [x, ax], [y], {"keep_dims": True})
    with pytest.raises(UnsupportedOpError, match="operator 0"):
        lower_graph(graph)


def test_mean_non_constant_axis_is_unsupported():
    x = tensor("x", (1, 4, 4, 3), "int8", qparams(0.1, 0))
    ax = tensor("axis", (2,), "int32")
    y = tensor("y", (1, 1, 1, 3), "int8", qparams(0.1, 0))
    graph, _ = single_op("MEAN", [x, ax], [y], {"keep_dims": True})
    with pytest.raises(UnsupportedOpError, match="operator 0"):
        lower_graph(graph)

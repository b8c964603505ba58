"""RESHAPE / SQUEEZE against LiteRT's reference kernels."""

import numpy as np
import pytest

from edgeprune.testing.single_op import qparams, run_both, single_op, tensor


@pytest.mark.parametrize("dtype", ["int8", "float32"])
@pytest.mark.parametrize("in_shape,out_shape", [((1, 2, 3, 4), (1, 24)), ((1, 1, 1, 10), (1, 10)), ((2, 6), (3, 4))])
def test_reshape(dtype, in_shape, out_shape):
    q = qparams(0.05, -3) if dtype == "int8" else None
    x = tensor("x", in_shape, dtype, q)
    shape = tensor("shape", (len(out_shape),), "int32", data=np.array(out_shape, dtype=np.int32))
    y = tensor("y", out_shape, dtype, q)
    graph, fb = single_op("RESHAPE", [x, shape], [y], {"new_shape": list(out_shape)})
    rng = np.random.default_rng(0)
    data = rng.integers(-128, 128, size=in_shape).astype(dtype)
    ours, ref = run_both(graph, fb, [data])
    np.testing.assert_array_equal(ours[0], ref[0])


def test_squeeze():
    x = tensor("x", (1, 1, 1, 7), "int8", qparams(0.1, 0))
    y = tensor("y", (1, 7), "int8", qparams(0.1, 0))
    graph, fb = single_op("SQUEEZE", [x], [y], {"squeeze_dims": [1, 2]})
    data = np.arange(-3, 4, dtype=np.int8).reshape(1, 1, 1, 7)
    ours, ref = run_both(graph, fb, [data])
    np.testing.assert_array_equal(ours[0], ref[0])


# --- TRANSPOSE, PAD / PADV2, CONCATENATION ---------------------------------------------------------
# int8 results must be bit-exact; these ops move data only, so float32 is compared exactly as well.

import itertools
import zlib

from edgeprune.errors import UnsupportedOpError
from edgeprune.lower import lower_graph


def _data(rng, shape, dtype):
    if dtype == "int8":
        return rng.integers(-128, 128, size=shape).astype(np.int8)
    return rng.uniform(-5, 5, size=shape).astype(np.float32)


def _q(dtype, scale=0.05, zp=-3):
    return qparams(scale, zp) if dtype == "int8" else None


TRANSPOSE_CASES = [
    ((2, 3), (1, 0)),
    ((2, 3, 4), (2, 0, 1)),
    ((2, 3, 4), (0, 2, 1)),
    ((1, 5, 6, 3), (0, 3, 1, 2)),
    ((2, 3, 4, 5), (3, 2, 1, 0)),
    ((2, 3, 4, 5), (0, 1, 2, 3)),
    ((2, 3, 1, 5), (2, 0, 3, 1)),
    ((2, 3, 2, 3, 2), (4, 1, 3, 0, 2)),
    ((2, 1, 3, 2, 2, 3), (5, 0, 4, 1, 3, 2)),
    # NCHW -> NHWC with few channels (PyTorch exports): the input's contiguous dim is walked innermost, as plane
    # interleaves (16-element blocks and a tail on NEON) or, when it is not the output's next dim, strided.
    ((1, 3, 20, 17), (0, 2, 3, 1)),
    ((2, 4, 5, 33), (0, 2, 3, 1)),
    ((1, 2, 3, 40), (0, 2, 3, 1)),
    ((1, 2, 7, 40), (0, 3, 2, 1)),
]


@pytest.mark.parametrize("dtype", ["int8", "float32"])
@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=lambda c: f"{c[0]}-{c[1]}")
def test_transpose(dtype, case):
    shape, perm = case
    x = tensor("x", shape, dtype, _q(dtype))
    p = tensor("perm", (len(perm),), "int32", data=np.array(perm, dtype=np.int32))
    y = tensor("y", tuple(shape[i] for i in perm), dtype, _q(dtype))
    graph, fb = single_op("TRANSPOSE", [x, p], [y], {})
    ours, ref = run_both(graph, fb, [_data(np.random.default_rng(0), shape, dtype)])
    np.testing.assert_array_equal(ours[0], ref[0])


@pytest.mark.parametrize("dtype", ["int8", "float32"])
def test_transpose_all_4d_perms(dtype):
    shape = (2, 3, 4, 5)
    data = _data(np.random.default_rng(1), shape, dtype)
    for perm in itertools.permutations(range(4)):
        x = tensor("x", shape, dtype, _q(dtype))
        p = tensor("perm", (4,), "int32", data=np.array(perm, dtype=np.int32))
        y = tensor("y", tuple(shape[i] for i in perm), dtype, _q(dtype))
        graph, fb = single_op("TRANSPOSE", [x, p], [y], {})
        ours, ref = run_both(graph, fb, [data])
        np.testing.assert_array_equal(ours[0], ref[0])


PAD_CASES = [
    ((1, 4, 4, 3), ((0, 0), (1, 1), (1, 1), (0, 0))),  # image style
    ((1, 4, 5, 3), ((0, 0), (0, 1), (2, 0), (0, 0))),
    ((2, 3, 4, 2), ((1, 0), (0, 2), (1, 1), (1, 2))),  # every dim, batch and channels too
    ((3, 4), ((1, 2), (0, 3))),
    ((5,), ((2, 3),)),
    ((2, 3, 4), ((0, 0), (0, 0), (0, 0))),  # no padding at all
    ((2, 2, 2, 2, 2), ((1, 0), (0, 1), (1, 1), (0, 0), (2, 1))),  # 5-D
]


def _pad(dtype, shape, pads, out_q=None, constant=None, const_q=None, pad_dtype="int32", seed=0):
    x = tensor("x", shape, dtype, _q(dtype))
    pt = tensor("paddings", (len(shape), 2), pad_dtype, data=np.array(pads))
    out_shape = tuple(d + a + b for d, (a, b) in zip(shape, pads))
    y = tensor("y", out_shape, dtype, out_q if out_q is not None else _q(dtype))
    inputs = [x, pt]
    if constant is not None:
        inputs.append(tensor("cv", (), dtype, const_q, data=np.array(constant)))
    graph, fb = single_op("PAD", inputs, [y], {})
    return graph, fb


@pytest.mark.parametrize("dtype", ["int8", "float32"])
@pytest.mark.parametrize("case", PAD_CASES, ids=lambda c: f"{c[0]}")
def test_pad(dtype, case):
    shape, pads = case
    data = _data(np.random.default_rng(zlib.crc32(repr(case).encode())), shape, dtype)
    for pad_dtype in ("int32", "int64"):
        graph, fb = _pad(dtype, shape, pads, pad_dtype=pad_dtype)
        ours, ref = run_both(graph, fb, [data])
        np.testing.assert_array_equal(ours[0], ref[0])


@pytest.mark.parametrize("case", PAD_CASES[:4], ids=lambda c: f"{c[0]}")
def test_pad_int8_pads_with_output_zero_point(case):
    # The pad value is the output zero point, even when the output quantization differs from the input's.
    shape, pads = case
    data = _data(np.random.default_rng(2), shape, "int8")
    for zp in (-128, 0, 77):
        graph, fb = _pad("int8", shape, pads, out_q=qparams(0.07, zp))
        ours, ref = run_both(graph, fb, [data])
        np.testing.assert_array_equal(ours[0], ref[0])


@pytest.mark.parametrize("case", PAD_CASES, ids=lambda c: f"{c[0]}")
def test_padv2_constant_values(case):
    # PADV2 is imported as PAD with a third constant_values input; TFLite's PAD kernel takes it too.
    shape, pads = case
    rng = np.random.default_rng(3)
    for value in (-128, -5, 42):
        graph, fb = _pad("int8", shape, pads, constant=value, const_q=_q("int8"))
        ours, ref = run_both(graph, fb, [_data(rng, shape, "int8")])
        np.testing.assert_array_equal(ours[0], ref[0])
    for value in (-1.5, 0.0, 3.25):
        graph, fb = _pad("float32", shape, pads, constant=value)
        ours, ref = run_both(graph, fb, [_data(rng, shape, "float32")])
        np.testing.assert_array_equal(ours[0], ref[0])


def test_pad_unsupported():
    # Non-constant paddings.
    x = tensor("x", (1, 2, 2, 1), "int8", qparams(0.1, 0))
    pt = tensor("paddings", (4, 2), "int32")
    y = tensor("y", (1, 4, 4, 1), "int8", qparams(0.1, 0))
    graph, _ = single_op("PAD", [x, pt], [y], {})
    with pytest.raises(UnsupportedOpError, match="operator 0"):
        lower_graph(graph)
    # constant_values quantized differently from the output (TFLite rejects it).
    graph, _ = _pad("int8", (1, 2, 2, 1), ((0, 0), (1, 1), (1, 1), (0, 0)), constant=3, const_q=qparams(0.2, 1))
    with pytest.raises(UnsupportedOpError, match="operator 0"):
        lower_graph(graph)


def _concat(dtype, shapes, axis, seed, qs=None, out_q=None, const=()):
    rng = np.random.default_rng(seed)
    rank = len(shapes[0])
    ax = axis % rank
    out_shape = list(shapes[0])
    out_shape[ax] = sum(s[ax] for s in shapes)
    inputs, feeds = [], []
    for i, s in enumerate(shapes):
        d = _data(rng, s, dtype)
        q = qs[i] if qs else _q(dtype)
        if i in const:
            inputs.append(tensor(f"c{i}", s, dtype, q, data=d))
        else:
            inputs.append(tensor(f"x{i}", s, dtype, q))
            feeds.append(d)
    y = tensor("y", out_shape, dtype, out_q if out_q is not None else _q(dtype))
    graph, fb = single_op("CONCATENATION", inputs, [y], {"axis": axis, "fused_activation": "NONE"})
    return graph, fb, feeds


CONCAT_CASES = [
    ([(1, 4, 4, 3), (1, 4, 4, 5)], 3),
    ([(1, 4, 4, 3), (1, 4, 4, 5)], -1),
    ([(2, 3, 4), (2, 1, 4), (2, 2, 4)], 1),
    ([(2, 3, 4), (1, 3, 4)], 0),
    ([(2, 3, 4), (2, 3, 4), (2, 3, 4), (2, 3, 1)], -1),
    ([(3, 2), (3, 5)], 1),
    ([(4,), (3,)], 0),
    ([(1, 2, 3, 2), (1, 2, 3, 2)], 2),
    ([(1, 2, 3, 2, 2), (1, 2, 1, 2, 2)], 2),  # 5-D
    ([(1, 4, 4, 3)], 3),  # a single input
]


@pytest.mark.parametrize("dtype", ["int8", "float32"])
@pytest.mark.parametrize("case", CONCAT_CASES, ids=lambda c: f"{c[0]}-{c[1]}")
def test_concat(dtype, case):
    shapes, axis = case
    graph, fb, feeds = _concat(dtype, shapes, axis, seed=zlib.crc32(repr(case).encode()))
    ours, ref = run_both(graph, fb, feeds)
    np.testing.assert_array_equal(ours[0], ref[0])


@pytest.mark.parametrize("dtype", ["int8", "float32"])
def test_concat_constant_input(dtype):
    graph, fb, feeds = _concat(dtype, [(1, 3, 3, 2), (1, 3, 3, 4), (1, 3, 3, 1)], 3, seed=5, const=(1,))
    ours, ref = run_both(graph, fb, feeds)
    np.testing.assert_array_equal(ours[0], ref[0])


def test_concat_unsupported():
    # int8 inputs quantized differently from the output: TFLite's int8 kernel rejects that.
    graph, _, _ = _concat("int8", [(1, 2, 2, 3), (1, 2, 2, 3)], 3, seed=0,
                          qs=[qparams(0.05, -3), qparams(0.1, 4)], out_q=qparams(0.05, -3))
    with pytest.raises(UnsupportedOpError, match="operator 0"):
        lower_graph(graph)
    # A fused activation other than NONE.
    graph, _, _ = _concat("float32", [(1, 2), (1, 2)], 1, seed=0)
    graph.ops[0].attrs["fused_activation"] = "RELU"
    with pytest.raises(UnsupportedOpError, match="operator 0"):
        lower_graph(graph)

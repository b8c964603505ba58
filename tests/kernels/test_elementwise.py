"""ADD / MUL against LiteRT's reference kernels (BUILTIN_REF).

int8 results must be bit-exact; float32 within 1e-5 relative / 1e-6 absolute (in practice they are exact).
"""

import zlib

import numpy as np
import pytest

from edgeprune.errors import UnsupportedOpError
from edgeprune.lower import lower_graph
from edgeprune.testing.single_op import qparams, run_both, single_op, tensor

ACTS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]
SHAPES = [
    ((1, 4, 5, 3), (1, 4, 5, 3)),  # same shape: flat loop
    ((2, 3, 7), (2, 3, 7)),
    ((1, 4, 5, 3), (3,)),  # per-channel vector
    ((1, 4, 5, 3), (1, 1, 1, 3)),
    ((3,), (1, 4, 5, 3)),  # broadcast on the first operand
    ((2, 1, 5, 1), (1, 4, 1, 3)),  # both broadcast
    ((4, 1), (1, 6)),
    ((1,), (2, 3)),  # scalar
    ((2, 3, 1), (3, 4)),  # different ranks
    ((2, 1, 3, 1, 2), (1, 2, 1, 4, 1)),  # 5-D
    ((1, 1, 1, 1), (1, 1, 1, 1)),
    ((1, 8, 8, 1), (1, 8, 8, 16)),
]


def _rand_q(rng, lo=0.004, hi=0.3):
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi)))), int(rng.integers(-128, 128))


def _out_shape(a, b):
    return tuple(np.broadcast_shapes(a, b))


def _run(kind, dtype, sa, sb, act, seed, const_b=False):
    rng = np.random.default_rng(seed)
    so = _out_shape(sa, sb)
    if dtype == "int8":
        qa, qb = qparams(*_rand_q(rng)), qparams(*_rand_q(rng))
        qo = qparams(*_rand_q(rng, 0.01, 0.5) if kind == "ADD" else _rand_q(rng, 0.0005, 0.05))
        da = rng.integers(-128, 128, size=sa).astype(np.int8)
        db = rng.integers(-128, 128, size=sb).astype(np.int8)
    else:
        qa = qb = qo = None
        da = rng.uniform(-3, 3, size=sa).astype(np.float32)
        db = rng.uniform(-3, 3, size=sb).astype(np.float32)
    a = tensor("a", sa, dtype, qa)
    b = tensor("b", sb, dtype, qb, data=db if const_b else None)
    y = tensor("y", so, dtype, qo)
    graph, fb = single_op(kind, [a, b], [y], {"fused_activation": act})
    ours, ref = run_both(graph, fb, [da] if const_b else [da, db])
    if dtype == "int8":
        np.testing.assert_array_equal(ours[0], ref[0])
    else:
        np.testing.assert_allclose(ours[0], ref[0], rtol=1e-5, atol=1e-6)
    return ours[0]


@pytest.mark.parametrize("kind", ["ADD", "MUL"])
@pytest.mark.parametrize("dtype", ["int8", "float32"])
@pytest.mark.parametrize("shapes", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_broadcast_shapes(kind, dtype, shapes):
    for i, act in enumerate(ACTS):
        _run(kind, dtype, shapes[0], shapes[1], act, seed=zlib.crc32(repr((kind, dtype, shapes, i)).encode()))


@pytest.mark.parametrize("kind", ["ADD", "MUL"])
@pytest.mark.parametrize("dtype", ["int8", "float32"])
def test_constant_operand(kind, dtype):
    for seed in range(4):
        _run(kind, dtype, (1, 3, 4, 8), (8,), ACTS[seed], seed=100 + seed, const_b=True)
        _run(kind, dtype, (1, 3, 4, 8), (1, 3, 4, 8), ACTS[seed], seed=200 + seed, const_b=True)


@pytest.mark.parametrize("kind", ["ADD", "MUL"])
def test_int8_random_quantization_sweep(kind):
    # Many random scales / zero points: the multipliers and rounding must match in every case.
    rng = np.random.default_rng(7 if kind == "ADD" else 8)
    for i in range(150):
        sa = tuple(int(v) for v in rng.integers(1, 6, size=int(rng.integers(1, 5))))
        sb = tuple(1 if rng.random() < 0.5 else d for d in sa)
        _run(kind, "int8", sa, sb, ACTS[i % 4], seed=1000 + i)


def test_add_equal_scales():
    # Equal input scales make real multipliers of exactly 0.5.
    rng = np.random.default_rng(3)
    a = tensor("a", (2, 5, 5, 4), "int8", qparams(0.05, -3))
    b = tensor("b", (2, 5, 5, 4), "int8", qparams(0.05, 10))
    y = tensor("y", (2, 5, 5, 4), "int8", qparams(0.1, 2))
    graph, fb = single_op("ADD", [a, b], [y], {"fused_activation": "NONE"})
    da = rng.integers(-128, 128, size=a.shape).astype(np.int8)
    db = rng.integers(-128, 128, size=b.shape).astype(np.int8)
    ours, ref = run_both(graph, fb, [da, db])
    np.testing.assert_array_equal(ours[0], ref[0])


def test_unsupported():
    a = tensor("a", (1, 4), "int16", qparams(0.1, 0))
    y = tensor("y", (1, 4), "int16", qparams(0.1, 0))
    graph, _ = single_op("ADD", [a, tensor("b", (1, 4), "int16", qparams(0.1, 0))], [y], {})
    with pytest.raises(UnsupportedOpError, match="operator 0"):
        lower_graph(graph)
    # An output scale so small that the ADD output multiplier exceeds 1 (TFLite aborts there).
    a = tensor("a", (1, 4), "int8", qparams(1.0, 0))
    b = tensor("b", (1, 4), "int8", qparams(1.0, 0))
    y = tensor("y", (1, 4), "int8", qparams(1e-7, 0))
    graph, _ = single_op("ADD", [a, b], [y], {})
    with pytest.raises(UnsupportedOpError, match="operator 0"):
        lower_graph(graph)
    # Per-channel quantized operand.
    a = tensor("a", (1, 2), "int8", qparams([0.1, 0.2], [0, 0], axis=1))
    b = tensor("b", (1, 2), "int8", qparams(0.1, 0))
    y = tensor("y", (1, 2), "int8", qparams(0.1, 0))
    graph, _ = single_op("MUL", [a, b], [y], {})
    with pytest.raises(UnsupportedOpError, match="operator 0"):
        lower_graph(graph)

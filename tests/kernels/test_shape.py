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

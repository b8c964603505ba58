"""Random CNN generator and post-training quantizer: well-formed, LiteRT-accepted, round-trip through .tflite."""

import numpy as np
import pytest

from edgeprune.backends.tflite_writer import graph_to_bytes, write_tflite
from edgeprune.importers import load_tflite
from edgeprune.testing.ptq import quantize_graph
from edgeprune.testing.random_models import ALL_OPS, calibration_inputs, random_cnn, random_int8_cnn
from edgeprune.testing.reference import litert_run

SEEDS = [0, 1, 7, 42]


def _roundtrip(graph, tmp_path):
    path = write_tflite(graph, tmp_path / f"{graph.name}.tflite")
    loaded = load_tflite(path)
    assert [op.kind for op in loaded.ops] == [op.kind for op in graph.ops]
    assert [t.shape for t in loaded.tensors] == [t.shape for t in graph.tensors]
    assert [t.dtype for t in loaded.tensors] == [t.dtype for t in graph.tensors]
    for a, b in zip(graph.ops, loaded.ops):
        for key, value in a.attrs.items():
            if not key.startswith("_"):
                assert b.attrs[key] == value, (a, key)
    for a, b in zip(graph.tensors, loaded.tensors):
        if a.data is not None:
            np.testing.assert_array_equal(a.data, b.data)
    return path


def _quantize_input(graph, x):
    q = graph.inputs[0].quant
    return np.clip(np.round(x / q.scalar_scale) + q.scalar_zero_point, -128, 127).astype(np.int8)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_cnn_float_and_int8(seed, tmp_path):
    g = random_cnn(seed)
    assert g.inputs[0].dtype == "float32" and {op.kind for op in g.ops} <= ALL_OPS
    path = _roundtrip(g, tmp_path)
    x = calibration_inputs(g, 1, seed + 1000)[0][0]
    f_out = litert_run(path, [x])[0]
    assert np.all(np.isfinite(f_out))

    q = quantize_graph(g, calibration_inputs(g, 8, seed))
    assert [op.kind for op in q.ops if op.kind != "QUANTIZE"] == [op.kind for op in g.ops]
    assert q.inputs[0].dtype == "int8" and q.outputs[0].dtype == "int8"
    qpath = _roundtrip(q, tmp_path)
    outs = [litert_run(qpath, [_quantize_input(q, x)])[0] for (x,) in calibration_inputs(g, 4, seed + 2000)]
    assert len(np.unique(np.concatenate([o.ravel() for o in outs]))) > 1  # not degenerate

    for op in q.ops:
        ins = [t for t in op.inputs if t is not None]
        if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            w, b = op.inputs[1], op.inputs[2]
            axis = 3 if op.kind == "DEPTHWISE_CONV_2D" else 0
            assert w.dtype == "int8" and w.quant.axis == axis
            assert w.quant.scale.size == w.shape[axis] == op.outputs[0].shape[-1]
            assert not w.quant.zero_point.any() and np.abs(w.data.astype(int)).max() == 127
            assert b.dtype == "int32" and not b.quant.zero_point.any()
            np.testing.assert_allclose(b.quant.scale, ins[0].quant.scalar_scale * w.quant.scale, rtol=1e-6)
        elif op.kind in ("SOFTMAX", "LOGISTIC"):
            assert op.outputs[0].quant.scalar_scale == 1 / 256 and op.outputs[0].quant.scalar_zero_point == -128
        elif op.kind in ("AVERAGE_POOL_2D", "MAX_POOL_2D", "RESHAPE", "PAD", "CONCATENATION"):
            for t in ins:
                if t.dtype == "int8":
                    assert t.quant.scalar_scale == op.outputs[0].quant.scalar_scale
                    assert t.quant.scalar_zero_point == op.outputs[0].quant.scalar_zero_point


def test_random_cnn_is_deterministic():
    assert graph_to_bytes(random_cnn(3)) == graph_to_bytes(random_cnn(3))
    assert graph_to_bytes(random_int8_cnn(3)) == graph_to_bytes(random_int8_cnn(3))
    assert graph_to_bytes(random_cnn(3)) != graph_to_bytes(random_cnn(4))


@pytest.mark.parametrize("ops", [
    {"CONV_2D", "MAX_POOL_2D", "FULLY_CONNECTED", "SOFTMAX", "RESHAPE"},
    {"DEPTHWISE_CONV_2D", "CONCATENATION", "PAD", "HARD_SWISH", "RELU6"},
    {"CONV_2D", "ADD", "MUL", "MEAN", "LOGISTIC", "AVERAGE_POOL_2D", "RELU"},
])
def test_op_subset_is_respected_and_covered(ops):
    q = random_int8_cnn(11, ops=ops, input_shape=(1, 16, 12, 3))
    kinds = {op.kind for op in q.ops} - {"QUANTIZE"}
    assert kinds == ops
    assert q.inputs[0].shape == (1, 16, 12, 3)
    x = np.random.default_rng(0).integers(-128, 128, size=(1, 16, 12, 3)).astype(np.int8)
    assert litert_run(graph_to_bytes(q), [x])[0].dtype == np.int8


def test_per_tensor_option():
    g = random_cnn(5, ops={"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"})
    q = quantize_graph(g, calibration_inputs(g, 4, 5), per_channel=False)
    for op in q.ops:
        if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            assert op.inputs[1].quant.scale.size == 1
    litert_run(graph_to_bytes(q), [np.zeros(q.inputs[0].shape, np.int8)])


def test_concat_inputs_share_output_quant():
    """int8 CONCATENATION in LiteRT needs equal parameters: free producers get the union range, a LOGISTIC input
    (fixed at 1/256) is requantized with QUANTIZE."""
    from edgeprune.testing.random_models import CnnBuilder

    b = CnnBuilder(np.random.default_rng(0), name="concat_q")
    x = b.input((1, 6, 6, 3))
    a = b.conv(x, 4, k=3, act="NONE")
    s = b.unary("LOGISTIC", x)
    y = b.concat([a, s, x])
    g = b.graph([b.conv(y, 5, k=1, act="RELU")])
    samples = calibration_inputs(g, 8, 0)
    q = quantize_graph(g, samples)
    kinds = [op.kind for op in q.ops]
    assert kinds.count("QUANTIZE") == 1
    cat = next(op for op in q.ops if op.kind == "CONCATENATION")
    for t in cat.inputs:
        assert t.quant.scalar_scale == cat.outputs[0].quant.scalar_scale
        assert t.quant.scalar_zero_point == cat.outputs[0].quant.scalar_zero_point
    x0 = samples[0][0]
    f = litert_run(graph_to_bytes(g), [x0])[0]
    o = litert_run(graph_to_bytes(q), [_quantize_input(q, x0)])[0]
    oq = q.outputs[0].quant
    deq = (o.astype(np.float64) - oq.scalar_zero_point) * oq.scalar_scale
    assert np.max(np.abs(deq - f)) < 0.1 * max(np.max(np.abs(f)), 1e-3)

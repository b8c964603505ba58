"""The TFLite importer on real models and on bad input."""

import numpy as np
import pytest

from edgeprune.backends.tflite_writer import graph_to_bytes
from edgeprune.errors import ModelFormatError, UnsupportedOpError
from edgeprune.importers import load_tflite
from edgeprune.testing.reference import litert_run
from edgeprune.testing.single_op import qparams, single_op, tensor


def _relu_model():
    x = tensor("x", (1, 4, 4, 3), "int8", qparams(0.05, -10))
    y = tensor("y", (1, 4, 4, 3), "int8", qparams(0.05, -10))
    return single_op("MAX_POOL_2D", [x], [y], {"padding": "SAME", "stride_w": 1, "stride_h": 1,
                                               "filter_width": 1, "filter_height": 1, "fused_activation": "NONE"})


def test_roundtrip_preserves_model(tmp_path):
    graph, fb = _relu_model()
    path = tmp_path / "m.tflite"
    path.write_bytes(fb)
    g = load_tflite(path)
    assert [op.kind for op in g.ops] == ["MAX_POOL_2D"]
    assert g.inputs[0].quant.scalar_zero_point == -10
    assert np.isclose(g.inputs[0].quant.scalar_scale, 0.05)
    assert g.ops[0].attrs["padding"] == "SAME"
    # Written back, LiteRT computes the same thing from both.
    x = np.arange(-24, 24, dtype=np.int8).reshape(1, 4, 4, 3)
    np.testing.assert_array_equal(litert_run(fb, [x])[0], litert_run(graph_to_bytes(g), [x])[0])


def test_per_channel_quantization_and_constants(tmp_path):
    w = np.arange(2 * 3 * 3 * 4, dtype=np.int8).reshape(2, 3, 3, 4)
    x = tensor("x", (1, 5, 5, 4), "int8", qparams(0.1, 1))
    f = tensor("w", (2, 3, 3, 4), "int8", qparams([0.01, 0.02], [0, 0], axis=0), data=w)
    b = tensor("b", (2,), "int32", qparams([0.001, 0.002], [0, 0]), data=np.array([5, -7]))
    y = tensor("y", (1, 5, 5, 2), "int8", qparams(0.2, -3))
    _, fb = single_op("CONV_2D", [x, f, b], [y], {"padding": "SAME", "stride_w": 1, "stride_h": 1,
                                                    "dilation_w_factor": 1, "dilation_h_factor": 1,
                                                    "fused_activation": "RELU"})
    path = tmp_path / "c.tflite"
    path.write_bytes(fb)
    g = load_tflite(path)
    conv = g.ops[0]
    assert conv.inputs[1].quant.per_channel and conv.inputs[1].quant.axis == 0
    np.testing.assert_array_equal(conv.inputs[1].data, w)
    assert conv.inputs[2].data.dtype == np.int32 and list(conv.inputs[2].data) == [5, -7]
    assert conv.attrs["fused_activation"] == "RELU"


def test_missing_file(tmp_path):
    with pytest.raises(ModelFormatError, match="no such file"):
        load_tflite(tmp_path / "nope.tflite")


def test_not_a_tflite_file(tmp_path):
    path = tmp_path / "junk.tflite"
    path.write_bytes(b"this is not a flatbuffer at all, just text" * 4)
    with pytest.raises(ModelFormatError, match="not a TFLite model"):
        load_tflite(path)


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9])
def test_truncated_model(tmp_path, keep):
    _, fb = _relu_model()
    path = tmp_path / "t.tflite"
    path.write_bytes(fb[: int(len(fb) * keep)])
    with pytest.raises(ModelFormatError, match="t.tflite"):
        load_tflite(path)


def test_unsupported_op_is_named(tmp_path):
    graph, fb = _relu_model()
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(fb, 0)
    model.operatorCodes[0].builtinCode = schema.BuiltinOperator.TANH
    model.operatorCodes[0].deprecatedBuiltinCode = schema.BuiltinOperator.TANH
    import flatbuffers

    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    path = tmp_path / "tanh.tflite"
    path.write_bytes(bytes(b.Output()))
    with pytest.raises(UnsupportedOpError, match=r"TANH \(operator 0\)"):
        load_tflite(path)


def test_unsupported_tensor_type(tmp_path):
    x = tensor("x", (1, 4), "float32")
    y = tensor("y", (1, 4), "float32")
    _, fb = single_op("RELU", [x], [y])
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(fb, 0)
    model.subgraphs[0].tensors[0].type = schema.TensorType.COMPLEX64
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    path = tmp_path / "c64.tflite"
    path.write_bytes(bytes(b.Output()))
    with pytest.raises(UnsupportedOpError, match="unsupported type COMPLEX64"):
        load_tflite(path)


def test_shared_models_import(shared_model):
    g = load_tflite(shared_model("kws_ref_model.tflite"))
    assert [op.kind for op in g.ops][:2] == ["CONV_2D", "DEPTHWISE_CONV_2D"]
    assert g.inputs[0].shape == (1, 49, 10, 1) and g.inputs[0].dtype == "int8"

"""PyTorch -> int8 .tflite (PT2E + litert-torch): all-int8 ops, bit-exact host lowering, accuracy vs float torch.

Three small models (tests/prune/models.py) are converted once per session (~10 s each on one core).
Observed argmax agreement of the int8 model with float torch on 32 random inputs (seeded, random-init weights):
residual 28/32, concat 23/32 strict and 32/32 counting ties (its softmax output has 1/256 steps and the
near-uniform probabilities of an untrained net often tie), mobile 32/32.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (PyTorch export needs torch and litert-torch)")
pytest.importorskip("litert_torch", reason="litert-torch is not installed (PyTorch export needs it)")

from edgeprune.errors import EdgePruneError, ModelFormatError
from edgeprune.importers import load_tflite
from edgeprune.importers.torch_model import load_factory, load_weights, parse_input_shape
from edgeprune.lower import lower_graph
from edgeprune.prune.export import (
    expand_grouped_convs,
    export_float_tflite,
    export_int8_tflite,
    float_ops,
    last_conversion_log,
)
from edgeprune.runtime.host import run_program
from edgeprune.testing.reference import deterministic_input, litert_run

torch.set_num_threads(1)

MODELS_PY = Path(__file__).resolve().parent / "models.py"
# name -> (input shape, minimum strict argmax agreement out of 32); with ties counted all must reach 28
MODELS = {
    "residual_net": ((1, 1, 16, 16), 24),
    "concat_net": ((1, 3, 12, 12), 18),
    "mobile_net": ((1, 3, 16, 16), 24),
}
EXPECTED_KINDS = {
    "residual_net": {"CONV_2D", "ADD", "MAX_POOL_2D", "AVERAGE_POOL_2D", "MEAN", "FULLY_CONNECTED"},
    "concat_net": {"CONCATENATION", "RELU", "MAX_POOL_2D", "AVERAGE_POOL_2D", "MEAN", "SOFTMAX"},
    "mobile_net": {"DEPTHWISE_CONV_2D", "CONV_2D", "HARD_SWISH", "MEAN", "FULLY_CONNECTED", "LOGISTIC"},
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """name -> (torch model, tflite bytes, path), converted once."""
    out = {}
    folder = tmp_path_factory.mktemp("export")
    for name, (shape, _) in MODELS.items():
        model = load_factory(f"{MODELS_PY}:{name}")
        gen = torch.Generator().manual_seed(1)
        calibration = [torch.randn((16, *shape[1:]), generator=gen)]  # one batch, split to the example's size
        data = export_int8_tflite(model, torch.zeros(shape), calibration)
        path = folder / f"{name}.tflite"
        path.write_bytes(data)
        out[name] = (model, data, path)
    return out


def _quantize(x: np.ndarray, detail) -> np.ndarray:
    scale, zp = detail["quantization"]
    return np.clip(np.round(x / scale) + zp, -128, 127).astype(np.int8)


def _io_details(data: bytes):
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=data)
    return interp.get_input_details()[0], interp.get_output_details()[0]


@pytest.mark.parametrize("name", list(MODELS))
def test_int8_model_has_int8_io_and_no_float_ops(exported, name):
    _, data, path = exported[name]
    graph = load_tflite(path)
    assert graph.inputs[0].dtype == "int8" and graph.outputs[0].dtype == "int8"
    assert float_ops(data) == []
    kinds = {op.kind for op in graph.ops}
    assert EXPECTED_KINDS[name] <= kinds, kinds
    # No requantization either: cat(maxpool(x), avgpool(x)) keeps x's scale throughout.
    assert {"QUANTIZE", "DEQUANTIZE"}.isdisjoint(kinds), kinds


@pytest.mark.parametrize("name", list(MODELS))
def test_host_lowering_bit_exact_with_litert(exported, name):
    _, data, path = exported[name]
    graph = load_tflite(path)
    program = lower_graph(graph)
    shape = graph.inputs[0].shape
    for seed in range(4):
        x = deterministic_input(shape, "int8", seed)
        ref = litert_run(data, [x])[0]
        got = run_program(program, [x])[0]
        np.testing.assert_array_equal(got.reshape(ref.shape), ref, err_msg=f"{name} seed {seed}")


@pytest.mark.parametrize("name", list(MODELS))
def test_int8_argmax_agrees_with_float_torch(exported, name):
    model, data, _ = exported[name]
    shape, minimum = MODELS[name]
    din, dout = _io_details(data)
    gen = torch.Generator().manual_seed(7)
    agree = with_ties = 0
    for _ in range(32):
        x = torch.randn(shape, generator=gen)
        with torch.no_grad():
            ref = model(x).numpy()
        y = litert_run(data, [_quantize(x.numpy(), din)])[0].astype(np.float32)
        scale, zp = dout["quantization"]
        y = ((y - zp) * scale).reshape(-1)
        agree += int(np.argmax(y) == np.argmax(ref))
        with_ties += int(y[np.argmax(ref)] == y.max())
    msg = f"{name}: int8 argmax agrees with float torch on {agree}/32 inputs ({with_ties}/32 counting ties)"
    assert agree >= minimum and with_ties >= 28, msg


def test_float_export_is_quiet(capfd, tmp_path):
    model = load_factory(f"{MODELS_PY}:residual_net")
    data = export_float_tflite(model, torch.zeros(1, 1, 16, 16))
    out, err = capfd.readouterr()
    assert out == "" and err == "", (out[:500], err[:500])
    assert isinstance(last_conversion_log(), str)
    path = tmp_path / "float.tflite"
    path.write_bytes(data)
    graph = load_tflite(path)
    assert graph.inputs[0].dtype == "float32" and graph.outputs[0].dtype == "float32"
    assert "FULLY_CONNECTED" in float_ops(data) and "CONV_2D" in float_ops(data)


def test_expand_grouped_convs_is_exact():
    from torch import nn

    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(8, 12, 3, padding=1, groups=4), nn.Conv2d(12, 12, 3, groups=12)).eval()
    dense = expand_grouped_convs(m)
    assert dense[0].groups == 1 and dense[1].groups == 12 and m[0].groups == 4  # depthwise kept, original intact
    x = torch.randn(2, 8, 7, 7)
    with torch.no_grad():
        torch.testing.assert_close(dense(x), m(x), rtol=1e-5, atol=1e-5)


def test_float_ops_names_float_islands():
    from edgeprune.backends.tflite_writer import graph_to_bytes
    from edgeprune.ir import Graph, Op
    from edgeprune.testing.single_op import qparams, tensor

    q = qparams(0.05, 3)
    f_in, i1 = tensor("in", (1, 8), "float32"), tensor("q1", (1, 8), "int8", q)
    i2, f3 = tensor("r", (1, 8), "int8", q), tensor("dq", (1, 8), "float32")
    f4, i5 = tensor("hs", (1, 8), "float32"), tensor("q2", (1, 8), "int8", q)
    f_out = tensor("out", (1, 8), "float32")
    ops = [Op("QUANTIZE", [f_in], [i1]), Op("RELU", [i1], [i2]), Op("DEQUANTIZE", [i2], [f3]),
           Op("HARD_SWISH", [f3], [f4]), Op("QUANTIZE", [f4], [i5]), Op("DEQUANTIZE", [i5], [f_out])]
    graph = Graph(tensors=[f_in, i1, i2, f3, f4, i5, f_out], ops=ops, inputs=[f_in], outputs=[f_out])
    graph.renumber()
    # The boundary QUANTIZE / DEQUANTIZE are the float interface; the island in the middle is named.
    assert float_ops(graph_to_bytes(graph)) == ["DEQUANTIZE", "HARD_SWISH", "QUANTIZE"]
    with pytest.raises(EdgePruneError):
        float_ops(b"not a model")


# ---------------------------------------------------------------------------------------------- loader errors


def test_load_factory_errors(tmp_path):
    with pytest.raises(ModelFormatError, match="no such file"):
        load_factory(f"{tmp_path / 'nope.py'}:make")
    with pytest.raises(ModelFormatError, match="expected path/file.py:factory"):
        load_factory(str(MODELS_PY))
    with pytest.raises(ModelFormatError, match=r"models\.py.*no attribute 'missing'"):
        load_factory(f"{MODELS_PY}:missing")
    with pytest.raises(ModelFormatError, match="'not_callable' is not callable"):
        load_factory(f"{MODELS_PY}:not_callable")
    with pytest.raises(ModelFormatError, match=r"'not_a_module\(\)' returned a dict"):
        load_factory(f"{MODELS_PY}:not_a_module")
    broken = tmp_path / "broken.py"
    broken.write_text("import no_such_module_xyz\n")
    with pytest.raises(ModelFormatError, match="broken.py: importing the file failed"):
        load_factory(f"{broken}:make")


def test_load_weights(tmp_path):
    model = load_factory(f"{MODELS_PY}:residual_net")
    sd = {k: v.clone() + 1 for k, v in model.state_dict().items()}
    plain, wrapped = tmp_path / "plain.pt", tmp_path / "wrapped.pt"
    torch.save(sd, plain)
    torch.save({"state_dict": sd, "epoch": 3}, wrapped)
    for path in (plain, wrapped):
        fresh = load_factory(f"{MODELS_PY}:residual_net")
        load_weights(fresh, path)
        torch.testing.assert_close(fresh.fc.weight, sd["fc.weight"])
    torch.save({"model": {f"module.{k}": v for k, v in sd.items()}}, tmp_path / "dp.pt")
    load_weights(load_factory(f"{MODELS_PY}:residual_net"), tmp_path / "dp.pt")

    bad_shape = dict(sd, **{"fc.weight": torch.zeros(3, 3)})
    torch.save(bad_shape, tmp_path / "shape.pt")
    with pytest.raises(ModelFormatError, match=r"'fc.weight' has shape \(3, 3\)"):
        load_weights(model, tmp_path / "shape.pt")
    missing = {k: v for k, v in sd.items() if k != "stem.0.weight"}
    torch.save(missing, tmp_path / "missing.pt")
    with pytest.raises(ModelFormatError, match="missing key 'stem.0.weight'"):
        load_weights(model, tmp_path / "missing.pt")
    torch.save(dict(sd, extra=torch.zeros(1)), tmp_path / "extra.pt")
    with pytest.raises(ModelFormatError, match="unexpected key 'extra'"):
        load_weights(model, tmp_path / "extra.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ModelFormatError, match="junk.pt"):
        load_weights(model, tmp_path / "junk.pt")
    with pytest.raises(ModelFormatError, match="no such file"):
        load_weights(model, tmp_path / "absent.pt")


def test_parse_input_shape():
    assert parse_input_shape("1,1,28,28") == (1, 1, 28, 28)
    assert parse_input_shape(" 1, 3, 32, 32 ") == (1, 3, 32, 32)
    assert parse_input_shape("1x10") == (1, 10)
    for bad in ("", "1,,2", "1,-3", "a,b", "1,0,2", "1.5,2"):
        with pytest.raises(EdgePruneError, match="input shape"):
            parse_input_shape(bad)

"""The ONNX importer against onnxruntime: torch models exported to ONNX, imported, written to .tflite and run
in LiteRT (float) must match onnxruntime within 1e-4 (LiteRT is fed NHWC, onnxruntime NCHW)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from torch import nn

from edgeprune.backends.tflite_writer import graph_to_bytes
from edgeprune.errors import ModelFormatError, UnsupportedOpError
from edgeprune.importers.onnx import load_onnx
from edgeprune.importers.tflite import load_tflite
from edgeprune.testing.reference import litert_run

torch.set_num_threads(1)


def _export(model: nn.Module, shape, path, seed: int = 0):
    torch.manual_seed(seed)
    model.eval()
    for m in model.modules():  # non-trivial batch-norm statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    x = torch.randn(*shape)
    torch.onnx.export(model, (x,), str(path), opset_version=17, dynamo=False, input_names=["x"],
                      output_names=["y"])
    return path


def _check(model: nn.Module, shape, tmp_path, seed: int = 0, n: int = 3):
    path = _export(model, shape, tmp_path / "m.onnx", seed)
    graph = load_onnx(path)
    fb = graph_to_bytes(graph)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    for _ in range(n):
        x = rng.standard_normal(shape).astype(np.float32)
        want = sess.run(None, {"x": x})[0]
        xin = x.transpose(0, 2, 3, 1) if x.ndim == 4 else x
        got = litert_run(fb, [xin])[0]
        if want.ndim == 4:
            got = got.transpose(0, 3, 1, 2)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)
    return graph


class Small(nn.Module):
    """conv+bn+relu, depthwise, relu6, maxpool, flatten (C,H,W order) -> linear -> softmax."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.dw = nn.Conv2d(8, 16, 3, stride=2, padding=1, groups=8)
        self.c2 = nn.Conv2d(16, 6, 1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(6 * 2 * 2, 5)

    def forward(self, x):
        x = torch.relu(self.bn1(self.c1(x)))
        x = nn.functional.relu6(self.dw(x))
        x = self.pool(self.c2(x))
        return torch.softmax(self.fc(torch.flatten(x, 1)), dim=1)


def test_small_cnn_matches_onnxruntime(tmp_path):
    g = _check(Small(), (1, 3, 8, 8), tmp_path)
    kinds = [op.kind for op in g.ops]
    # stride-2 pad-1 on an even size is not TFLite's SAME (which pads 0 before, 1 after): PAD + VALID
    assert kinds == ["CONV_2D", "PAD", "DEPTHWISE_CONV_2D", "CONV_2D", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED",
                     "SOFTMAX"], kinds
    assert g.ops[0].attrs["fused_activation"] == "RELU"  # batch norm folded, relu fused
    assert g.ops[2].attrs["fused_activation"] == "RELU6" and g.ops[2].attrs["depth_multiplier"] == 2
    assert g.inputs[0].shape == (1, 8, 8, 3)  # NHWC input


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.c0 = nn.Conv2d(2, 8, 3, padding=1)
        self.c1 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 4, 1)
        self.head = nn.Linear(12, 3)

    def forward(self, x):
        x = torch.relu(self.c0(x))
        y = torch.relu(x + self.c1(x))  # ADD + fused RELU
        y = self.bn(y)  # standalone batch norm -> MUL + ADD
        c = self.c2(y)
        z = torch.cat([c, torch.sigmoid(c)], dim=1)
        z = nn.functional.hardswish(z) * 0.5 + 1.0
        g = nn.functional.adaptive_avg_pool2d(z, 1)  # GlobalAveragePool
        g = torch.cat([g, nn.functional.adaptive_max_pool2d(c, 1)], dim=1).flatten(1)  # GlobalMaxPool
        return self.head(g)


def test_residual_concat_globalpool(tmp_path):
    g = _check(Residual(), (1, 2, 7, 6), tmp_path)
    add = next(op for op in g.ops if op.kind == "ADD")
    assert add.attrs["fused_activation"] == "RELU"
    assert {"MEAN", "CONCATENATION", "MUL", "MAX_POOL_2D"} <= {op.kind for op in g.ops}


class Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.c0 = nn.Conv2d(3, 6, (3, 2), stride=(1, 2), dilation=(2, 1), padding=(2, 0))
        self.bn = nn.BatchNorm2d(6)
        self.c1 = nn.Conv2d(6, 6, 2, stride=1, padding=0)
        self.c2 = nn.Conv2d(12, 4, 3, padding=1)
        self.avg = nn.AvgPool2d(2, 2)
        self.fc1 = nn.Linear(4 * 4 * 2, 10)
        self.fc2 = nn.Linear(10, 3)

    def forward(self, x):
        x = nn.functional.pad(torch.relu(self.bn(self.c0(x))), (0, 1, 1, 0))  # asymmetric Pad
        y = torch.sigmoid(self.c1(x))
        x = torch.cat([y, y * 2.0], dim=1)
        x = nn.functional.hardswish(self.c2(x))
        x = self.avg(x + 0.25)
        x = torch.clamp(self.fc1(x.reshape(x.shape[0], -1)), 0, 6)
        return self.fc2(x)


def test_mixed_ops(tmp_path):
    g = _check(Mixed(), (1, 3, 9, 10), tmp_path)
    kinds = [op.kind for op in g.ops]
    assert "PAD" in kinds and "CONCATENATION" in kinds and "HARD_SWISH" in kinds
    assert "TRANSPOSE" not in kinds  # flatten handled by permuting fc1's weights


class AsymConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.pad = nn.ZeroPad2d((1, 0, 2, 1))
        self.c = nn.Conv2d(2, 3, 3, stride=2)
        self.c2 = nn.Conv2d(3, 3, 3, padding=1, stride=2)  # symmetric pads that are not TFLite SAME on even size

    def forward(self, x):
        return torch.relu(self.c2(torch.relu(self.c(self.pad(x)))))


def test_asymmetric_padding_and_nhwc_output(tmp_path):
    g = _check(AsymConv(), (1, 2, 10, 10), tmp_path)
    assert g.outputs[0].shape[-1] == 3  # 4-D outputs are NHWC


class MatMulAdd(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(6, 4))
        self.b = nn.Parameter(torch.randn(4))

    def forward(self, x):
        return torch.relu(x @ self.w + self.b)


def test_matmul_add_folds_into_fully_connected(tmp_path):
    g = _check(MatMulAdd(), (2, 6), tmp_path)
    assert [op.kind for op in g.ops] == ["FULLY_CONNECTED"]
    assert g.ops[0].attrs["fused_activation"] == "RELU"


class FlatOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(2, 3, 1)

    def forward(self, x):
        return torch.flatten(self.c(x), 1)


def test_flatten_to_output_keeps_chw_order(tmp_path):
    g = _check(FlatOut(), (1, 2, 3, 4), tmp_path)
    assert "TRANSPOSE" in [op.kind for op in g.ops]


def test_roundtrip_through_tflite_loader(tmp_path):
    path = _export(Small(), (1, 3, 8, 8), tmp_path / "m.onnx")
    (tmp_path / "m.tflite").write_bytes(graph_to_bytes(load_onnx(path)))
    g = load_tflite(tmp_path / "m.tflite")
    assert g.ops[0].kind == "CONV_2D"


def test_unsupported_op_names_type_node_and_index(tmp_path):
    class Up(nn.Module):
        def forward(self, x):
            return nn.functional.leaky_relu(x, 0.1)

    path = _export(Up(), (1, 2, 4, 4), tmp_path / "m.onnx")
    with pytest.raises(UnsupportedOpError, match=r"LeakyRelu.*node '.*'.*index 0"):
        load_onnx(path)


def test_malformed_file_names_the_file(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage\xff\xff\xff")
    with pytest.raises(ModelFormatError, match="bad.onnx"):
        load_onnx(bad)
    with pytest.raises(ModelFormatError, match="missing.onnx"):
        load_onnx(tmp_path / "missing.onnx")

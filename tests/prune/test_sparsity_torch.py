"""Block masks on a PyTorch model survive fine-tuning and PT2E int8 export: the exported filters have the
same zero blocks, and the DSP lowering runs them with the sparse kernels, bit-exact with LiteRT."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed")
pytest.importorskip("litert_torch", reason="litert-torch is not installed (PyTorch export needs it)")

from edgeprune.backends.tflite_writer import graph_to_bytes  # noqa: E402
from edgeprune.importers import load_tflite  # noqa: E402
from edgeprune.lower import lower_graph  # noqa: E402
from edgeprune.prune.export import export_int8_tflite  # noqa: E402
from edgeprune.prune.finetune import finetune  # noqa: E402
from edgeprune.prune.sparsity_torch import apply_masks, block_masks, density, make_permanent  # noqa: E402
from edgeprune.runtime.host import run_program  # noqa: E402
from edgeprune.testing.reference import litert_run  # noqa: E402


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(16, 32, 3, padding=1)
        self.pw = torch.nn.Conv2d(32, 32, 1)
        self.fc = torch.nn.Linear(32, 10)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        x = torch.relu(self.pw(x))
        return self.fc(x.mean(dim=(2, 3)))


def test_masks_kept_through_finetuning_and_export(tmp_path):
    torch.manual_seed(0)
    model = Net().eval()
    masks = block_masks(model, 0.75, "2x4")
    assert set(masks) == {model.conv2, model.pw, model.fc}  # conv1 (K = 9) stays dense
    assert density(masks) == pytest.approx(0.25, abs=0.02)
    apply_masks(masks)
    x = torch.randn(64, 1, 8, 8)
    y = torch.randint(0, 10, (64,))
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)
    finetune(model, data, data, 1, progress=False)
    make_permanent(masks)
    for m, mask in masks.items():
        assert torch.all(m.weight[mask == 0] == 0)
    tflite = export_int8_tflite(model, torch.zeros(1, 1, 8, 8), [x[i:i + 1] for i in range(8)])
    path = tmp_path / "m.tflite"
    path.write_bytes(tflite)
    graph = load_tflite(path)
    weights = [op.inputs[1] for op in graph.ops if op.kind in ("CONV_2D", "FULLY_CONNECTED")]
    sparse = [w for w in weights if np.count_nonzero(w.data) <= 0.26 * w.data.size]
    assert len(sparse) == 3
    program = lower_graph(graph, {"dsp"})
    funcs = [c.func for c in program.calls]
    assert "ep_conv2d_s8_sparse_dsp" in funcs and "ep_conv2d_1x1_s8_sparse_dsp" in funcs
    xin = np.random.default_rng(0).integers(-128, 128, graph.inputs[0].shape).astype(np.int8)
    np.testing.assert_array_equal(run_program(program, [xin])[0], litert_run(graph_to_bytes(graph), [xin])[0])


def test_prune_torch_sparsity_auto_meets_latency():
    """`sparsity="auto"` with a latency budget only: channels stay, the chosen block sparsity is the one the
    exported int8 model needs, and the final report measures the sparse model within the budget."""
    from edgeprune.prune.api import prune_torch
    from edgeprune.prune.budgets import parse_budgets
    from edgeprune.targets import load_profile

    torch.manual_seed(0)
    model = Net().eval()
    example = torch.zeros(1, 1, 8, 8)
    calibration = [torch.randn(1, 1, 8, 8) for _ in range(8)]
    outcome = prune_torch(model, example, load_profile("cortex-m7"), parse_budgets({"latency": "80%"}),
                          calibration=calibration, sparsity="auto", on_event=None)
    report = outcome.report
    assert 0.0 < report["sparsity"]["chosen"] < 0.9
    assert report["budgets"]["latency"]["met"]
    assert report["pruned"]["macs"] == report["dense"]["macs"] > report["pruned"]["nonzero_macs"]


def test_gradual_sparsity_with_training_data():
    """With training data the masks rise in steps (BatchNorm re-estimated, one epoch each) to the requested
    share; the exported filters hold it and the report records the steps and the accuracies."""
    from edgeprune.prune.api import prune_torch
    from edgeprune.targets import load_profile
    from edgeprune.testing.torch_nets import ResidualNet, quadrant_loaders

    torch.manual_seed(0)
    train, val = quadrant_loaders()
    model = ResidualNet().eval()
    example = torch.zeros(1, 1, 28, 28)
    outcome = prune_torch(model, example, load_profile("cortex-m7"), [], calibration=[x[:1] for x, _ in train],
                          train_loader=train, val_loader=val, epochs=4, sparsity=0.5)
    info = outcome.report["sparsity"]
    assert info["steps"] == 2 and info["density"] == pytest.approx(0.5, abs=0.03)
    assert 0.0 <= info["accuracy_masked"] <= 1.0 and info["accuracy_finetuned"] >= info["accuracy_masked"] - 0.05
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.tflite"
        path.write_bytes(outcome.tflite)
        graph = load_tflite(path)
    deep = [op.inputs[1].data for op in graph.ops if op.kind in ("CONV_2D", "FULLY_CONNECTED")
            and op.inputs[1].data.size // op.inputs[1].data.shape[0] >= 16]
    assert deep and all(np.count_nonzero(w) <= 0.53 * w.size for w in deep)

"""`edgeprune prune` and `edgeprune build --macs ...` as users run them: budgets met on the written model as
`inspect` measures it, and one-line errors with no partial output for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="PyTorch is not installed")
pytest.importorskip("litert_torch", reason="litert-torch is not installed")

import edgeprune  # noqa: E402

REPO_PATH = str(Path(edgeprune.__file__).resolve().parents[1])


def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "edgeprune", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=900)


def one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


@pytest.fixture
def factory(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(textwrap.dedent(f'''
        import sys, torch
        sys.path.insert(0, {REPO_PATH!r})
        from edgeprune.testing.torch_nets import ResidualNet
        def make():
            torch.manual_seed(0)
            return ResidualNet(width=16)
        def loaders():
            x = torch.randn(64, 1, 28, 28); y = torch.randint(0, 10, (64,))
            dl = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)
            return dl, dl
        def bad_loaders():
            x = torch.randn(64, 3, 32, 32); y = torch.randint(0, 10, (64,))
            dl = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)
            return dl, dl
    '''))
    return path


def inspect(model, tmp_path):
    proc = run("inspect", model, "--target", "cortex-m4", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_torch_model_pruned_to_macs_and_ram(factory, tmp_path):
    out = tmp_path / "pruned.tflite"
    proc = run("prune", f"{factory}:make", "--input-shape", "1,1,28,28", "--target", "cortex-m4",
               "--macs", "50%", "--ram", "70%", "--data", f"{factory}:loaders", "--epochs", "1", "-o", out,
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.with_suffix(".report.json").read_text())
    measured = inspect(out, tmp_path)
    assert measured["macs"] <= report["dense"]["macs"] * 0.5
    assert measured["peak_ram_bytes"] <= report["dense"]["peak_ram_bytes"] * 0.7
    assert report["float_ops"] == []
    assert {"macs", "ram"} == set(report["budgets"]) and all(b["met"] for b in report["budgets"].values())
    # With --data, channels per group come from the allocation search: every candidate is listed, one chosen.
    assert report["allocation"] == "search"
    cands = report["allocation_candidates"]
    assert {"uniform", "global"} <= {c["name"] for c in cands} and sum(c["chosen"] for c in cands) == 1
    chosen = next(c for c in cands if c["chosen"])
    assert chosen["adaptive_bn_accuracy"] == max(c["adaptive_bn_accuracy"] for c in cands)


def test_allocation_search_needs_data(factory, tmp_path):
    out = tmp_path / "pruned.tflite"
    proc = run("prune", f"{factory}:make", "--input-shape", "1,1,28,28", "--target", "cortex-m4",
               "--macs", "50%", "--allocation", "search", "-o", out, cwd=tmp_path)
    one_line_error(proc, "--allocation search", "--data")
    assert not out.exists()


def test_build_runs_the_whole_chain(factory, tmp_path):
    out = tmp_path / "c"
    proc = run("build", f"{factory}:make", "--input-shape", "1,1,28,28", "--target", "cortex-m7",
               "--flash", "30KiB", "-o", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["flash_bytes"] <= 30 * 1024
    verify = run("verify", out, "--inputs", "2", "--json", cwd=tmp_path)
    assert verify.returncode == 0 and json.loads(verify.stdout)["bit_exact"] is True


def test_tflite_one_shot(tmp_path):
    from edgeprune.backends.tflite_writer import write_tflite
    from edgeprune.testing.random_models import random_int8_cnn
    from edgeprune.testing.reference import litert_run

    model = write_tflite(random_int8_cnn(1), tmp_path / "cnn.tflite")
    dense = inspect(model, tmp_path)
    out = tmp_path / "cnn_pruned.tflite"
    proc = run("prune", model, "--target", "cortex-m4", "--macs", "60%", "-o", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert inspect(out, tmp_path)["macs"] <= 0.6 * dense["macs"]
    from edgeprune.importers import load_tflite

    g = load_tflite(out)
    x = np.random.default_rng(0).integers(-128, 128, g.inputs[0].shape).astype(np.int8)
    assert litert_run(out, [x])[0].shape == tuple(g.outputs[0].shape)


def test_impossible_budget(factory, tmp_path):
    out = tmp_path / "p.tflite"
    proc = run("prune", f"{factory}:make", "--input-shape", "1,1,28,28", "--target", "cortex-m4", "--ram", "100",
               "-o", out, cwd=tmp_path)
    one_line_error(proc, "--ram", "smallest reachable")
    assert not out.exists() and not out.with_suffix(".report.json").exists()


def test_bad_units(factory, tmp_path):
    proc = run("prune", f"{factory}:make", "--input-shape", "1,1,28,28", "--target", "cortex-m4", "--flash",
               "12 parsecs", "-o", tmp_path / "p.tflite", cwd=tmp_path)
    one_line_error(proc, "--flash")


def test_loader_with_wrong_shape(factory, tmp_path):
    proc = run("prune", f"{factory}:make", "--input-shape", "1,1,28,28", "--target", "cortex-m4", "--macs", "50%",
               "--data", f"{factory}:bad_loaders", "--epochs", "1", "-o", tmp_path / "p.tflite", cwd=tmp_path)
    one_line_error(proc, "(16, 3, 32, 32)")


def test_untraceable_model_names_the_layer(tmp_path):
    path = tmp_path / "gate.py"
    path.write_text(textwrap.dedent('''
        import torch, torch.nn as nn
        class Gate(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(4, 4, 3, padding=1)
            def forward(self, x):
                if x.mean() > 0:
                    return self.conv(x)
                return x
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.stem = nn.Conv2d(1, 4, 3, padding=1)
                self.gate = Gate()
                self.fc = nn.Linear(4, 10)
            def forward(self, x):
                return self.fc(self.gate(self.stem(x)).mean((2, 3)))
        def make():
            return Net()
    '''))
    proc = run("prune", f"{path}:make", "--input-shape", "1,1,8,8", "--target", "cortex-m4", "--macs", "50%",
               "-o", tmp_path / "p.tflite", cwd=tmp_path)
    one_line_error(proc, "layer 'gate'", "Gate")


def test_sweep_writes_models_and_pareto_plot(tmp_path):
    from edgeprune.backends.tflite_writer import write_tflite
    from edgeprune.testing.random_models import random_int8_cnn

    model = write_tflite(random_int8_cnn(1), tmp_path / "cnn.tflite")
    proc = run("prune", model, "--target", "cortex-m7", "--macs", "80%,60%", "-o", tmp_path / "p.tflite", "--json",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    sweep = json.loads(proc.stdout)
    assert [row["budget"] for row in sweep["sweep"]] == ["--macs 80%", "--macs 60%"]
    assert sweep["sweep"][1]["macs"] < sweep["sweep"][0]["macs"]
    png = Path(sweep["plot"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for row in sweep["sweep"]:
        assert Path(row["model"]).is_file()

"""Fine-tuning after pruning: it recovers accuracy, keeps the best validation epoch, checks loader shapes,
and runs under torchrun with two processes (DDP over gloo)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed")

from edgeprune.errors import EdgePruneError  # noqa: E402
from edgeprune.prune.finetune import check_loader_shape, evaluate, finetune  # noqa: E402
from edgeprune.testing.torch_nets import ResidualNet  # noqa: E402
from edgeprune.testing.torch_nets import quadrant_loaders as _loaders  # noqa: E402

torch.set_num_threads(1)


def test_finetune_learns_and_keeps_best():
    torch.manual_seed(0)
    model = ResidualNet(classes=4, width=8)
    train, val = _loaders()
    before = evaluate(model, val)
    result = finetune(model, train, val, epochs=3, lr=3e-2, teacher=None, progress=False)
    assert result.best_accuracy >= 0.9 > before
    assert evaluate(model, val) == pytest.approx(result.best_accuracy)


def test_distillation_from_teacher_runs():
    torch.manual_seed(0)
    teacher = ResidualNet(classes=4, width=8)
    train, val = _loaders()
    finetune(teacher, train, val, epochs=3, lr=3e-2, progress=False)
    torch.manual_seed(0)
    student = ResidualNet(classes=4, width=8)
    result = finetune(student, train, val, epochs=3, lr=3e-2, teacher=teacher, progress=False)
    assert result.best_accuracy > 0.5


def test_wrong_loader_shape_is_one_clear_error():
    train, _ = _loaders(64)
    with pytest.raises(EdgePruneError, match=r"yields inputs of shape \(32, 1, 28, 28\).*\(N, 3, 32, 32\)"):
        check_loader_shape(train, torch.zeros(1, 3, 32, 32), "training")


SCRIPT = textwrap.dedent('''
    import json, os, sys, torch
    torch.set_num_threads(1)
    sys.path[:0] = {paths!r}
    from edgeprune.prune.finetune import finetune, evaluate
    from edgeprune.testing.torch_nets import ResidualNet, quadrant_loaders
    torch.manual_seed(0)
    train, _ = quadrant_loaders(128, batch_size=16)
    model = ResidualNet(classes=4, width=4)
    res = finetune(model, train, train, epochs=3, lr=3e-2, progress=False)
    checksum = float(sum(p.double().sum() for p in model.parameters()))
    rank = int(os.environ["RANK"])
    with open(os.path.join({out!r}, f"rank{{rank}}.json"), "w") as f:
        json.dump({{"checksum": checksum, "best": res.best_accuracy, "world": int(os.environ["WORLD_SIZE"])}}, f)
''')


def test_torchrun_two_processes(tmp_path):
    import edgeprune

    paths = [str(__import__("pathlib").Path(edgeprune.__file__).resolve().parents[1])]
    script = tmp_path / "ddp.py"
    script.write_text(SCRIPT.format(paths=paths, out=str(tmp_path)))
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(script)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world"] == 2 for r in ranks)
    # DDP keeps the replicas identical.
    assert ranks[0]["checksum"] == pytest.approx(ranks[1]["checksum"], rel=1e-9)
    assert ranks[0]["best"] > 0.5

"""Accuracy-aware allocation (edgeprune/prune/allocation.py): candidates meet the budgets, BatchNorm statistics
are re-estimated exactly, uniform allocation is uniform, and the search keeps its best-scoring candidate."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed")
pytest.importorskip("torch_pruning", reason="torch-pruning is not installed")

from edgeprune.prune.allocation import AllocationSearch, adaptive_bn_score  # noqa: E402
from edgeprune.prune.budgets import parse_budget  # noqa: E402
from edgeprune.prune.finetune import evaluate, finetune  # noqa: E402
from edgeprune.targets import load_profile  # noqa: E402
from edgeprune.testing.torch_nets import ConcatDepthwiseNet, ResidualNet, quadrant_loaders  # noqa: E402

torch.set_num_threads(1)
X = torch.zeros(1, 1, 28, 28)
PROFILE = load_profile("cortex-m4")


def _trained(net=ResidualNet):
    torch.manual_seed(0)
    model = net(classes=4, width=8) if net is ResidualNet else net(classes=4)
    train, val = quadrant_loaders(256)
    finetune(model, train, val, epochs=2, lr=3e-2, progress=False)
    return model.eval(), train, val


def test_adaptive_bn_matches_the_statistics_of_the_calibration_data():
    torch.manual_seed(0)
    model = ResidualNet(classes=4, width=8).eval()
    batches = [(torch.randn(16, 1, 28, 28), torch.zeros(16, dtype=torch.long)) for _ in range(3)]
    adaptive_bn_score(model, batches, batches[:1])
    # The stem's BatchNorm sees the stem conv's outputs: its running mean and (unbiased) variance must be
    # those of all calibration activations, not a momentum blend with the old statistics.
    with torch.no_grad():
        acts = torch.cat([model.stem[0](x) for x, _ in batches])
    bn = model.stem[1]
    torch.testing.assert_close(bn.running_mean, acts.mean((0, 2, 3)), rtol=1e-4, atol=1e-5)
    per_batch_var = torch.stack([model.stem[0](x).detach().var((0, 2, 3), unbiased=True) for x, _ in batches])
    torch.testing.assert_close(bn.running_var, per_batch_var.mean(0), rtol=1e-4, atol=1e-5)
    assert bn.momentum == 0.1 and not model.training


@pytest.mark.parametrize("kind,text", [("macs", "50%"), ("ram", "60%"), ("latency", "40%")])
def test_uniform_allocation_meets_the_budget_with_one_share(kind, text):
    torch.manual_seed(0)
    model = ResidualNet(width=16).eval()
    search = AllocationSearch(model, X, PROFILE, 16384, "l2", round_to=4)
    dense = search.measure(model).as_measures()
    result = search.uniform([parse_budget(kind, text)])
    assert result.result.status[kind]["met"]
    assert result.result.pruned.as_measures()[kind] <= dense[kind] * float(text.rstrip("%")) / 100 + 1e-9
    shares = {r: result.chosen.keep[r] / n for r, n in search.width.items()}
    # Every group keeps the same share up to rounding to 4 channels.
    assert max(shares.values()) - min(shares.values()) <= max(4 / n for n in search.width.values()) + 1e-9
    assert result.model(X).shape == (1, 10)
    assert all(m.out_channels % 4 == 0 for m in result.model.modules() if isinstance(m, torch.nn.Conv2d))


@pytest.mark.parametrize("net", [ResidualNet, ConcatDepthwiseNet])
def test_search_keeps_its_best_candidate_within_budget(net):
    model, train, val = _trained(net)
    search = AllocationSearch(copy.deepcopy(model), X, PROFILE, 16384, "l2", round_to=2)
    result = search.run([parse_budget("macs", "45%")], train, val, random_count=3, refine_count=1)
    names = [c.name for c in result.candidates]
    assert "uniform" in names and "global" in names
    assert all(c.measures["macs"] <= 0.45 * search.measure(model).macs + 1e-9 for c in result.candidates)
    best = max(c.accuracy for c in result.candidates)
    assert result.chosen.accuracy == best
    assert result.result.status["macs"]["met"]
    # The returned model is the chosen allocation, with the re-estimated statistics it was scored with.
    assert evaluate(result.model, val) == pytest.approx(result.chosen.accuracy)

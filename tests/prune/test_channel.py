"""Dependency-aware channel pruning to each budget kind, with each criterion, on structured networks."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed")
pytest.importorskip("torch_pruning", reason="torch-pruning is not installed")

from edgeprune.errors import BudgetError  # noqa: E402
from edgeprune.prune.budgets import parse_budget  # noqa: E402
from edgeprune.prune.channel import ChannelPruner  # noqa: E402
from edgeprune.targets import load_profile  # noqa: E402
from edgeprune.testing.torch_nets import ConcatDepthwiseNet, ResidualNet  # noqa: E402

torch.set_num_threads(1)
X = torch.randn(1, 1, 28, 28)


def _pruner(net, criterion="l2", target="cortex-m4", **kw):
    torch.manual_seed(0)
    model = net().eval()
    return model, ChannelPruner(model, X, load_profile(target), 16384, criterion, **kw)


@pytest.mark.parametrize("kind,text", [("macs", "50%"), ("flops", "40%"), ("params", "50%"), ("flash", "70%"),
                                       ("ram", "60%"), ("latency", "50%")])
@pytest.mark.parametrize("net", [ResidualNet, ConcatDepthwiseNet])
def test_every_budget_kind_is_met(net, kind, text):
    model, pruner = _pruner(net)
    dense = pruner.cost_model.measure().as_measures()
    result = pruner.run([parse_budget(kind, text)])
    assert result.status[kind]["met"], result.status
    assert result.pruned.as_measures()[kind] <= dense[kind] * float(text.rstrip("%")) / 100 + 1e-9
    # The pruned network still runs and keeps its classes.
    assert model(X).shape == (1, 10)


def test_several_budgets_at_once_and_the_binding_one():
    model, pruner = _pruner(ResidualNet)
    result = pruner.run([parse_budget("macs", "60%"), parse_budget("ram", "70%"), parse_budget("params", "80%")])
    assert all(v["met"] for v in result.status.values())
    assert result.binding  # at least one budget drove pruning


def test_residual_channels_stay_coupled_and_rounded():
    model, pruner = _pruner(ResidualNet, round_to=4)
    pruner.run([parse_budget("macs", "40%")])
    # Block 1's output is added to the stem's: both convs must keep the same channel count.
    assert model.stem[0].out_channels == model.b1[3].out_channels
    assert model.b2[3].out_channels == model.short[0].out_channels
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            assert m.out_channels % 4 == 0
    assert model.fc.out_features == 10


def test_depthwise_and_concat_stay_consistent():
    model, pruner = _pruner(ConcatDepthwiseNet, round_to=2)
    pruner.run([parse_budget("macs", "45%")])
    cat_channels = model.a[0].out_channels + model.b[0].out_channels
    assert model.dw[0].in_channels == model.dw[0].out_channels == model.dw[0].groups == cat_channels
    assert model.fc.in_features == model.pw[0].out_channels * 7 * 7


@pytest.mark.parametrize("criterion", ["l1", "l2", "bn", "random", "taylor"])
def test_each_criterion(criterion):
    gradient_fn = None
    if criterion == "taylor":
        def gradient_fn(m):
            m.zero_grad()
            torch.nn.functional.cross_entropy(m(torch.randn(8, 1, 28, 28)), torch.arange(8) % 10).backward()
    model, pruner = _pruner(ResidualNet, criterion, gradient_fn=gradient_fn)
    result = pruner.run([parse_budget("macs", "50%")])
    assert result.status["macs"]["met"]


def test_criterion_choice_matters():
    # L2 keeps the large-norm filters: make channel 0..7 of the stem tiny; they must be the ones removed.
    model, pruner = _pruner(ResidualNet, "l2", round_to=8)
    with torch.no_grad():
        for conv in (model.stem[0], model.b1[3]):
            conv.weight[:8] *= 1e-3
        for bn in (model.stem[1], model.b1[4]):
            bn.weight[:8] *= 1e-3
    kept_before = model.stem[0].weight[8:].clone()
    pruner.run([parse_budget("macs", "60%")])
    assert model.stem[0].out_channels == 8  # the coupled stem/block-1 group lost exactly the tiny half
    assert torch.allclose(model.stem[0].weight, kept_before)


def test_impossible_budget_names_smallest_reachable():
    model, pruner = _pruner(ResidualNet)
    with pytest.raises(BudgetError, match=r"--ram cannot be met.*smallest reachable"):
        pruner.run([parse_budget("ram", "100")])

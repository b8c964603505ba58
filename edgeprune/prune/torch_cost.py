"""Fast cost estimates of a PyTorch model as it will be deployed in int8: MACs, FLOPs, params, flash,
peak RAM (the arena planner over activation lifetimes) and latency (the profile's cost coefficients).

The model is traced once with torch.fx; after pruning changes channel counts in place, one forward pass
re-propagates shapes. The exported .tflite is measured by the IR cost model at the end; this estimate only
steers the pruner between those measurements.
"""

from __future__ import annotations

import contextlib
import operator
import warnings
from dataclasses import dataclass, field

import torch
import torch.nn as nn
from torch.fx.passes.shape_prop import ShapeProp

from edgeprune.analysis.planner import Buffer, greedy_by_size
from edgeprune.errors import UnsupportedOpError

# Ops that produce no new buffer in the int8 graph: fused into the producer, or views.
_FUSED_MODULES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.Hardtanh, nn.Dropout, nn.Identity)
_VIEW_FUNCS = {torch.flatten, torch.reshape, torch.squeeze, torch.unsqueeze}
_VIEW_METHODS = {"view", "reshape", "flatten", "squeeze", "unsqueeze", "contiguous", "size", "dim"}
_RELU_FUNCS = {torch.relu, torch.nn.functional.relu, torch.nn.functional.relu6, torch.nn.functional.hardtanh}
_FUSABLE_PRODUCERS = (nn.Conv2d, nn.Linear)
_FUSING_FUNCS = {operator.add, torch.add}  # ADD takes a fused ReLU in TFLite


@dataclass
class NodeCost:
    name: str
    kind: str  # conv, depthwise, fc, elementwise, pool, view
    module: str | None
    macs: int = 0
    flops: int = 0
    params: int = 0
    weight_bytes: int = 0
    out_bytes: int = 0
    channels: int = 0
    channel_source: str | None = None  # the conv/linear whose output channels this tensor carries


@dataclass
class TorchCost:
    macs: int
    flops: int
    params: int
    weight_bytes: int
    flash: int
    ram: int
    latency: float  # ms
    nodes: list[NodeCost] = field(default_factory=list)
    peak_buffers: list[str] = field(default_factory=list)  # node names alive at the arena's peak

    def as_measures(self) -> dict[str, float]:
        return {"macs": self.macs, "flops": self.flops, "params": self.params, "flash": self.flash,
                "ram": self.ram, "latency": self.latency}


@contextlib.contextmanager
def single_example():
    """For forward passes of one example after channel counts changed: oneDNN builds kernels for every new
    shape (tenths of a second each), the plain CPU kernels take milliseconds."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the flags context warns about TF32 on Intel GPUs
        with torch.backends.mkldnn.flags(enabled=False):
            yield


def _numel(meta) -> int:
    shape = getattr(meta, "shape", None)
    if shape is None:
        return 0
    n = 1
    for d in shape:
        n *= int(d)
    return n


def trace(model: nn.Module) -> torch.fx.GraphModule:
    """torch.fx trace; an untraceable model is reported naming the innermost layer whose code failed."""
    try:
        return torch.fx.symbolic_trace(model)
    except Exception as e:  # fx reports untraceable code with many exception types
        names = {id(m): n for n, m in model.named_modules()}
        layer = None
        tb = e.__traceback__
        while tb is not None:
            code = tb.tb_frame.f_code
            owner = tb.tb_frame.f_locals.get(code.co_varnames[0]) if code.co_argcount else None
            in_torch = "/torch/" in tb.tb_frame.f_code.co_filename.replace("\\", "/")
            if isinstance(owner, nn.Module) and id(owner) in names and not in_torch:
                layer = (names[id(owner)] or "the top-level module", type(owner).__name__,
                         tb.tb_frame.f_code.co_filename, tb.tb_lineno)
            tb = tb.tb_next
        where = f" in layer '{layer[0]}' ({layer[1]}, {layer[2]}:{layer[3]})" if layer else ""
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UnsupportedOpError(f"cannot trace the model{where}: {reason}") from None


class TorchCostModel:
    def __init__(self, model: nn.Module, example_input: torch.Tensor, profile, runtime_flash: int):
        self.gm = trace(model)
        self.modules = dict(self.gm.named_modules())
        self.example = example_input
        self.profile = profile
        self.runtime_flash = runtime_flash

    def _module_cost(self, node, mod, out_numel: int, in_meta) -> NodeCost:
        c = NodeCost(node.name, "elementwise", node.target)
        if isinstance(mod, nn.Conv2d):
            kh, kw = mod.kernel_size
            cin_per_group = mod.in_channels // mod.groups
            c.kind = "depthwise" if mod.groups == mod.in_channels and mod.groups > 1 else "conv"
            c.macs = out_numel * kh * kw * cin_per_group
            c.params = mod.weight.numel() + (mod.out_channels if mod.bias is not None else 0)
            c.weight_bytes = mod.weight.numel() + 4 * mod.out_channels + 8 * mod.out_channels
            c.channels = mod.out_channels
            c.channel_source = node.target  # the module's qualified name, as the pruner knows it
        elif isinstance(mod, nn.Linear):
            c.kind = "fc"
            c.macs = out_numel * mod.in_features
            c.params = mod.weight.numel() + (mod.out_features if mod.bias is not None else 0)
            c.weight_bytes = mod.weight.numel() + 4 * mod.out_features + 8 * mod.out_features
            c.channels = mod.out_features
            c.channel_source = node.target
        elif isinstance(mod, (nn.AvgPool2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
            c.kind = "pool"
            c.flops = _numel(in_meta)
        c.flops += 2 * c.macs
        return c

    def measure(self) -> TorchCost:
        with torch.no_grad(), single_example():
            ShapeProp(self.gm).propagate(self.example)
        nodes = list(self.gm.graph.nodes)
        index = {n.name: i for i, n in enumerate(nodes)}
        costs: list[NodeCost] = []
        alias: dict[str, str] = {}  # node -> node whose buffer it shares
        source: dict[str, str | None] = {}
        for node in nodes:
            meta = node.meta.get("tensor_meta")
            out_numel = _numel(meta)
            first_in = next((a for a in node.args if isinstance(a, torch.fx.Node)), None)
            in_meta = first_in.meta.get("tensor_meta") if first_in is not None else None
            if node.op == "placeholder":
                c = NodeCost(node.name, "input", None, out_bytes=out_numel)
            elif node.op == "output":
                continue
            elif node.op == "call_module":
                mod = self.modules[node.target]
                if isinstance(mod, _FUSED_MODULES) and first_in is not None:
                    producer = self.modules.get(first_in.target) if first_in.op == "call_module" else None
                    if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d, nn.Dropout, nn.Identity)) or isinstance(
                        producer, _FUSABLE_PRODUCERS + (nn.BatchNorm2d,)
                    ) or first_in.target in _FUSING_FUNCS:
                        alias[node.name] = alias.get(first_in.name, first_in.name)
                        source[node.name] = source.get(first_in.name)
                        continue
                c = self._module_cost(node, mod, out_numel, in_meta)
                c.out_bytes = out_numel
            elif node.op in ("call_function", "call_method"):
                is_view = node.target in _VIEW_FUNCS or (node.op == "call_method" and node.target in _VIEW_METHODS)
                if node.target is getattr or node.target is operator.getitem or is_view:
                    if first_in is not None:
                        alias[node.name] = alias.get(first_in.name, first_in.name)
                        source[node.name] = source.get(first_in.name)
                    continue
                if node.target in _RELU_FUNCS and first_in is not None and (
                    first_in.op == "call_module" or first_in.target in _FUSING_FUNCS
                ):
                    if first_in.target in _FUSING_FUNCS or isinstance(
                        self.modules[first_in.target], _FUSABLE_PRODUCERS + (nn.BatchNorm2d,)
                    ):
                        alias[node.name] = alias.get(first_in.name, first_in.name)
                        source[node.name] = source.get(first_in.name)
                        continue
                c = NodeCost(node.name, "elementwise", None, out_bytes=out_numel, flops=out_numel)
                if node.target in (torch.mean, torch.nn.functional.adaptive_avg_pool2d,
                                   torch.nn.functional.avg_pool2d, torch.nn.functional.max_pool2d) or (
                        node.op == "call_method" and node.target == "mean"):
                    c.kind, c.flops = "pool", _numel(in_meta)
            else:  # get_attr: a constant, flash not activation
                continue
            if c.channel_source is None and first_in is not None:
                c.channel_source = source.get(first_in.name)
            source[node.name] = c.channel_source
            costs.append(c)

        # Activation lifetimes over node order; aliases extend their root buffer's life.
        by_name = {c.name: c for c in costs}
        buffers: dict[str, Buffer] = {}
        for c in costs:
            i = index[c.name]
            buffers[c.name] = Buffer(hash(c.name), c.name, max(c.out_bytes, 1), i, i)
        for node in nodes:
            for a in node.all_input_nodes:
                root = alias.get(a.name, a.name)
                if root in buffers:
                    buffers[root].last = max(buffers[root].last, index[node.name])
        ram = greedy_by_size(list(buffers.values()), 16)
        peak_t, peak_sum = 0, -1
        for t in range(len(nodes)):
            s = sum(b.nbytes for b in buffers.values() if b.first <= t <= b.last)
            if s > peak_sum:
                peak_t, peak_sum = t, s
        peak = [b.name for b in buffers.values() if b.first <= peak_t <= b.last]

        cost = dict(self.profile.cost)
        cycles = 0.0
        for c in costs:
            if c.kind == "input":
                continue
            key, amount = {
                "conv": ("conv_cycles_per_mac", c.macs), "depthwise": ("depthwise_cycles_per_mac", c.macs),
                "fc": ("fc_cycles_per_mac", c.macs), "pool": ("pool_cycles_per_element", c.flops),
            }.get(c.kind, ("elementwise_cycles_per_element", c.out_bytes))
            cycles += float(cost.get(key, 1.0)) * amount + float(cost.get("layer_overhead_cycles", 0.0))
        weight_bytes = sum(c.weight_bytes for c in costs)
        del by_name
        return TorchCost(
            macs=sum(c.macs for c in costs), flops=sum(c.flops for c in costs), params=sum(c.params for c in costs),
            weight_bytes=weight_bytes, flash=weight_bytes + self.runtime_flash, ram=ram,
            latency=cycles / float(self.profile.clock_hz) * 1e3, nodes=costs, peak_buffers=peak,
        )

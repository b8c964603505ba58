"""PyTorch -> .tflite: PT2E static int8 quantization with litert-torch, or a plain float conversion.

litert-torch's PT2EQuantizer annotates conv/linear/add/mul/cat/max-pool/adaptive-avg-pool/sigmoid/softmax but
leaves avg_pool2d, hardswish, standalone relu and any pooling downstream of an unannotated op in float, which
turns into DEQUANTIZE ... QUANTIZE islands. `EdgePruneQuantizer` adds a pass in graph order that annotates
those too, so the usual CNN building blocks come out all-int8 (see `float_ops`).

The converter's progress lines, absl logs and Python warnings are captured (see `last_conversion_log`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from edgeprune.errors import EdgePruneError, UnsupportedOpError

_LAST_LOG = ""


def last_conversion_log() -> str:
    """Everything the last conversion printed (progress, absl logs, warnings)."""
    return _LAST_LOG


def _imports():
    try:
        import litert_torch  # noqa: F401
        import torch
    except ImportError as e:
        raise EdgePruneError(f"PyTorch export needs torch and litert-torch ({e}); "
                             f"install them: pip install torch litert-torch") from None
    return torch


# ---------------------------------------------------------------------------------------------- quiet


@contextlib.contextmanager
def _quiet():
    """Captures fd 1/2 (C++ absl logs, rich progress), Python warnings and logging into _LAST_LOG."""
    global _LAST_LOG
    old_env = {k: os.environ.get(k) for k in ("LITERT_TORCH_SHOW_PROGRESS", "TF_CPP_MIN_LOG_LEVEL")}
    os.environ["LITERT_TORCH_SHOW_PROGRESS"] = "n"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for s in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            s.flush()
    log = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115 - closed in the finally below
    saved = []
    try:
        for fd in (1, 2):
            try:
                saved.append((fd, os.dup(fd)))
                os.dup2(log.fileno(), fd)
            except OSError:
                pass
        prev_disable = logging.root.manager.disable
        logging.disable(logging.WARNING)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                with contextlib.redirect_stdout(_fd_stream(1)), contextlib.redirect_stderr(_fd_stream(2)):
                    yield
        finally:
            logging.disable(prev_disable)
            for s in (sys.stdout, sys.stderr, *_FD_STREAMS.values()):
                with contextlib.suppress(Exception):
                    s.flush()
            for fd, dup in saved:
                os.dup2(dup, fd)
                os.close(dup)
            log.seek(0)
            text = log.read().decode("utf-8", "replace")
            text += "".join(f"{w.category.__name__}: {w.message}\n" for w in caught)
            _LAST_LOG = text
    finally:
        log.close()
        for k, v in old_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


_FD_STREAMS: dict[int, object] = {}


def _fd_stream(fd: int):
    """A text stream on file descriptor `fd` itself: during _quiet it lands in the capture file, afterwards on
    the terminal again, so loggers created during a conversion (absl's keeps sys.stderr) stay usable."""
    s = _FD_STREAMS.get(fd)
    if s is None:
        s = _FD_STREAMS[fd] = open(  # noqa: SIM115 - kept for the process
            fd, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
    return s


def _fail(what: str, e: Exception) -> EdgePruneError:
    msg = str(e).strip().splitlines()
    first = msg[0] if msg else type(e).__name__
    tail = [ln for ln in _LAST_LOG.splitlines() if "error" in ln.lower()][-3:]
    detail = ("; converter said: " + " | ".join(t.strip() for t in tail)) if tail else ""
    return UnsupportedOpError(f"{what} failed: {type(e).__name__}: {first}{detail}")


# ---------------------------------------------------------------------------------------------- quantizer


def _make_quantizer(per_channel: bool):
    import torch
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config
    from litert_torch.quantize.pt2e_quantizer_utils import (
        get_fixed_qparams_qspec,
        get_input_act_qspec,
        get_output_act_qspec,
        propagate_annotation,
    )
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation, SharedQuantizationSpec

    aten = torch.ops.aten
    # Output shares the input's quantization: TFLite needs equal in/out params (pools, reshapes, pads).
    shared = {
        aten.max_pool2d.default, aten.avg_pool2d.default, aten.adaptive_avg_pool2d.default,
        aten._adaptive_avg_pool2d.default, aten.mean.dim, aten.mean.default, aten.hardtanh.default,
        aten.hardtanh_.default, aten.view.default, aten.reshape.default, aten.flatten.using_ints,
        aten.permute.default, aten.squeeze.dim, aten.squeeze.dims, aten.unsqueeze.default, aten.clone.default,
        aten.dropout.default, aten.constant_pad_nd.default, aten._unsafe_view.default,
    }
    # Output gets its own observer (TFLite rescales): relu, hardswish.
    independent = {aten.relu.default, aten.relu_.default, aten.hardswish.default, aten.hardswish_.default}
    fixed = {aten.sigmoid.default, aten._softmax.default, aten.softmax.int}

    def annotated_output(n) -> bool:
        a = n.meta.get("quantization_annotation") if hasattr(n, "meta") else None
        return a is not None and a._annotated and a.output_qspec is not None

    def is_annotated(n) -> bool:
        a = n.meta.get("quantization_annotation")
        return a is not None and a._annotated

    def is_float(n) -> bool:
        v = getattr(n, "meta", {}).get("val")
        return isinstance(v, torch.Tensor) and v.is_floating_point()

    class EdgePruneQuantizer(PT2EQuantizer):
        """PT2EQuantizer plus a graph-order pass for the ops it leaves in float."""

        def annotate(self, model):
            model = super().annotate(model)
            config = self.global_config
            for n in model.graph.nodes:
                if n.op != "call_function" or is_annotated(n) or not n.args:
                    continue
                if n.target == aten.cat.default:  # the stock annotator misses some (source partitions)
                    _annotate_cat(n, config)
                    continue
                src = n.args[0]
                if not isinstance(src, torch.fx.Node) or not is_float(src) or not is_float(n):
                    continue
                if n.target in shared:
                    if annotated_output(src):
                        qin = SharedQuantizationSpec(src)
                        qout = SharedQuantizationSpec(src)
                    else:
                        qin = get_input_act_qspec(config)
                        qout = SharedQuantizationSpec((src, n))
                elif n.target in independent or n.target in fixed:
                    qin = SharedQuantizationSpec(src) if annotated_output(src) else get_input_act_qspec(config)
                    qout = (get_fixed_qparams_qspec(config) if n.target in fixed
                            else get_output_act_qspec(config))
                else:
                    continue
                n.meta["quantization_annotation"] = QuantizationAnnotation(
                    input_qspec_map={src: qin}, output_qspec=qout, _annotated=True)
            propagate_annotation(model)
            for n in model.graph.nodes:
                if n.op == "call_function" and n.target == aten.cat.default:
                    _share_cat_with_common_root(n)
            return model

    def root(n):
        """The node whose observer `n`'s output shares, following pass-through ops (pools, reshapes)."""
        seen = set()
        while id(n) not in seen:
            seen.add(id(n))
            a = n.meta.get("quantization_annotation")
            spec = a.output_qspec if a is not None else None
            if not isinstance(spec, SharedQuantizationSpec) or not isinstance(spec.edge_or_node, torch.fx.Node):
                return n
            n = spec.edge_or_node
        return n

    def _annotate_cat(cat, config):
        inputs = cat.args[0]
        if not inputs or not all(isinstance(i, torch.fx.Node) and is_float(i) for i in inputs):
            return
        shared_with_first = SharedQuantizationSpec((inputs[0], cat))
        qmap = {inputs[0]: get_input_act_qspec(config)}
        qmap.update({i: shared_with_first for i in inputs[1:]})
        cat.meta["quantization_annotation"] = QuantizationAnnotation(
            input_qspec_map=qmap, output_qspec=shared_with_first, _annotated=True)

    def _share_cat_with_common_root(cat):
        """cat(maxpool(x), avgpool(x)): the stock annotation gives the cat its own observer, so every input
        that shares an observer upstream needs an int8->int8 QUANTIZE. When all inputs come from one observer,
        tie the cat's input edges to their producers instead: one scale throughout, no requantization."""
        a = cat.meta.get("quantization_annotation")
        inputs = cat.args[0] if cat.args else []
        if a is None or not inputs or not all(isinstance(i, torch.fx.Node) and annotated_output(i) for i in inputs):
            return
        if len({id(root(i)) for i in inputs}) != 1:
            return
        a.input_qspec_map = {i: SharedQuantizationSpec(i) for i in inputs}
        a.output_qspec = SharedQuantizationSpec(inputs[0])

    q = EdgePruneQuantizer()
    q.set_global(get_symmetric_quantization_config(is_per_channel=per_channel, is_dynamic=False))
    return q


# ---------------------------------------------------------------------------------------------- export


def expand_grouped_convs(model):
    """A copy of `model` whose grouped Conv2d (1 < groups, not depthwise) are dense with block-diagonal weights.

    TFLite expresses grouped convolution as a CONV_2D whose filter depth divides the input depth; edgeprune's
    kernels (like CMSIS-NN's) do not take that form. The dense equivalent computes the same sums (the zero
    weights add nothing, per-output-channel weight scales are unchanged) at `groups` times the MACs and weights.
    Depthwise convolutions (groups == in_channels) are left alone: they become DEPTHWISE_CONV_2D.
    """
    import copy

    import torch
    from torch import nn

    def grouped(m) -> bool:
        return isinstance(m, nn.Conv2d) and m.groups > 1 and m.groups != m.in_channels

    if not any(grouped(m) for m in model.modules()):
        return model
    model = copy.deepcopy(model)
    for name, m in list(model.named_modules()):
        if not grouped(m):
            continue
        dense = nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, stride=m.stride, padding=m.padding,
                          dilation=m.dilation, groups=1, bias=m.bias is not None, padding_mode=m.padding_mode)
        cin, cout = m.in_channels // m.groups, m.out_channels // m.groups
        with torch.no_grad():
            dense.weight.zero_()
            for g in range(m.groups):
                dense.weight[g * cout:(g + 1) * cout, g * cin:(g + 1) * cin] = m.weight[g * cout:(g + 1) * cout]
            if m.bias is not None:
                dense.bias.copy_(m.bias)
        dense.train(m.training)
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, attr, dense)
    return model



def _calibration_batches(calibration: Iterable, example):
    import torch

    shape = tuple(example.shape)
    for item in calibration:
        if isinstance(item, (tuple, list)):
            item = item[0]
        t = torch.as_tensor(np.asarray(item) if not isinstance(item, torch.Tensor) else item)
        t = t.to(example.dtype)
        if tuple(t.shape) == shape:
            yield t
        elif tuple(t.shape[1:]) == shape[1:] and shape[0] >= 1 and t.shape[0] % shape[0] == 0:
            yield from torch.split(t, shape[0])  # the exported graph has the example's batch size
        elif t.numel() == example.numel():
            yield t.reshape(shape)
        else:
            raise EdgePruneError(f"calibration sample of shape {tuple(t.shape)} does not fit the model input "
                                 f"{shape}")


def _to_bytes(edge_model) -> bytes:
    content = getattr(edge_model, "model_content", None)
    if callable(content):
        return bytes(content())
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "model.tflite"
        edge_model.export(str(path))
        return path.read_bytes()


def export_int8_tflite(model, example_input, calibration: Iterable, per_channel: bool = True,
                       expand_grouped: bool = True) -> bytes:
    """Full-integer (int8 in/out, int8 activations, int8 weights per channel) .tflite bytes of `model`.

    `calibration` yields input tensors (the example's shape, or a batch of them); `expand_grouped` makes grouped
    convolutions dense (see expand_grouped_convs). The input keeps PyTorch's NCHW layout: the model starts
    with a TRANSPOSE (or a RESHAPE for one channel) to NHWC.
    """
    with _quiet():  # importing torchao / litert-torch prints too
        torch = _imports()
        import litert_torch
        from litert_torch.quantize.quant_config import QuantConfig
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

        x = torch.as_tensor(example_input).float()
        model = model.eval()
        if expand_grouped:
            model = expand_grouped_convs(model)
        quantizer = _make_quantizer(per_channel)
        try:
            with torch.no_grad():
                graph = torch.export.export(model, (x,)).module()
        except Exception as e:
            raise _fail("torch.export of the model", e) from e
        try:
            prepared = prepare_pt2e(graph, quantizer)
            seen = 0
            with torch.no_grad():
                for batch in _calibration_batches(calibration, x):
                    prepared(batch)
                    seen += 1
            if seen == 0:
                raise EdgePruneError("int8 export needs at least one calibration sample")
            converted = convert_pt2e(prepared, fold_quantize=False)
        except EdgePruneError:
            raise
        except Exception as e:
            raise _fail("PT2E quantization", e) from e
        try:
            edge = litert_torch.convert(converted, (x,), quant_config=QuantConfig(pt2e_quantizer=quantizer))
            return _to_bytes(edge)
        except Exception as e:
            raise _fail("litert-torch conversion", e) from e


def export_float_tflite(model, example_input, expand_grouped: bool = True) -> bytes:
    """Float32 .tflite bytes of `model` (no quantization)."""
    with _quiet():
        torch = _imports()
        import litert_torch

        x = torch.as_tensor(example_input).float()
        try:
            model = model.eval()
            if expand_grouped:
                model = expand_grouped_convs(model)
            edge = litert_torch.convert(model, (x,))
            return _to_bytes(edge)
        except Exception as e:
            raise _fail("litert-torch conversion", e) from e


# ---------------------------------------------------------------------------------------------- float ops


def float_ops(tflite: bytes) -> list[str]:
    """Builtin names of the ops that compute in float, in graph order (repeats kept).

    An op counts when any of its inputs or outputs is float32, except a QUANTIZE that reads a graph input and a
    DEQUANTIZE that writes a graph output (the float interface of an otherwise int8 model).
    """
    from ai_edge_litert import schema_py_generated as schema

    buf = bytes(tflite)
    if len(buf) < 16 or not schema.Model.ModelBufferHasIdentifier(buf, 0):
        raise EdgePruneError("float_ops: not a TFLite flatbuffer")
    model = schema.Model.GetRootAsModel(buf, 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    out: list[str] = []
    for s in range(model.SubgraphsLength()):
        sg = model.Subgraphs(s)
        graph_in = {int(i) for i in sg.InputsAsNumpy()} if sg.InputsLength() else set()
        graph_out = {int(i) for i in sg.OutputsAsNumpy()} if sg.OutputsLength() else set()

        def is_f32(i: int, sg=sg) -> bool:
            return i >= 0 and sg.Tensors(i).Type() == schema.TensorType.FLOAT32

        for k in range(sg.OperatorsLength()):
            op = sg.Operators(k)
            code = model.OperatorCodes(op.OpcodeIndex())
            name = names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "CUSTOM")
            ins = [int(i) for i in op.InputsAsNumpy()] if op.InputsLength() else []
            outs = [int(i) for i in op.OutputsAsNumpy()] if op.OutputsLength() else []
            if not any(is_f32(i) for i in ins + outs):
                continue
            if name == "QUANTIZE" and all(i in graph_in for i in ins if i >= 0):
                continue
            if name == "DEQUANTIZE" and all(i in graph_out for i in outs):
                continue
            out.append(name)
    return out

"""CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED against LiteRT's reference kernels (BUILTIN_REF).

int8 results must be bit-exact. float32 and hybrid results must match within FLOAT_RTOL relative /
FLOAT_ATOL absolute. Pure float32 kernels follow TFLite's accumulation order and are bit-exact in
practice; hybrid kernels differ from LiteRT's build by a few ulp (< 1e-6 relative) in some outputs.
The sweeps are seeded random configurations (strides, paddings, dilations, depth multipliers,
per-tensor / per-channel weights, all fused activations, odd sizes, batch > 1, random scales and zero
points, omitted bias); the model-based tests at the end only check that real layers run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgeprune.errors import UnsupportedOpError
from edgeprune.lower import lower_graph
from edgeprune.testing.single_op import qparams, run_both, single_op, tensor

FLOAT_RTOL = 1e-5
FLOAT_ATOL = 1e-6
ACTS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]
MODELS = Path("/work/shared/models")


def _out_size(n, k, s, d, padding):
    eff = (k - 1) * d + 1
    return (n + s - 1) // s if padding == "SAME" else (n - eff + s) // s


def _check(ours, ref, dtype):
    assert ours.shape == ref.shape or ours.size == ref.size
    ours = ours.reshape(ref.shape)
    if dtype == "int8":
        np.testing.assert_array_equal(ours, ref)
    else:
        np.testing.assert_allclose(ours, ref, rtol=FLOAT_RTOL, atol=FLOAT_ATOL)


def _weights_q(rng, channels, axis, per_channel):
    n = channels if per_channel else 1
    return qparams(rng.uniform(0.002, 0.05, size=n).astype(np.float32), np.zeros(n, dtype=np.int64), axis=axis)


def _int8_bias(rng, name, channels, in_scale, w_quant, present):
    if not present:
        return None
    # Same granularity as the weights: TFLite checks a per-tensor bias scale against input * weight scale.
    scales = (np.float32(in_scale) * w_quant.scale.astype(np.float32)).astype(np.float32)
    data = rng.integers(-20000, 20000, size=channels).astype(np.int32)
    return tensor(name, (channels,), "int32", qparams(scales, np.zeros(scales.size, dtype=np.int64)), data=data)


def _float_input(rng, shape, mode):
    if mode == "zeros":
        return np.zeros(shape, dtype=np.float32)
    if mode == "positive":
        return rng.uniform(0.0, 2.0, size=shape).astype(np.float32)
    return rng.normal(0.0, 1.5, size=shape).astype(np.float32)


# ---------------------------------------------------------------- conv / depthwise case generators


def _conv_case(rng, kind: str, variant: str, cfg: dict):
    """Builds one single-op model. kind: CONV_2D / DEPTHWISE_CONV_2D; variant: int8 / float32 / hybrid."""
    n, h, w, c = cfg["n"], cfg["h"], cfg["w"], cfg["c"]
    kh, kw, sh, sw, dh, dw = cfg["kh"], cfg["kw"], cfg["sh"], cfg["sw"], cfg["dh"], cfg["dw"]
    pad, act = cfg["padding"], cfg["act"]
    if kind == "CONV_2D":
        oc = cfg["oc"]
        w_shape, axis = (oc, kh, kw, c), 0
    else:
        oc = c * cfg["dm"]
        w_shape, axis = (1, kh, kw, oc), 3
    oh, ow = _out_size(h, kh, sh, dh, pad), _out_size(w, kw, sw, dw, pad)
    attrs = {"padding": pad, "stride_h": sh, "stride_w": sw, "dilation_h_factor": dh, "dilation_w_factor": dw,
             "fused_activation": act}
    if kind == "DEPTHWISE_CONV_2D":
        attrs["depth_multiplier"] = cfg["dm"]
    if variant == "int8":
        s_in, z_in = float(rng.uniform(0.005, 0.1)), int(rng.integers(-128, 128))
        s_out, z_out = float(rng.uniform(0.02, 0.6)), int(rng.integers(-128, 128))
        wq = _weights_q(rng, oc, axis, cfg["per_channel"])
        x = tensor("x", (n, h, w, c), "int8", qparams(s_in, z_in))
        wt = tensor("w", w_shape, "int8", wq, data=rng.integers(-127, 128, size=w_shape))
        b = _int8_bias(rng, "b", oc, s_in, wq, cfg["bias"])
        y = tensor("y", (n, oh, ow, oc), "int8", qparams(s_out, z_out))
        data = rng.integers(-128, 128, size=(n, h, w, c)).astype(np.int8)
    else:
        x = tensor("x", (n, h, w, c), "float32")
        if variant == "float32":
            wt = tensor("w", w_shape, "float32", data=rng.normal(0, 0.5, size=w_shape))
        else:
            wq = _weights_q(rng, oc, axis, cfg["per_channel"])
            wt = tensor("w", w_shape, "int8", wq, data=rng.integers(-127, 128, size=w_shape))
        b = tensor("b", (oc,), "float32", data=rng.normal(0, 0.5, size=oc)) if cfg["bias"] else None
        y = tensor("y", (n, oh, ow, oc), "float32")
        data = _float_input(rng, (n, h, w, c), cfg.get("input", "normal"))
    graph, fb = single_op(kind, [x, wt, b], [y], attrs)
    if b is None:
        # LiteRT's conv kernels reject an omitted bias; ours treat it as zero, so the reference gets zeros.
        zb = np.zeros(oc, dtype="int32" if variant == "int8" else "float32")
        bq = None
        if variant == "int8":
            sc = (np.float32(x.quant.scale[0]) * wt.quant.scale.astype(np.float32)).astype(np.float32)
            bq = qparams(sc, np.zeros(sc.size, dtype=np.int64))
        zb_t = tensor("b", (oc,), zb.dtype.name, bq, data=zb)
        _, fb = single_op(kind, [x, wt, zb_t], [y], attrs)
    return graph, fb, data


def _random_conv_cfg(rng, kind, variant):
    cfg = {
        "n": int(rng.choice([1, 1, 2, 3])),
        "h": int(rng.integers(1, 12)), "w": int(rng.integers(1, 12)), "c": int(rng.integers(1, 9)),
        "kh": int(rng.integers(1, 5)), "kw": int(rng.integers(1, 5)),
        "sh": int(rng.integers(1, 4)), "sw": int(rng.integers(1, 4)),
        "dh": int(rng.choice([1, 1, 2, 3])), "dw": int(rng.choice([1, 1, 2])),
        "padding": str(rng.choice(["SAME", "VALID"])), "act": str(rng.choice(ACTS)),
        "oc": int(rng.integers(1, 9)), "dm": int(rng.choice([1, 1, 2, 3])),
        "per_channel": bool(rng.integers(0, 2)), "bias": bool(rng.random() < 0.85),
        "input": str(rng.choice(["normal", "normal", "normal", "positive", "zeros"]) if variant == "hybrid"
                     else "normal"),
    }
    if kind == "DEPTHWISE_CONV_2D" and variant == "hybrid":
        cfg["per_channel"] = True  # TFLite's hybrid depthwise requires one scale per channel
    if variant == "hybrid" and kind == "CONV_2D":
        cfg["bias"] = True  # TFLite's hybrid conv requires a bias
    # VALID needs the dilated kernel to fit.
    if cfg["padding"] == "VALID":
        cfg["h"] = max(cfg["h"], (cfg["kh"] - 1) * cfg["dh"] + 1)
        cfg["w"] = max(cfg["w"], (cfg["kw"] - 1) * cfg["dw"] + 1)
    return cfg


CONV_CASES = [(kind, variant, i) for kind in ("CONV_2D", "DEPTHWISE_CONV_2D")
              for variant, count in (("int8", 40), ("float32", 25), ("hybrid", 30)) for i in range(count)]


@pytest.mark.parametrize("kind,variant,seed", CONV_CASES)
def test_conv_sweep(kind, variant, seed):
    rng = np.random.default_rng([hash(kind) % 1000, hash(variant) % 1000, seed])
    rng = np.random.default_rng(seed * 7919 + {"CONV_2D": 1, "DEPTHWISE_CONV_2D": 2}[kind] * 131
                                + {"int8": 0, "float32": 1, "hybrid": 2}[variant])
    cfg = _random_conv_cfg(rng, kind, variant)
    graph, fb, data = _conv_case(rng, kind, variant, cfg)
    ours, ref = run_both(graph, fb, [data])
    _check(ours[0], ref[0], "int8" if variant == "int8" else "float32")


@pytest.mark.parametrize("kind", ["CONV_2D", "DEPTHWISE_CONV_2D"])
@pytest.mark.parametrize("variant", ["int8", "float32", "hybrid"])
@pytest.mark.parametrize("act", ACTS)
def test_conv_activations(kind, variant, act):
    """Every fused activation with outputs spread across its clamp range."""
    rng = np.random.default_rng(ACTS.index(act))
    cfg = {"n": 2, "h": 7, "w": 6, "c": 3, "kh": 3, "kw": 3, "sh": 1, "sw": 2, "dh": 1, "dw": 1,
           "padding": "SAME", "act": act, "oc": 5, "dm": 2, "per_channel": True, "bias": True}
    graph, fb, data = _conv_case(rng, kind, variant, cfg)
    ours, ref = run_both(graph, fb, [data])
    _check(ours[0], ref[0], "int8" if variant == "int8" else "float32")


def test_hybrid_conv_equal_channel_scales_take_per_tensor_path():
    """Per-channel scales that are all equal make TFLite use the symmetric per-tensor hybrid path."""
    rng = np.random.default_rng(5)
    x = tensor("x", (2, 6, 5, 4), "float32")
    wq = qparams(np.full(3, 0.02, dtype=np.float32), np.zeros(3, dtype=np.int64), axis=0)
    wt = tensor("w", (3, 3, 3, 4), "int8", wq, data=rng.integers(-127, 128, size=(3, 3, 3, 4)))
    b = tensor("b", (3,), "float32", data=rng.normal(size=3))
    y = tensor("y", (2, 3, 3, 3), "float32")
    graph, fb = single_op("CONV_2D", [x, wt, b], [y], {"padding": "SAME", "stride_h": 2, "stride_w": 2,
                                                       "fused_activation": "NONE"})
    ours, ref = run_both(graph, fb, [rng.normal(size=(2, 6, 5, 4)).astype(np.float32)])
    _check(ours[0], ref[0], "float32")


# ---------------------------------------------------------------- fully connected


def _fc_case(rng, variant: str, cfg: dict):
    in_shape, units, act = cfg["in_shape"], cfg["units"], cfg["act"]
    depth = in_shape[-1]
    batches = int(np.prod(in_shape)) // depth
    out_shape = tuple(in_shape[:-1]) + (units,) if cfg["keep_num_dims"] else (batches, units)
    attrs = {"fused_activation": act, "keep_num_dims": cfg["keep_num_dims"],
             "asymmetric_quantize_inputs": cfg.get("asymmetric", False)}
    if variant == "int8":
        s_in, z_in = float(rng.uniform(0.005, 0.1)), int(rng.integers(-128, 128))
        s_out, z_out = float(rng.uniform(0.05, 1.0)), int(rng.integers(-128, 128))
        wq = _weights_q(rng, units, 0, cfg["per_channel"])
        if not cfg["per_channel"] and cfg.get("weights_zp"):
            wq.zero_point[:] = int(rng.integers(-10, 11))
        x = tensor("x", in_shape, "int8", qparams(s_in, z_in))
        wt = tensor("w", (units, depth), "int8", wq, data=rng.integers(-127, 128, size=(units, depth)))
        b = _int8_bias(rng, "b", units, s_in, wq, cfg["bias"])
        y = tensor("y", out_shape, "int8", qparams(s_out, z_out))
        data = rng.integers(-128, 128, size=in_shape).astype(np.int8)
    else:
        x = tensor("x", in_shape, "float32")
        if variant == "float32":
            wt = tensor("w", (units, depth), "float32", data=rng.normal(0, 0.5, size=(units, depth)))
        else:
            wq = _weights_q(rng, units, 0, cfg["per_channel"])
            wt = tensor("w", (units, depth), "int8", wq, data=rng.integers(-127, 128, size=(units, depth)))
        b = tensor("b", (units,), "float32", data=rng.normal(0, 0.5, size=units)) if cfg["bias"] else None
        y = tensor("y", out_shape, "float32")
        data = _float_input(rng, in_shape, cfg.get("input", "normal"))
    graph, fb = single_op("FULLY_CONNECTED", [x, wt, b], [y], attrs)
    return graph, fb, data


def _random_fc_cfg(rng, variant):
    rank = int(rng.choice([2, 2, 3, 4]))
    lead = [int(v) for v in rng.integers(1, 4, size=rank - 1)]
    depth = int(rng.integers(1, 70))
    return {
        "in_shape": tuple(lead + [depth]), "units": int(rng.integers(1, 20)), "act": str(rng.choice(ACTS)),
        "keep_num_dims": bool(rng.integers(0, 2)), "per_channel": bool(rng.integers(0, 2)),
        "bias": bool(rng.random() < 0.8), "asymmetric": bool(rng.integers(0, 2)),
        "weights_zp": bool(rng.integers(0, 2)),
        "input": str(rng.choice(["normal", "normal", "normal", "positive", "zeros"])),
    }


FC_CASES = [(variant, i) for variant, count in (("int8", 60), ("float32", 30), ("hybrid", 60)) for i in range(count)]


@pytest.mark.parametrize("variant,seed", FC_CASES)
def test_fully_connected_sweep(variant, seed):
    rng = np.random.default_rng(seed * 104729 + {"int8": 0, "float32": 1, "hybrid": 2}[variant])
    cfg = _random_fc_cfg(rng, variant)
    graph, fb, data = _fc_case(rng, variant, cfg)
    ours, ref = run_both(graph, fb, [data])
    _check(ours[0], ref[0], "int8" if variant == "int8" else "float32")


def test_fully_connected_int8_double_rounding():
    """Large accumulators with scales chosen so fixed-point and double rescaling disagree somewhere:
    TFLite's reference FC rescales in double, and so must we."""
    rng = np.random.default_rng(11)
    for trial in range(6):
        cfg = {"in_shape": (4, 64), "units": 32, "act": "NONE", "keep_num_dims": False,
               "per_channel": trial % 2 == 1, "bias": True}
        graph, fb, data = _fc_case(rng, "int8", cfg)
        ours, ref = run_both(graph, fb, [data])
        _check(ours[0], ref[0], "int8")


# ---------------------------------------------------------------- unsupported combinations


def _lower(kind, inputs, outputs, attrs):
    graph, _ = single_op(kind, inputs, outputs, attrs)
    return lower_graph(graph)


def test_unsupported_grouped_conv():
    x = tensor("x", (1, 4, 4, 4), "float32")
    w = tensor("w", (2, 3, 3, 2), "float32", data=np.zeros((2, 3, 3, 2)))
    y = tensor("y", (1, 4, 4, 2), "float32")
    with pytest.raises(UnsupportedOpError, match="grouped"):
        _lower("CONV_2D", [x, w, None], [y], {"padding": "SAME", "stride_h": 1, "stride_w": 1})


def test_unsupported_activation():
    x = tensor("x", (1, 8), "float32")
    w = tensor("w", (3, 8), "float32", data=np.zeros((3, 8)))
    y = tensor("y", (1, 3), "float32")
    with pytest.raises(UnsupportedOpError, match="TANH"):
        _lower("FULLY_CONNECTED", [x, w, None], [y], {"fused_activation": "TANH"})


def test_unsupported_types_and_quantization():
    # int16 activations
    x = tensor("x", (1, 4, 4, 2), "int16", qparams(0.1, 0))
    w = tensor("w", (3, 1, 1, 2), "int8", qparams(0.1, 0), data=np.ones((3, 1, 1, 2)))
    y = tensor("y", (1, 4, 4, 3), "int16", qparams(0.1, 0))
    with pytest.raises(UnsupportedOpError, match="int16"):
        _lower("CONV_2D", [x, w, None], [y], {"padding": "SAME", "stride_h": 1, "stride_w": 1})
    # int8 conv weights with a zero point
    x = tensor("x", (1, 4, 4, 2), "int8", qparams(0.1, 0))
    w = tensor("w", (3, 1, 1, 2), "int8", qparams(0.1, 3), data=np.ones((3, 1, 1, 2)))
    y = tensor("y", (1, 4, 4, 3), "int8", qparams(0.1, 0))
    with pytest.raises(UnsupportedOpError, match="zero point"):
        _lower("CONV_2D", [x, w, None], [y], {"padding": "SAME", "stride_h": 1, "stride_w": 1})
    # per-channel scales along the wrong axis
    w = tensor("w", (3, 1, 1, 2), "int8", qparams([0.1, 0.2], [0, 0], axis=3), data=np.ones((3, 1, 1, 2)))
    with pytest.raises(UnsupportedOpError, match="axis"):
        _lower("CONV_2D", [x, w, None], [y], {"padding": "SAME", "stride_h": 1, "stride_w": 1})
    # hybrid depthwise with a per-tensor scale
    x = tensor("x", (1, 4, 4, 2), "float32")
    w = tensor("w", (1, 3, 3, 2), "int8", qparams(0.1, 0), data=np.ones((1, 3, 3, 2)))
    y = tensor("y", (1, 4, 4, 2), "float32")
    with pytest.raises(UnsupportedOpError, match="per output channel"):
        _lower("DEPTHWISE_CONV_2D", [x, w, None], [y], {"padding": "SAME", "stride_h": 1, "stride_w": 1,
                                                        "depth_multiplier": 1})
    # output shape inconsistent with the geometry
    x = tensor("x", (1, 5, 5, 2), "float32")
    w = tensor("w", (3, 3, 3, 2), "float32", data=np.ones((3, 3, 3, 2)))
    y = tensor("y", (1, 5, 5, 3), "float32")
    with pytest.raises(UnsupportedOpError, match="output shape"):
        _lower("CONV_2D", [x, w, None], [y], {"padding": "VALID", "stride_h": 1, "stride_w": 1})
    # shuffled FC weights
    x = tensor("x", (1, 8), "int8", qparams(0.1, 0))
    w = tensor("w", (4, 8), "int8", qparams(0.1, 0), data=np.ones((4, 8)))
    y = tensor("y", (1, 4), "int8", qparams(0.1, 0))
    with pytest.raises(UnsupportedOpError, match="shuffled"):
        _lower("FULLY_CONNECTED", [x, w, None], [y], {"weights_format": 1})


# ---------------------------------------------------------------- layers of the reference models


def _model_layers(name: str, kinds: tuple[str, ...]):
    path = MODELS / name
    if not path.exists():
        pytest.skip(f"{path} is not available (the shared reference models live in /work/shared/models)")
    from edgeprune.importers.tflite import load_tflite

    graph = load_tflite(path)
    return [op for op in graph.ops if op.kind in kinds]


def _rebuild(op):
    """A single-op model with exactly the layer's tensors (weights copied from the imported graph)."""
    def copy(t):
        if t is None:
            return None
        return tensor(t.name, t.shape, t.dtype, t.quant, data=None if t.data is None else t.data.copy())

    return single_op(op.kind, [copy(t) for t in op.inputs], [copy(t) for t in op.outputs], dict(op.attrs))


def _layer_input(op, rng):
    x = op.inputs[0]
    if x.dtype == "int8":
        return rng.integers(-128, 128, size=x.shape).astype(np.int8)
    return rng.uniform(0.0, 1.0, size=x.shape).astype(np.float32)


@pytest.mark.parametrize("model", ["kws_ref_model_float32.tflite", "kws_ref_model.tflite",
                                   "resnet8_cifar10_int8.tflite", "resnet8_cifar10_float.tflite"])
def test_reference_model_layers(model):
    ops = _model_layers(model, ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"))
    assert ops, f"{model} has no conv layers"
    rng = np.random.default_rng(3)
    seen = set()
    for op in ops:
        key = (op.kind, tuple(op.inputs[0].shape), tuple(op.inputs[1].shape))
        if key in seen and op.index > 2:
            continue  # identical layer geometry already checked; the first layers are always run
        seen.add(key)
        graph, fb = _rebuild(op)
        ours, ref = run_both(graph, fb, [_layer_input(op, rng)])
        _check(ours[0], ref[0], op.outputs[0].dtype)

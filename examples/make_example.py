"""Writes the bundled example models: examples/cnn_float.tflite and examples/cnn_int8.tflite.

A fixed, small DS-CNN / ResNet-like network (1x32x32x3 input, 10 classes, ~200k MACs):

    conv 3x3/2 (8, RELU) -> [dw 3x3 + pw 1x1 (16)] -> [dw 3x3/2 + pw 1x1 (24)]
    -> residual [dw 3x3 + pw 1x1 (24)] + ADD (RELU) -> avg pool 8x8 -> reshape (1, 24) -> FC (10) -> softmax

The weights are synthetic (seeded random, He-scaled then rescaled layer by layer on seeded inputs), not
trained; the int8 model is made with edgeprune.testing.ptq (per-channel weights, int8 input and output).
Deterministic: rerunning rewrites byte-identical files.

    python examples/make_example.py [--out-dir examples] [--seed 2024]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from edgeprune.backends.tflite_writer import write_tflite
from edgeprune.ir import Graph
from edgeprune.testing.ptq import quantize_graph
from edgeprune.testing.random_models import CnnBuilder, calibration_inputs, normalize_weights

SEED = 2024


def build_float(seed: int = SEED) -> Graph:
    b = CnnBuilder(np.random.default_rng(seed), name="cnn_example")
    x = b.input((1, 32, 32, 3))
    x = b.conv(x, 8, k=3, stride=2, padding="SAME", act="RELU")           # 16x16x8
    x = b.dwconv(x, k=3, stride=1, padding="SAME", act="RELU")
    x = b.conv(x, 16, k=1, act="RELU")                                     # 16x16x16
    x = b.dwconv(x, k=3, stride=2, padding="SAME", act="RELU")            # 8x8x16
    x = b.conv(x, 24, k=1, act="RELU")                                     # 8x8x24
    y = b.dwconv(x, k=3, stride=1, padding="SAME", act="RELU")
    y = b.conv(y, 24, k=1, act="NONE")
    x = b.add(x, y, act="RELU")                                            # residual
    x = b.pool("AVERAGE_POOL_2D", x, k=8, stride=1, padding="VALID")      # 1x1x24
    x = b.reshape(x, (1, 24))
    x = b.fc(x, 10, act="NONE")
    x = b.softmax(x)
    graph = b.graph([x])
    return normalize_weights(graph, calibration_inputs(graph, 16, seed))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent)
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    float_graph = build_float(args.seed)
    int8_graph = quantize_graph(float_graph, calibration_inputs(float_graph, 64, args.seed + 1))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for graph, name in ((float_graph, "cnn_float.tflite"), (int8_graph, "cnn_int8.tflite")):
        graph.name = "cnn_example"
        path = write_tflite(graph, args.out_dir / name)
        print(f"wrote {path} ({path.stat().st_size} bytes, {len(graph.ops)} ops)")


if __name__ == "__main__":
    main()

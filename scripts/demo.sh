#!/usr/bin/env bash
# The main job on the bundled example: build for Cortex-M7, verify bit-exact under QEMU, print the report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
MODEL=${1:-examples/cnn_int8.tflite}
TARGET=${TARGET:-cortex-m7}
.venv/bin/edgeprune build "$MODEL" --target "$TARGET" -o out/example-"$TARGET"
.venv/bin/edgeprune verify out/example-"$TARGET" --qemu --inputs 8

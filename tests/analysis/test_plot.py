"""The arena picture written by `edgeprune build`, and that importing the compiler does not load matplotlib."""

import subprocess
import sys

from edgeprune.pipeline import ARENA_PICTURE_NAME, build
from edgeprune.targets import load_profile


def test_build_writes_the_arena_picture(examples_dir, tmp_path):
    out = tmp_path / "out"
    build(examples_dir / "cnn_int8.tflite", load_profile("cortex-m7"), out)
    png = (out / ARENA_PICTURE_NAME).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000


def test_importing_the_pipeline_does_not_load_matplotlib():
    code = "import sys, edgeprune.pipeline, edgeprune.cli, edgeprune.verify; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"

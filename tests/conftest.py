"""Shared fixtures: the MLPerf Tiny reference models in ../shared/models (skipped with a reason when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_MODELS = Path(os.environ.get("EDGEPRUNE_SHARED", REPO.parent / "shared")) / "models"
EXAMPLES = REPO / "examples"


def shared_model(name: str) -> Path:
    path = SHARED_MODELS / name
    if not path.is_file():
        pytest.skip(f"{path} is not available (the ../shared folder with the MLPerf Tiny models is absent)")
    return path


@pytest.fixture(name="shared_model")
def shared_model_fixture():
    """shared_model("kws_ref_model.tflite") -> Path, or skip with the reason."""
    return shared_model


@pytest.fixture(name="examples_dir")
def examples_dir_fixture() -> Path:
    return EXAMPLES

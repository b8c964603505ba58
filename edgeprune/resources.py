"""Locates the data that ships with edgeprune: device profiles, board support and runtime sources.

An installed wheel carries them under edgeprune/data/; a source checkout has them at the top level.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _find(installed: Path, source: Path) -> Path:
    return installed if installed.is_dir() else source


def targets_dir() -> Path:
    return _find(_PACKAGE_DIR / "data" / "targets", _PACKAGE_DIR.parent / "targets")


def csrc_dir() -> Path:
    return _find(_PACKAGE_DIR / "data" / "csrc", _PACKAGE_DIR.parent / "csrc")

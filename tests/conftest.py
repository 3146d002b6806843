"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def glue_dir() -> Path:
    """The real GLUE folder: $GLUE_DIR, else ../shared/glue beside the repository; skips when absent."""
    path = Path(os.environ.get("GLUE_DIR") or Path(__file__).resolve().parents[1].parent / "shared" / "glue")
    if not (path / "SST-2" / "train.tsv").is_file():
        pytest.skip(f"GLUE data not found at {path}; set GLUE_DIR to a folder in the standard GLUE layout")
    return path

"""Shared pytest fixtures."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def glue_dir() -> Path:
    """The real GLUE folder: $GLUE_DIR, else ../shared/glue beside the repository; skips when absent."""
    path = Path(os.environ.get("GLUE_DIR") or Path(__file__).resolve().parents[1].parent / "shared" / "glue")
    if not (path / "SST-2" / "train.tsv").is_file():
        pytest.skip(f"GLUE data not found at {path}; set GLUE_DIR to a folder in the standard GLUE layout")
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A 2-layer, 32-wide BERT saved with the MiniLM tokenizer (tests.trial_fixtures)."""
    from tests.trial_fixtures import make_tiny_bert

    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_glue_dir(tmp_path_factory) -> Path:
    """Small synthetic SST-2 and MRPC folders in the GLUE layout (tests.trial_fixtures)."""
    from tests.trial_fixtures import make_tiny_glue

    return make_tiny_glue(tmp_path_factory.mktemp("tiny-glue"))


@pytest.fixture
def deletions_only_in_tmp(tmp_path, monkeypatch):
    """Any shutil.rmtree outside tmp_path raises before it runs: for tests of code that deletes."""
    root, rmtree = os.path.realpath(tmp_path), shutil.rmtree

    def guarded(path, *args, **kwargs):
        real = os.path.realpath(path)
        if not real.startswith(root + os.sep):
            raise AssertionError(f"test guard: refused to delete {path} outside {root}")
        return rmtree(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", guarded)

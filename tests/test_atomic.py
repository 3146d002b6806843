"""The project's one atomic-write helper: whole files, with the permissions any new file gets (issue 15)."""

from __future__ import annotations

import os
import stat

import pytest

from analysis.writers import write_atomic
from lora_sweep.results import rows as results
from lora_sweep.results import storage
from lora_sweep.trial.atomic import atomic_write_text


@pytest.fixture(params=[0o022, 0o002])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_results_files_are_readable_like_any_new_file(tmp_path, umask):
    """trials.csv, the tables, spec.yaml: 0644 under umask 022 (0664 under 002), not mkstemp's 0600."""
    expected = 0o666 & ~umask
    atomic_write_text(tmp_path / "spec.yaml", "name: x\n")
    write_atomic(tmp_path / "report.html", "<html></html>")  # the analysis package's writes
    storage.write_text(tmp_path / "sweep.json", "{}")
    record = results.TrialRecord("t1", {"model": "m", "task": "sst2", "method": "lora", "seeds": [0]})
    results.write_tables([record], tmp_path)
    written = ["spec.yaml", "report.html", "sweep.json", "trials.csv", "trials.parquet", "epochs.csv"]
    assert {name: oct(_mode(tmp_path / name)) for name in written} == dict.fromkeys(written, oct(expected))
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]

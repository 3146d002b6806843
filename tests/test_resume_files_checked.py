"""--resume reads back what an earlier run wrote, and refuses before Ray starts (exit 2, one line, nothing written
or changed) a sweep.json that is truncated, a list or another sweep's, a resume_state.tar or trials.parquet that is
garbage, and an adapters/ folder that is a symlink (written through otherwise)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pandas as pd
import pytest

from lora_sweep.results import resume_files
from tests.sweep_support import REPO, tiny_world, write_spec

pytestmark = pytest.mark.slow  # a CLI process per case (about 20 s each on a busy 2-core machine)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return tiny_world(tmp_path_factory.mktemp("world"))


def _folder(out: Path, spec: Path | None = None) -> Path:
    """A results folder as a first run leaves it (tuner.pkl makes it resumable for Ray), its sweep.json that of
    `spec` (so that --resume's own comparison of the two passes)."""
    out.mkdir(parents=True)
    (out / "tuner.pkl").write_bytes(b"")
    info = {"name": "tiny", "algorithm": "grid"}
    if spec is not None:
        from lora_sweep.spec.spec import load_spec
        from lora_sweep.sweep.driver import sweep_info

        info = sweep_info(load_spec(spec), str(spec))
    (out / "sweep.json").write_text(json.dumps(info))
    pd.DataFrame({"trial_id": ["a"], "status": ["completed"]}).to_parquet(out / "trials.parquet")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w"):
        pass
    (out / "resume_state.tar").write_bytes(buffer.getvalue())
    (out / "adapters").mkdir()
    return out


def _symlinked_adapters(out: Path) -> None:
    (out / "adapters").rmdir()
    (out.parent / "elsewhere").mkdir()
    (out / "adapters").symlink_to(out.parent / "elsewhere")


CASES = {
    "sweep.json truncated": (lambda o: (o / "sweep.json").write_text('{"name": "ti'), "sweep.json is not JSON"),
    "sweep.json a list": (lambda o: (o / "sweep.json").write_text("[1]"), "holds a JSON list"),
    "sweep.json of another sweep": (
        lambda o: (o / "sweep.json").write_text(
            json.dumps({**json.loads((o / "sweep.json").read_text()), "name": "other"})
        ),
        "is sweep 'other', not 'tiny'",
    ),
    "resume_state.tar garbage": (lambda o: (o / "resume_state.tar").write_bytes(b"x" * 700), "not a tar archive"),
    "trials.parquet garbage": (lambda o: (o / "trials.parquet").write_bytes(b"PAR1garbage"), "not a readable table"),
    "adapters/ a symlink": (_symlinked_adapters, "adapters is a symlink"),
}


def _files(root: Path) -> dict:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }


def test_a_folder_as_written_passes(tmp_path):
    resume_files.check(_folder(tmp_path / "store" / "tiny"), "tiny")  # the checks refuse only what is spoiled


@pytest.mark.parametrize("case", list(CASES))
def test_resume_refuses_a_spoiled_file_before_ray_starts(tmp_path, world, case):
    spoil, expected = CASES[case]
    model, glue = world
    spec = write_spec(tmp_path / "spec.yaml", model)
    out = _folder(tmp_path / "store" / "tiny", spec)
    spoil(out)
    before = _files(tmp_path / "store")
    env = {**os.environ, "GLUE_DIR": str(glue), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run(
        [sys.executable, "-m", "lora_sweep.run", str(spec), "--storage", str(tmp_path / "store"), "--resume"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and expected in lines[0], (done.stdout + done.stderr)[-3000:]
    assert _files(tmp_path / "store") == before  # nothing written, not even runs.jsonl

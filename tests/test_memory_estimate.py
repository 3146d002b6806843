"""A trial's memory is estimated from the model's config before anything loads (lora_sweep/cluster/memory.py):
the plan shows it per study, and a local run refuses a trial this machine cannot hold (exit 2, one line with the
numbers, nothing written, Ray not started); the dry run warns."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lora_sweep.cli import run
from lora_sweep.cluster import memory
from tests.tiny_models import save_tiny_config

REPO = Path(__file__).resolve().parents[1]
SPEC = """name: mem
experiments: [{model: MODEL, task: sst2}]
variants: [{method: lora, r: 8}]
train: {max_length: 32, epochs: 1, batch_size: 8}
search: {seeds: 1}
storage: STORE
"""


def _huge_layers() -> int:
    """BERT layers 4096 wide (about 201M parameters each): enough for twice this machine's memory in weights."""
    have = memory.machine_bytes()
    return max(2, 2 * have // (4 * 12 * 4096 * 4096) + 1)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("mem")
    huge = save_tiny_config(
        "bert", root / "huge", hidden_size=4096, num_hidden_layers=_huge_layers(), num_attention_heads=32,
        intermediate_size=16384,
    )  # fmt: skip
    return {"huge": huge, "tiny": save_tiny_config("bert", root / "tiny")}


def _spec(tmp_path, model) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.replace("MODEL", model).replace("STORE", str(tmp_path / "store")))
    return path


def test_the_plan_shows_each_studys_estimate(tmp_path, monkeypatch, capsys, models):
    monkeypatch.chdir(tmp_path)
    assert run.main([str(_spec(tmp_path, models["tiny"])), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    row = next(line for line in lines if line.startswith(models["tiny"] + "/sst2/lora-r8"))
    assert row.split()[-2:] == ["1.0", "GiB"]  # a 32-wide model: the 1 GiB overhead and a few MB


def test_a_trial_this_machine_cannot_hold_is_refused_before_start(tmp_path, models):
    spec = _spec(tmp_path, models["huge"])
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    done = subprocess.run(
        [sys.executable, "-m", "lora_sweep.run", str(spec)],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, lines[-5:]
    assert "a trial needs about" in lines[0] and ") but this machine has" in lines[0] and "weights" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]


def test_the_dry_run_warns(tmp_path, monkeypatch, capsys, models):
    monkeypatch.chdir(tmp_path)
    assert run.main([str(_spec(tmp_path, models["huge"])), "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: study ") and ") but this machine has" in err

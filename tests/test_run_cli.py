"""The CLI's paths that start nothing: --dry-run, an existing results folder, --resume with nothing to resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lora_sweep.cli import run

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "sweeps" / "smoke.yaml"

DRY_RUN = """
import contextlib, io, json, sys
from lora_sweep.cli.run import main
out, err = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "out": out.getvalue(), "err": err.getvalue(), "ray": "ray" in sys.modules}))
"""


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    return {**env, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}


def _row(out: str, study: str) -> list[str]:
    rows = [line.split() for line in out.splitlines() if line.split()[:1] == [study]]
    assert len(rows) == 1, out
    return rows[0]


def test_dry_run_prints_the_plan_and_starts_nothing(tmp_path):
    """In a fresh interpreter: the dry run never even imports Ray, and writes nothing under --storage."""
    store = tmp_path / "store"
    done = subprocess.run(
        [sys.executable, "-c", DRY_RUN, str(SMOKE), "--dry-run", "--storage", str(store)],
        cwd=tmp_path,  # a relative path written by mistake would land here
        env=_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["code"] == 0 and result["err"] == ""
    out = result["out"]
    assert out.startswith("sweep smoke: 16 trials (configurations) x 1 seeds = 16 trainings in 8 studies, search grid")
    assert "(median over seeds): max_epochs 3, grace_period 1, reduction_factor 2" in out
    # study, trials, cpu, gpu, LoRA-only, trainable, total
    # trainable: LoRA 73,728 + head: bert.pooler 384 * 384 + 384 and classifier 384 * 2 + 2
    assert _row(out, "minilm/sst2/lora-r8")[1:6] == ["2", "2", "0", "73,728", "222,338"]
    assert _row(out, "minilm/mrpc/lora-r4")[4] == "36,864"  # 2 * 4 * 384 * 2 (query, value) * 6 layers
    assert _row(out, "minilm/sst2/full")[1:6] == ["2", "2", "0", "0", "22,713,986"]
    assert result["ray"] is False
    assert not store.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.fixture
def cli(monkeypatch):
    """run.main in-process, with Ray's address unset, checking afterwards that Ray was never started.

    The functions that would start Ray or delete results fail the test instead, should a check ever let one through.
    """
    from lora_sweep.sweep import driver as sweep

    def refuse(*args, **kwargs):
        raise AssertionError("the CLI went on to run or remove a sweep")

    monkeypatch.setattr(sweep, "run_sweep", refuse)
    monkeypatch.setattr(sweep, "remove_results", refuse)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    yield run.main
    ray = sys.modules.get("ray")
    assert ray is None or not ray.is_initialized()


def test_existing_results_folder_needs_resume_or_overwrite(tmp_path, capsys, cli):
    folder = tmp_path / "store" / "smoke"
    folder.mkdir(parents=True)
    kept = folder / "trials.csv"
    kept.write_text("trial_id\nold\n")
    before = kept.stat().st_mtime_ns

    assert cli([str(SMOKE), "--storage", str(tmp_path / "store")]) == 2
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert "--resume" in lines[0] and "--overwrite" in lines[0] and str(folder) in lines[0]
    assert out == ""
    assert kept.read_text() == "trial_id\nold\n" and kept.stat().st_mtime_ns == before
    assert [p.name for p in folder.iterdir()] == ["trials.csv"]
    assert [p.name for p in (tmp_path / "store").iterdir()] == ["smoke"]


@pytest.mark.parametrize("existing", [False, True], ids=["no-folder", "folder-without-tune-state"])
def test_resume_with_nothing_to_resume_exits_2(tmp_path, capsys, cli, existing):
    store = tmp_path / "store"
    if existing:
        (store / "smoke").mkdir(parents=True)
        (store / "smoke" / "notes.txt").write_text("not a sweep")
    assert cli([str(SMOKE), "--storage", str(store), "--resume"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --resume"), lines
    assert "smoke" in lines[0]
    if existing:
        assert [p.name for p in (store / "smoke").iterdir()] == ["notes.txt"]
    else:
        assert not store.exists()


def test_set_and_name_flags_reach_the_plan(tmp_path, capsys, cli):
    store = tmp_path / "store"
    args = [str(SMOKE), "--dry-run", "--storage", str(store), "--name", "other"]
    # The smoke spec's first experiment is SST-2: --set turns it into a second MRPC one.
    assert cli([*args, "--set", "experiments.0.task=mrpc", "--set", "search.seeds=2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("sweep other: 16 trials (configurations) x 2 seeds = 32 trainings in 4 studies")
    assert "seeds [0, 1]" in out and f"storage {store}" in out
    assert "minilm/sst2" not in out
    assert not store.exists()


def test_dry_run_warns_about_resources_this_machine_lacks(tmp_path, capsys, cli):
    """A plan may be meant for a cluster: the dry run still succeeds, but says what a local run would refuse."""
    store = tmp_path / "store"
    assert cli([str(SMOKE), "--dry-run", "--storage", str(store), "--set", "resources.gpu=4096"]) == 0
    out, err = capsys.readouterr()
    assert "16 trials (configurations) x 1 seeds" in out
    assert err.startswith("warning: resources.gpu") and len(err.splitlines()) == 1
    assert not store.exists()

"""Storage stays bounded (lora_sweep/checkpoints.py): an ended trial's checkpoint_* folders go once Ray's saved
experiment state records it ended, never before, never through a symlink; --keep-checkpoints keeps them.

Whole sweeps: tests/test_s3_storage.py (none left under the URI after a killed and resumed sweep) and
tests/test_interrupt_resume.py (none left locally; --keep-checkpoints on a resume keeps them).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pyarrow.fs
import pytest

from lora_sweep import checkpoints
from tests.standin import spec_file


@pytest.fixture(autouse=True)
def deletions_only_in_tmp(tmp_path, monkeypatch):
    """Any shutil.rmtree outside tmp_path raises before it runs."""
    root, rmtree = os.path.realpath(tmp_path), shutil.rmtree

    def guarded(path, *args, **kwargs):
        real = os.path.realpath(path)
        if not real.startswith(root + os.sep):
            raise AssertionError(f"test guard: refused to delete {path} outside {root}")
        return rmtree(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", guarded)


def _trial(experiment: Path, trial_id: str, status: str):
    folder = experiment / f"run_trial_{trial_id}_0_x"
    for name in ("checkpoint_000001", "checkpoint_000002"):
        (folder / name / "seed_0").mkdir(parents=True)
        (folder / name / "seed_0" / "trial_state.pt").write_bytes(b"x" * 1000)
    (folder / "result.json").write_text("{}")
    context = SimpleNamespace(storage_filesystem=pyarrow.fs.LocalFileSystem(), experiment_fs_path=str(experiment))
    return SimpleNamespace(trial_id=trial_id, status=status, storage=context, path=str(folder))


def _saved_state(experiment: Path, name: str, statuses: dict) -> None:
    """An experiment_state file as Ray writes it (trial_data: [json state, run metadata] per trial)."""
    data = [[json.dumps({"trial_id": t, "status": s}), "{}"] for t, s in statuses.items()]
    (experiment / f"experiment_state-{name}.json").write_text(json.dumps({"trial_data": data}))


def _checkpoint_folders(experiment: Path) -> list[str]:
    return sorted(str(p.relative_to(experiment)) for p in experiment.glob("*/checkpoint_*"))


def test_only_trials_the_saved_state_records_ended_lose_their_checkpoints(tmp_path, monkeypatch):
    experiment = tmp_path / "store" / "sweep"
    done, errored, stopped_by_signal, running = (
        _trial(experiment, "a_00000", "TERMINATED"),
        _trial(experiment, "a_00001", "ERROR"),
        _trial(experiment, "a_00002", "TERMINATED"),  # Ray's clean-up after Ctrl-C; saved as RUNNING: resumable
        _trial(experiment, "a_00003", "RUNNING"),
    )
    trials = [done, errored, stopped_by_signal, running]
    # An older snapshot says a_00000 was running; the newest (the one --resume reads) says it ended.
    _saved_state(experiment, "2026-01-01_00-00-00", {"a_00000": "RUNNING"})
    _saved_state(
        experiment,
        "2026-01-01_00-00-10",
        {"a_00000": "TERMINATED", "a_00001": "ERROR", "a_00002": "RUNNING", "a_00003": "RUNNING"},
    )
    outside = tmp_path / "outside"
    (outside / "seed_0").mkdir(parents=True)
    (Path(done.path) / "checkpoint_000003").symlink_to(outside)  # never followed

    monkeypatch.setattr(checkpoints.POLICY, "keep", True)
    assert checkpoints.CheckpointPruner().prune(trials) == 0
    assert len(_checkpoint_folders(experiment)) == 9

    monkeypatch.setattr(checkpoints.POLICY, "keep", False)
    assert checkpoints.CheckpointPruner().prune(trials) == 2
    left = _checkpoint_folders(experiment)
    assert [p.split("/")[0][10:17] for p in left] == ["a_00000"] + ["a_00002"] * 2 + ["a_00003"] * 2, left
    assert left[0].endswith("checkpoint_000003") and (outside / "seed_0").is_dir()  # the symlink stays, unfollowed
    assert (Path(done.path) / "result.json").is_file() and (Path(errored.path) / "result.json").is_file()


def test_keep_checkpoints_is_a_flag_and_a_spec_key(tmp_path):
    from lora_sweep import run
    from lora_sweep.spec import SpecError, load_spec

    spec = spec_file(tmp_path / "s.yaml", [1e-4], epochs=1, seeds=1)
    assert load_spec(spec).keep_checkpoints is False
    assert load_spec(spec, ("keep_checkpoints=true",)).keep_checkpoints is True
    args = run._parser().parse_args([str(spec), "--keep-checkpoints"])
    assert run._checked_spec(args).keep_checkpoints is True
    with pytest.raises(SpecError, match="keep_checkpoints: got 'yes please'; must be true or false"):
        load_spec(spec, ("keep_checkpoints=yes please",))


def test_a_state_file_being_copied_prunes_nothing_this_round(tmp_path):
    """Ray copies its experiment state to the storage while the sweep runs; read half-way (seen at 1,000 trials:
    an empty file) it must not end the sweep, only skip this round."""
    from lora_sweep.checkpoints import saved_statuses

    (tmp_path / "experiment_state-2026-11-30_14-00-00.json").write_text("")
    assert saved_statuses(pyarrow.fs.LocalFileSystem(), str(tmp_path)) == {}
    (tmp_path / "experiment_state-2026-11-30_14-00-00.json").write_text('{"trial_data": [["{\\"trial_id\\": "')
    assert saved_statuses(pyarrow.fs.LocalFileSystem(), str(tmp_path)) == {}

"""Storage stays bounded (lora_sweep/checkpoints.py): an ended trial's checkpoint_* folders go once Ray's saved
experiment state records it ended, never before, never through a symlink; a running trial's go once they are older
than the checkpoint every saved copy (Ray's file, resume_state.tar) records; --keep-checkpoints keeps them.

Whole sweeps: tests/test_s3_storage.py (none left under the URI after a killed and resumed sweep) and
tests/test_interrupt_resume.py (none left locally; --keep-checkpoints on a resume keeps them).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pyarrow.fs
import pytest

from lora_sweep.sweep import checkpoints
from tests.standin import spec_file

# Any shutil.rmtree outside the test's tmp_path raises before it runs (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("deletions_only_in_tmp")


def _trial(experiment: Path, trial_id: str, status: str, count: int = 2):
    folder = experiment / f"run_trial_{trial_id}_0_x"
    for name in (f"checkpoint_{i:06d}" for i in range(1, count + 1)):
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
    from lora_sweep.cli import run
    from lora_sweep.spec.spec import SpecError, load_spec

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
    from lora_sweep.sweep.saved_state import read_states

    (tmp_path / "experiment_state-2026-11-30_14-00-00.json").write_text("")
    assert read_states(pyarrow.fs.LocalFileSystem(), str(tmp_path)) is None
    (tmp_path / "experiment_state-2026-11-30_14-00-00.json").write_text('{"trial_data": [["{\\"trial_id\\": "')
    assert read_states(pyarrow.fs.LocalFileSystem(), str(tmp_path)) is None
    (tmp_path / "experiment_state-2026-11-30_14-00-00.json").write_text('{"trial_data": []}')
    (tmp_path / "resume_state.tar").write_bytes(b"half a tar")
    assert read_states(pyarrow.fs.LocalFileSystem(), str(tmp_path)) is None


def _entry(trial: SimpleNamespace | str, status: str, checkpoint: int | None) -> list:
    """One trial_data entry as Ray 2.60 writes it: the trial's JSON state and its run metadata, whose checkpoint
    manager (cloudpickled) records the latest checkpoint, the one a resume restores the trial from."""
    from ray.train import Checkpoint, CheckpointConfig
    from ray.train._internal.checkpoint_manager import _CheckpointManager
    from ray.train._internal.session import _TrainingResult
    from ray.tune.trainable.metadata import _TrainingRunMetadata

    trial_id = trial if isinstance(trial, str) else trial.trial_id
    metadata = _TrainingRunMetadata()
    metadata.checkpoint_manager = _CheckpointManager(CheckpointConfig(num_to_keep=None))
    for index in range(1, (checkpoint or 0) + 1):
        path = f"{trial.path}/checkpoint_{index:06d}"
        metadata.checkpoint_manager.register_checkpoint(_TrainingResult(checkpoint=Checkpoint(path), metrics={}))
    return [json.dumps({"trial_id": trial_id, "status": status}), metadata.get_json_state()]


def _write_copies(experiment: Path, storage_copy: list, archive_copy: list | None) -> None:
    """Ray's own experiment_state file, and the same save's copy in resume_state.tar (state_snapshot)."""
    import tarfile

    name = "experiment_state-2026-11-30_14-00-00.json"
    (experiment / name).write_text(json.dumps({"trial_data": storage_copy}))
    if archive_copy is not None:
        (experiment / "staged").mkdir(exist_ok=True)
        (experiment / "staged" / name).write_text(json.dumps({"trial_data": archive_copy}))
        with tarfile.open(experiment / "resume_state.tar", "w") as archive:
            archive.add(experiment / "staged" / name, arcname=name)


def test_a_running_trial_keeps_the_checkpoint_every_saved_copy_may_restore_and_newer(tmp_path, monkeypatch):
    """Ray keeps every checkpoint (num_to_keep=None: no forced save per checkpoint); the pruner deletes a running
    trial's checkpoints older than the one both saved copies record, since --resume restores from that one."""
    monkeypatch.setattr(checkpoints.POLICY, "keep", False)
    experiment = tmp_path / "store" / "sweep"
    ahead, behind, unsaved, fresh, waiting, ended = (
        _trial(experiment, "a_00000", "RUNNING", 4),  # Ray's file records checkpoint 2, the archive 3
        _trial(experiment, "a_00001", "RUNNING", 4),  # Ray's file records 3, the (older) archive 2
        _trial(experiment, "a_00002", "RUNNING", 4),  # not in the archive yet
        _trial(experiment, "a_00003", "RUNNING", 4),  # no checkpoint saved yet
        _trial(experiment, "a_00004", "PENDING", 4),  # restored by a resume, not started again yet
        _trial(experiment, "a_00005", "TERMINATED", 4),  # ended; the archive still says RUNNING at 3
    )
    storage_copy = [
        _entry(ahead, "RUNNING", 2),
        _entry(behind, "RUNNING", 3),
        _entry(unsaved, "RUNNING", 3),
        _entry(fresh, "RUNNING", None),
        _entry(waiting, "RUNNING", 1),
        _entry(ended, "TERMINATED", 4),
    ]
    archive_copy = [_entry(ahead, "RUNNING", 3), _entry(behind, "RUNNING", 2), _entry(fresh, "RUNNING", None),
                    _entry(waiting, "RUNNING", 1), _entry(ended, "RUNNING", 3)]  # fmt: skip
    _write_copies(experiment, storage_copy, archive_copy)
    trials = [ahead, behind, unsaved, fresh, waiting, ended]
    pruner = checkpoints.CheckpointPruner()
    assert pruner.prune(trials) == 0  # no trial lost all its checkpoints

    def left(trial) -> list[int]:
        return sorted(int(p.name[11:]) for p in Path(trial.path).glob("checkpoint_*"))

    assert [left(t) for t in trials] == [[2, 3, 4], [2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4], [3, 4]]
    # The next save records checkpoint 4 everywhere: 2 and 3 go, the ended trial's too.
    _write_copies(experiment, [_entry(t, "RUNNING", 4) for t in trials[:5]] + [_entry(ended, "TERMINATED", 4)],
                  [_entry(t, "RUNNING", 4) for t in trials[:5]] + [_entry(ended, "TERMINATED", 4)])  # fmt: skip
    assert pruner.prune(trials) == 1
    assert [left(t) for t in trials] == [[4], [4], [4], [4], [1, 2, 3, 4], []]
    assert all((Path(t.path) / "result.json").is_file() for t in trials)

"""Storage stays bounded: the checkpoints of trials that ended are deleted once nothing can resume from them.

--resume restores the newest experiment state Ray saved under the storage path and runs again only the trials that
state records as unfinished (Tuner.restore with resume_unfinished; finished and errored trials are never run again,
and a Tune trial that failed is retried, up to max_failures, before Ray records it as ERROR). So a trial's
checkpoints can go once the saved state records it TERMINATED (completed, stopped by ASHA, diverged) or ERROR, and
not before: a driver killed between a trial's end and Ray's next snapshot resumes that trial from its checkpoint.
Trials stopped by Ctrl-C are saved as RUNNING (Ray snapshots before its clean-up marks them terminated): theirs stay.
Ray snapshots at least every 10 s while the sweep runs and once more before on_experiment_end, where the last ones go.

Only `checkpoint_*` folders inside a trial's folder are deleted (the trial's result.json, progress.csv and params.json
stay); locally never through a symlink. `keep_checkpoints: true` (--keep-checkpoints) keeps them all.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import time
from pathlib import Path

from ray import tune

STATE_FILES = "experiment_state-*.json"  # Ray's TuneController.CKPT_FILE_TMPL; resume reads the newest by name
ENDED = ("TERMINATED", "ERROR")


class Policy:
    """Whether this driver keeps checkpoints: set by run_sweep on every run, since on --resume Ray restores the
    callbacks of the first run from a pickle (with the settings they had then)."""

    keep = False


POLICY = Policy()  # one per driver process, like sweep.STOP


def saved_statuses(fs, experiment_path: str) -> dict[str, str]:
    """trial_id -> status in the newest experiment state saved under experiment_path ({} when there is none)."""
    import pyarrow.fs

    found = fs.get_file_info(pyarrow.fs.FileSelector(experiment_path, allow_not_found=True))
    names = [info.base_name for info in found if fnmatch.fnmatch(info.base_name, STATE_FILES)]
    if not names:
        return {}
    try:
        with fs.open_input_stream(f"{experiment_path}/{max(names)}") as handle:
            state = json.loads(handle.read())
        statuses = {}
        for entry in state.get("trial_data", []):
            trial = json.loads(entry[0])
            statuses[trial["trial_id"]] = trial["status"]
    except (ValueError, OSError, KeyError, IndexError, TypeError):
        # Ray is copying the file right now (seen at 1,000 trials: an empty file): nothing is pruned this round.
        return {}
    return statuses


def delete_checkpoints(fs, trial_path: str) -> int:
    """Delete the checkpoint_* folders in one trial's folder; return how many went."""
    import pyarrow.fs

    if isinstance(fs, pyarrow.fs.LocalFileSystem):
        return _delete_local(Path(trial_path))
    found = fs.get_file_info(pyarrow.fs.FileSelector(trial_path, allow_not_found=True))
    doomed = [i.path for i in found if i.type == pyarrow.fs.FileType.Directory and _is_checkpoint(i.base_name)]
    for path in doomed:
        fs.delete_dir(path)
    return len(doomed)


def _is_checkpoint(name: str) -> bool:
    return fnmatch.fnmatchcase(name, "checkpoint_*")


def _delete_local(folder: Path) -> int:
    if folder.is_symlink() or not folder.is_dir():
        return 0
    doomed = [p for p in folder.iterdir() if _is_checkpoint(p.name) and p.is_dir() and not p.is_symlink()]
    for path in doomed:
        shutil.rmtree(path)  # never follows symlinks inside
    return len(doomed)


class CheckpointPruner(tune.Callback):
    """Deletes the checkpoints of ended trials once Ray's saved experiment state records them ended (see above)."""

    def __init__(self, interval_s: float = 10.0, log=print):
        self.interval_s, self.log = interval_s, log
        self._pruned: set[str] = set()
        self._last = 0.0

    def setup(self, **info):
        self._pruned, self._last = set(), 0.0

    def on_step_end(self, iteration, trials, **info):
        if time.monotonic() - self._last >= self.interval_s:
            self._last = time.monotonic()
            self.prune(trials)

    def on_experiment_end(self, trials, **info):
        count = self.prune(trials)
        if count:
            self.log(f"[lora_sweep] deleted the checkpoints of {count} ended trials (--keep-checkpoints keeps them)")

    def prune(self, trials) -> int:
        """Delete what can go now; return the number of trials whose checkpoints went."""
        if POLICY.keep:
            return 0
        ended = [t for t in trials if t.status in ENDED and t.trial_id not in self._pruned]
        if not ended:
            return 0
        context = ended[0].storage
        fs = context.storage_filesystem
        saved = saved_statuses(fs, context.experiment_fs_path)
        count = 0
        for trial in ended:
            if saved.get(trial.trial_id) in ENDED:
                if delete_checkpoints(fs, trial.path):
                    count += 1
                self._pruned.add(trial.trial_id)
        return count


def folder_bytes(path: str | os.PathLike) -> int:
    """Bytes of the files under a local folder (for tests and the README's figures)."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file() and not p.is_symlink())

"""Storage stays bounded: checkpoints are deleted once nothing can resume from them.

--resume restores the experiment state Ray saved last (lora_sweep.sweep.saved_state) and runs again only the trials that
state records as unfinished (Tuner.restore with resume_unfinished; finished and errored trials are never run
again, and a Tune trial that failed is retried, up to max_failures, before Ray records it as ERROR), each from the
checkpoint that state records as its latest. So:
  - an unfinished trial's checkpoints older than that one can go (Ray keeps them all: CheckpointConfig(num_to_keep=1)
    would make Ray save its whole experiment state after every checkpoint, a cost per report that grows with the
    trial count);
  - an ended trial's checkpoints all go once the saved state records it TERMINATED (completed, stopped by ASHA,
    diverged) or ERROR, and not before: a driver killed between a trial's end and Ray's next save resumes that
    trial from its checkpoint. Trials stopped by Ctrl-C are saved as RUNNING (Ray saves before its clean-up marks
    them terminated): their latest checkpoint stays.
Ray saves at least every 10 s while the sweep runs (19 times as long as a save takes, if longer) and once more
before on_experiment_end, where the last ones go. The pruner looks AFTER_SAVE_S after each save (Ray copies the
saved state to the storage in the background) and every 10 s; a file that has not changed is not read again.

Only `checkpoint_*` folders inside a trial's folder are deleted (the trial's result.json, progress.csv and params.json
stay); locally never through a symlink. `keep_checkpoints: true` (--keep-checkpoints) keeps them all.
"""

from __future__ import annotations

import fnmatch
import math
import os
import shutil
import time
from pathlib import Path

from ray import tune

from lora_sweep.sweep.saved_state import ENDED, checkpoint_index, keep_from, read_states


class Policy:
    """Whether this driver keeps checkpoints: set by run_sweep on every run, since on --resume Ray restores the
    callbacks of the first run from a pickle (with the settings they had then)."""

    keep = False


POLICY = Policy()  # one per driver process, like sweep.STOP
AFTER_SAVE_S = 1.0


def delete_checkpoints(fs, trial_path: str, below: float = math.inf) -> int:
    """Delete the checkpoint_* folders in one trial's folder (below: only checkpoint_N with N < below); return
    how many went."""
    import pyarrow.fs

    if isinstance(fs, pyarrow.fs.LocalFileSystem):
        return _delete_local(Path(trial_path), below)
    found = fs.get_file_info(pyarrow.fs.FileSelector(trial_path, allow_not_found=True))
    doomed = [i.path for i in found if i.type == pyarrow.fs.FileType.Directory and _doomed(i.base_name, below)]
    for path in doomed:
        fs.delete_dir(path)
    return len(doomed)


def _doomed(name: str, below: float) -> bool:
    if not fnmatch.fnmatchcase(name, "checkpoint_*"):
        return False
    index = checkpoint_index(name)
    return below == math.inf or (index is not None and index < below)


def _delete_local(folder: Path, below: float) -> int:
    if folder.is_symlink() or not folder.is_dir():
        return 0
    doomed = [p for p in folder.iterdir() if _doomed(p.name, below) and p.is_dir() and not p.is_symlink()]
    for path in doomed:
        shutil.rmtree(path)  # never follows symlinks inside
    return len(doomed)


class CheckpointPruner(tune.Callback):
    """Deletes the checkpoints no resume can need any more (see above)."""

    def __init__(self, interval_s: float = 10.0, log=print):
        self.interval_s, self.log = interval_s, log
        self.setup()

    def setup(self, **info):
        self._pruned: set[str] = set()  # trials whose checkpoints all went
        self._kept_from: dict[str, float] = {}  # running trial -> checkpoints below this index went already
        self._next = 0.0  # when to look next
        self._cache: dict = {}  # the saved copies last read (saved_state.read_states)

    def get_state(self):
        """Ray Tune is saving its experiment state: look again once it has reached the storage."""
        self._next = time.monotonic() + AFTER_SAVE_S  # not at once: the copy on the storage is the last save's
        return None  # nothing for Ray to keep

    def on_step_end(self, iteration, trials, **info):
        if time.monotonic() >= self._next:
            self._next = time.monotonic() + self.interval_s
            self.prune(trials)

    def on_experiment_end(self, trials, **info):
        count = self.prune(trials)
        if count:
            self.log(f"[lora_sweep] deleted the checkpoints of {count} ended trials (--keep-checkpoints keeps them)")

    def prune(self, trials) -> int:
        """Delete what can go now; return the number of ended trials whose checkpoints went."""
        if POLICY.keep:
            return 0
        # Trials not started yet (PENDING, a resumed one included) wait for their turn.
        live = {t.trial_id: t for t in trials if t.trial_id not in self._pruned and t.status != "PENDING"}
        if not live:
            return 0
        context = next(iter(live.values())).storage
        fs = context.storage_filesystem
        copies = read_states(fs, context.experiment_fs_path, self._cache)
        count = 0
        for trial_id, below in keep_from(copies or [], set(live)).items():
            trial = live[trial_id]
            if below == math.inf:
                if trial.status not in ENDED:
                    continue
                if delete_checkpoints(fs, trial.path):
                    count += 1
                self._pruned.add(trial_id)
            elif below > self._kept_from.get(trial_id, -math.inf):
                delete_checkpoints(fs, trial.path, below)
                self._kept_from[trial_id] = below
        return count


def folder_bytes(path: str | os.PathLike) -> int:
    """Bytes of the files under a local folder (for tests and the README's figures)."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file() and not p.is_symlink())

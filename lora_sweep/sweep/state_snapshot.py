"""One consistent copy of Ray Tune's experiment state, so that --resume after a killed driver never waits for ever.

Ray Tune saves its experiment state as several files (the trial list; the search algorithm's state) in a local
staging folder, then copies them to the storage one by one. A driver killed during that copy can leave the
storage with a search state newer than the trial list: the resumed sweep then waits for ever for a trial the
search algorithm believes it handed out already (seen with S3 storage, Ray 2.60: 2 runs of 6). Ray Tune asks
each callback for its state while it saves, after writing those files and before copying them: StateSnapshot then
packs them into one archive, `resume_state.tar`, written beside the results in one piece (a local rename; an
object store replaces an object whole). `--resume` first puts the archive's files back over Ray's (restore), so
Ray restores a trial list and a search state from the same save.
"""

from __future__ import annotations

import fnmatch
import io
import os
import sys
import tarfile
from pathlib import Path

from ray import tune

from lora_sweep.results import folder as results_folder
from lora_sweep.results import storage

ARCHIVE = "resume_state.tar"
NAMES = results_folder.RAY_STATE  # the files of one save that must agree


def _ours(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in NAMES)


class StateSnapshot(tune.Callback):
    """Packs the state files of every save Ray Tune makes into <results>/resume_state.tar (see the module)."""

    def __init__(self, out: storage.Location):
        self.out = out
        self.staging: str | None = None

    def on_step_begin(self, iteration, trials, **info):
        if self.staging is None and trials:  # Ray's staging folder: the same for every trial of the experiment
            self.staging = trials[0].storage.experiment_driver_staging_path

    def get_state(self):
        if self.staging and os.path.isdir(self.staging):
            names = sorted(n for n in os.listdir(self.staging) if _ours(n))
            try:
                if names:
                    storage.write(storage.join(self.out, ARCHIVE), lambda tmp: _pack(self.staging, names, tmp))
            except OSError as err:  # the storage failed once: Ray's own files still hold the state; try next save
                print(f"[lora_sweep] could not write {ARCHIVE}: {err}", file=sys.stderr)
        return None  # nothing for Ray to keep: the archive is the state


def _pack(folder: str, names: list[str], target: str) -> None:
    with tarfile.open(target, "w") as archive:
        for name in names:
            archive.add(os.path.join(folder, name), arcname=name)


def restore(out: storage.Location) -> list[str]:
    """Before Tuner.restore: the archive's files written over Ray's in the experiment folder (== out); the names."""
    location = storage.join(out, ARCHIVE)
    if not storage.is_file(location):
        return []
    written = []
    with tarfile.open(fileobj=io.BytesIO(storage.read_bytes(location))) as archive:
        for member in archive.getmembers():
            if not (member.isfile() and _ours(member.name) and "/" not in member.name):
                continue  # only the state files, never a path elsewhere
            data = archive.extractfile(member).read()
            storage.write(storage.join(out, member.name), lambda tmp, d=data: Path(tmp).write_bytes(d))
            written.append(member.name)
    return written

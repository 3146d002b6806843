"""Which checkpoints a --resume could still restore from, read from the experiment state Ray Tune saved.

--resume first puts the state of resume_state.tar (state_snapshot) over Ray's files, then Ray restores the newest
experiment_state-*.json by name: each unfinished trial from the checkpoint that state records as its latest, and
no trial from an older one. Ray writes the archive at each save, before it copies its own files to the storage, so
either copy may be the newer: a checkpoint may go only when every copy there is (the storage's, the archive's)
records the trial ended, or records a newer checkpoint. A copy being written (unreadable) prunes nothing.
"""

from __future__ import annotations

import fnmatch
import io
import json
import math
import re
import tarfile

from lora_sweep.results.folder import RAY_STATE

STATE_FILES = RAY_STATE[0]  # experiment_state-*.json (Ray's TuneController.CKPT_FILE_TMPL); resume reads the newest
ENDED = ("TERMINATED", "ERROR")
CHECKPOINT = re.compile(r"checkpoint_(\d+)")  # Ray's StorageContext._make_checkpoint_dir_name: checkpoint_000003


def checkpoint_index(name: str) -> int | None:
    match = CHECKPOINT.fullmatch(name)
    return int(match.group(1)) if match else None


def read_states(fs, experiment_path: str, cache: dict | None = None) -> list[list] | None:
    """The trial_data of each saved copy a resume could read ([] when none); None when one cannot be read whole.

    cache: a dict kept between calls; the files are read again only when their size or time changed.
    """
    import pyarrow.fs

    from lora_sweep.sweep.state_snapshot import ARCHIVE

    found = fs.get_file_info(pyarrow.fs.FileSelector(experiment_path, allow_not_found=True))
    names = {info.base_name for info in found}
    states = [n for n in names if fnmatch.fnmatch(n, STATE_FILES)]
    key = [(i.base_name, i.size, i.mtime) for i in found if i.base_name in (max(states, default=""), ARCHIVE)]
    if cache is not None and key and all(mtime is not None for *_, mtime in key) and cache.get("key") == key:
        return cache["copies"]
    copies = []
    try:
        if states:
            with fs.open_input_stream(f"{experiment_path}/{max(states)}") as handle:
                copies.append(json.loads(handle.read())["trial_data"])
        if ARCHIVE in names:
            with fs.open_input_stream(f"{experiment_path}/{ARCHIVE}") as handle:
                archive = tarfile.open(fileobj=io.BytesIO(handle.read()))
            members = [m for m in archive.getmembers() if m.isfile() and fnmatch.fnmatch(m.name, STATE_FILES)]
            if members:
                newest = max(members, key=lambda m: m.name)
                copies.append(json.loads(archive.extractfile(newest).read())["trial_data"])
    except (ValueError, OSError, KeyError, TypeError, tarfile.TarError):
        # Ray is copying the file right now (seen at 1,000 trials: an empty file): nothing is pruned this round.
        return None
    if cache is not None:
        cache.update(key=key, copies=copies)
    return copies


def _latest_checkpoint(entry: list) -> int | None:
    """The index of the checkpoint a resume restores this trial from (its run metadata's latest), or None."""
    from ray.tune.trainable.metadata import _TrainingRunMetadata

    try:  # the same decoding Ray's resume does with this file
        manager = _TrainingRunMetadata.from_json_state(entry[1]).checkpoint_manager
        latest = manager.latest_checkpoint_result if manager else None
        return checkpoint_index(latest.checkpoint.path.rstrip("/").rsplit("/", 1)[-1]) if latest else None
    except Exception:  # noqa: BLE001 - an entry this Ray cannot read: keep every checkpoint of that trial
        return None


def keep_from(copies: list[list], trial_ids: set[str]) -> dict[str, float]:
    """trial_id -> the lowest checkpoint index a resume may still need (math.inf: none, every copy says ended).

    Only trials in trial_ids that every copy records are answered; a trial left out keeps all its checkpoints.
    """
    if not copies:
        return {}
    bounds: dict[str, float] = {}
    for number, copy in enumerate(copies):
        seen = {}
        for entry in copy:
            trial = json.loads(entry[0])
            trial_id = trial["trial_id"]
            if trial_id not in trial_ids or (number and trial_id not in bounds):
                continue
            if trial["status"] in ENDED:
                seen[trial_id] = math.inf
            else:
                index = _latest_checkpoint(entry)
                seen[trial_id] = index if index is not None else -math.inf
        bounds = {t: min(bound, bounds.get(t, math.inf)) for t, bound in seen.items()}
    return {t: bound for t, bound in bounds.items() if bound > -math.inf}

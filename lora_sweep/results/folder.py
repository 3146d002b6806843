"""--overwrite: remove a results folder only when lora_sweep wrote it, and only the entries lora_sweep or Ray put there.

A folder is removable when its marker `sweep.json` (a regular file, written by sweep.write_run_info) names this
sweep, every entry in it matches WRITTEN below, and nothing on the way is a symlink. Anything else is refused with
the reason (OverwriteRefused, exit 2 in the CLI) before a single file is removed. Under a storage URI (s3://...) the
same rule holds for the objects at <storage>/<name>/ (an object store has no symlinks), checked and removed through
pyarrow.fs.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
from pathlib import Path

from lora_sweep.results import storage

MARKER = "sweep.json"
# What lora_sweep (tables, spec, versions, marker, report) and Ray Tune (experiment state, trial folders) write.
# The files of one Ray Tune state save that must agree: the trial list and the search algorithms' states (grid,
# Optuna); lora_sweep.sweep.state_snapshot keeps them as one archive.
RAY_STATE = ("experiment_state-*.json", "basic-variant-state-*.json", "searcher-state-*.pkl", "search_gen_state-*.json")
WRITTEN = (
    "trials.csv",
    "trials.parquet",
    "epochs.csv",
    "epochs.parquet",
    "rank_vs_accuracy.csv",
    "rank_vs_accuracy.md",
    "parameter_efficiency.csv",
    "parameter_efficiency.md",
    "search_health.csv",
    "search_health.md",
    "asha_budget.csv",
    "asha_budget.md",
    "incomplete_configurations.csv",
    "incomplete_configurations.md",
    "paper_table.md",  # the paper-style table (analysis/paper_table.py)
    "paper_table.tex",
    "paper_table.csv",
    "spec.yaml",
    "versions.json",
    MARKER,
    "runs.jsonl",  # provenance.py
    "fair_asha.state",  # the scheduler's rungs (sweep.ASHA_STATE)
    "fair_asha.json",  # its name before
    "report.html",
    ".*.tmp",  # atomic writes interrupted by a kill (atomic.py, analysis/writers.py)
    "trial_*",  # Ray Tune's trial folders (progress.trial_dirname)
    "run_trial_*",  # the same, named by Ray's default (results written before progress.trial_dirname existed)
    *RAY_STATE,
    "tuner.pkl",
    "trainable.pkl",
    "callback-states-*.pkl",
    "resume_state.tar",  # one save's experiment state in one piece (state_snapshot.py)
    "unwritten_epochs.jsonl",  # epoch rows since the last table rewrite (sweep.ResultsCallback)
    "adapters",  # the best adapters (adapters.py)
    "models",  # the best full fine-tuning models, with keep_full_models (adapters.py)
    ".validate_storage_marker",
)
DIRECTORIES = ("trial_*", "run_trial_*", "adapters", "models")


class OverwriteRefused(ValueError):
    """--overwrite would remove something lora_sweep did not write: one line saying what and why."""


def _matches(name: str, patterns) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _marker_name(folder: Path) -> str | None:
    marker = folder / MARKER
    if marker.is_symlink() or not marker.is_file():
        return None
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info.get("name") if isinstance(info, dict) else None


def removable_entries(folder: Path | str, name: str, storage_path: str) -> list:
    """The entries --overwrite would remove from folder (results of sweep `name`), or OverwriteRefused."""
    if storage.is_uri(folder):
        return _removable_objects(folder, name)
    if folder.is_symlink():
        raise OverwriteRefused(f"--overwrite: {folder} is a symlink; refusing to remove what it points to")
    if not folder.is_dir():
        raise OverwriteRefused(f"--overwrite: {folder} is not a folder")
    found = _marker_name(folder)
    if found != name:
        why = f"its {MARKER} names sweep {found!r}" if found else f"it has no {MARKER} written by lora_sweep"
        raise OverwriteRefused(
            f"--overwrite: {folder} is not the results folder of sweep {name!r} ({why}); nothing removed"
        )
    entries = sorted(folder.iterdir())
    for entry in entries:
        if entry.is_symlink():
            raise OverwriteRefused(f"--overwrite: {entry} is a symlink; nothing removed")
        if not _matches(entry.name, WRITTEN):
            raise OverwriteRefused(
                f"--overwrite: {entry} was not written by lora_sweep or Ray; move it away first; nothing removed"
            )
        if entry.is_dir() != _matches(entry.name, DIRECTORIES):
            raise OverwriteRefused(f"--overwrite: {entry} is not what lora_sweep writes there; nothing removed")
    return entries


def remove_results(folder: Path | str, name: str, storage_path: str) -> None:
    """Remove sweep `name`'s results folder (checked by removable_entries first); the marker goes last."""
    entries = removable_entries(folder, name, storage_path)
    if storage.is_uri(folder):
        _remove_objects(folder, entries)
        return
    for entry in sorted(entries, key=lambda p: p.name == MARKER):
        if entry.is_symlink():  # changed since the check: leave it and stop
            raise OverwriteRefused(f"--overwrite: {entry} became a symlink; stopped")
        if entry.is_dir():
            shutil.rmtree(entry)  # never follows symlinks inside (it unlinks them)
        else:
            os.remove(entry)
    folder.rmdir()


def _removable_objects(uri: str, name: str) -> list[tuple[str, bool]]:
    """removable_entries under a storage URI: (name, is_folder) of what is directly under it."""
    where = storage.join(uri, MARKER)
    try:
        info = json.loads(storage.read_text(where)) if storage.is_file(where) else None
    except ValueError:
        info = None
    found = info.get("name") if isinstance(info, dict) else None
    if found != name:
        why = f"its {MARKER} names sweep {found!r}" if found else f"it has no {MARKER} written by lora_sweep"
        raise OverwriteRefused(f"--overwrite: {uri} is not the results of sweep {name!r} ({why}); nothing removed")
    entries = storage.entries(uri)
    for entry, is_dir in entries:
        if not _matches(entry, WRITTEN):
            raise OverwriteRefused(
                f"--overwrite: {storage.join(uri, entry)} was not written by lora_sweep or Ray; move it away first; "
                "nothing removed"
            )
        if is_dir != _matches(entry, DIRECTORIES):
            raise OverwriteRefused(
                f"--overwrite: {storage.join(uri, entry)} is not what lora_sweep writes there; nothing removed"
            )
    return entries


def _remove_objects(uri: str, entries: list[tuple[str, bool]]) -> None:
    fs, path = storage.filesystem(uri)
    for entry, is_dir in sorted(entries, key=lambda e: e[0] == MARKER):
        if is_dir:
            fs.delete_dir(f"{path}/{entry}")
        else:
            fs.delete_file(f"{path}/{entry}")
    if not storage.entries(uri):  # like rmdir: the folder's own marker object, only once nothing is left in it
        fs.delete_dir(path)

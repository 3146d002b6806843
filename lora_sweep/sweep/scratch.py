"""Scratch checkpoint folders: `lora_sweep_ckpt_<pid>_*` in the system temp folder, one per checkpoint being handed
to Ray. A trial killed while one exists (SIGKILL, OOM) leaves it behind; each trial start removes this user's
folders whose process is gone. A live process's folder, another user's, or anything that is not a plain folder
(a symlink, a file) is left alone.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

PREFIX = "lora_sweep_ckpt_"
_NAME = re.compile(re.escape(PREFIX) + r"(\d+)_.+")


def prefix() -> str:
    """The prefix of this process's scratch folders (tempfile.TemporaryDirectory(prefix=...))."""
    return f"{PREFIX}{os.getpid()}_"


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    try:  # a killed process not yet reaped is a zombie: gone for our purpose
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0] != "Z"
    except (OSError, IndexError):
        return True


def remove_stale(root: str | Path | None = None) -> list[Path]:
    """Remove this user's scratch folders under root (default: the temp folder) whose process is gone."""
    root = Path(root or tempfile.gettempdir())
    removed = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _NAME.fullmatch(entry.name)
        if not match:
            continue
        try:
            info = entry.lstat()
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or process_alive(int(match[1])):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed

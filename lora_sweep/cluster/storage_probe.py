"""Is the sweep's storage the same place on every node? The driver writes a marker there, each node looks for it.

A local folder: the marker is a file; a node that does not see it has its own folder of that name (not shared).
A URI (s3://, gs://, ...): the marker is an object, read on each node through pyarrow's file systems, as Ray Tune
writes there. A node that cannot reach it (an endpoint or credentials set only in the driver's environment, such
as AWS_ENDPOINT_URL; no route to the bucket) would fail every trial it runs: `seen` returns why, in one line.
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path

URI_TIMEOUT_S = 30  # a store that does not answer a node within this is unreachable from it
NOTE = "written by the driver; each node looks for it (lora_sweep.cluster.storage_probe)\n"


def is_uri(storage: str) -> bool:
    return "://" in storage


def place(storage: str) -> str:
    """Write a marker under storage (creating a local folder if needed); return where it is."""
    name = f".lora_sweep_probe_{uuid.uuid4().hex}"
    if not is_uri(storage):
        Path(storage).mkdir(parents=True, exist_ok=True)
        marker = os.path.join(storage, name)
        Path(marker).write_text(NOTE)
        return marker
    from lora_sweep.results import storage as results_storage

    marker = results_storage.join(storage, name)
    results_storage.write_text(marker, NOTE)
    return marker


def seen(marker: str, timeout_s: float = URI_TIMEOUT_S) -> str | None:
    """On a node: None when the marker is there, else the reason in one line."""
    if not is_uri(marker):
        return None if os.path.exists(marker) else "not found"
    # The S3 client retries an unreachable endpoint (and looks for credentials) for minutes: ask in a thread and
    # give up after timeout_s, so the refusal names the reason instead of the probe's overall time limit.
    answer: list = []
    asking = threading.Thread(target=lambda: answer.append(_look(marker)), daemon=True)
    asking.start()
    asking.join(timeout_s)
    return answer[0] if answer else f"no answer within {timeout_s:g} s (endpoint unreachable from here?)"


def _look(marker: str) -> str | None:
    try:
        import pyarrow.fs

        fs, path = pyarrow.fs.FileSystem.from_uri(marker)
        info = fs.get_file_info(path)
    except Exception as err:  # noqa: BLE001 - pyarrow raises OSError, ArrowInvalid, ... for an unreachable store
        return (str(err).strip().splitlines() or [type(err).__name__])[0][:300]
    return None if info.type == pyarrow.fs.FileType.File else "not found"


def remove(marker: str) -> None:
    if not is_uri(marker):
        Path(marker).unlink(missing_ok=True)
        return
    try:
        import pyarrow.fs

        fs, path = pyarrow.fs.FileSystem.from_uri(marker)
        fs.delete_file(path)
    except Exception:  # noqa: BLE001, S110 - a marker left behind is harmless; the sweep must not fail for it
        pass

"""--resume reads back files that another run, another machine or a person may have changed: each is checked
before Ray starts or anything is written, and a bad one is a one-line ResumeRefused (exit 2 in the CLI).

- sweep.json: a JSON mapping naming this sweep (a folder of another sweep is refused, as --overwrite does);
- resume_state.tar: a tar archive (state_snapshot.restore unpacks it over Ray's state);
- trials.parquet, epochs.parquet: tables pandas can read, with a trial_id column;
- unwritten_epochs.jsonl: JSON objects, one a line;
- adapters/, models/ (exports written at the end): real folders, not symlinks written through to elsewhere.
"""

from __future__ import annotations

import io
import json
import tarfile

from lora_sweep.results import storage


class ResumeRefused(ValueError):
    """A file of the results folder that --resume cannot continue from: one line naming it and why."""


def check(out: storage.Location, name: str) -> None:
    """Raise ResumeRefused for the first file under `out` (this sweep's results folder) that is not as written."""
    _sweep_json(out, name)
    _archive(storage.join(out, "resume_state.tar"))
    for table in ("trials.parquet", "epochs.parquet"):
        _table(storage.join(out, table))
    _json_lines(storage.join(out, "unwritten_epochs.jsonl"))
    if not storage.is_uri(out):
        for folder in ("adapters", "models"):
            if (out / folder).is_symlink():
                raise ResumeRefused(
                    f"--resume: {out / folder} is a symlink; the sweep would write through it to "
                    f"{(out / folder).resolve()}: make it a folder, or resume a copy"
                )


def _sweep_json(out, name: str) -> None:
    where = storage.join(out, "sweep.json")
    if not storage.is_file(where):
        return
    try:
        info = json.loads(storage.read_bytes(where))
    except ValueError as err:  # JSON errors and UnicodeDecodeError
        raise ResumeRefused(f"--resume: {where} is not JSON ({str(err).splitlines()[0][:120]})") from None
    if not isinstance(info, dict):
        raise ResumeRefused(f"--resume: {where} holds a JSON {type(info).__name__}; lora_sweep writes a mapping")
    if info.get("name") != name:
        raise ResumeRefused(
            f"--resume: {where} is sweep {info.get('name')!r}, not {name!r}; resume it under its own name, or start "
            "a new sweep with --name"
        )


def _archive(where) -> None:
    if not storage.is_file(where):
        return
    try:
        with tarfile.open(fileobj=io.BytesIO(storage.read_bytes(where))) as archive:
            archive.getmembers()
    except (tarfile.TarError, EOFError, OSError) as err:
        raise ResumeRefused(
            f"--resume: {where} is not a tar archive ({str(err)[:120]}); delete it to resume from Ray's own state"
        ) from None


def _table(where) -> None:
    if not storage.is_file(where):
        return
    import pandas as pd

    try:
        table = pd.read_parquet(io.BytesIO(storage.read_bytes(where)))
    except Exception as err:  # noqa: BLE001 - pyarrow raises several types for a damaged file
        raise ResumeRefused(f"--resume: {where} is not a readable table ({str(err).splitlines()[0][:120]})") from None
    if len(table.columns) and "trial_id" not in table.columns:
        raise ResumeRefused(f"--resume: {where} has no trial_id column; not a table lora_sweep wrote")


def _json_lines(where) -> None:
    if not storage.is_file(where):
        return
    for number, line in enumerate(storage.read_text(where).splitlines(), 1):
        try:
            row = json.loads(line) if line.strip() else {}
        except ValueError:
            row = None
        if not isinstance(row, dict):
            raise ResumeRefused(f"--resume: {where} line {number} is not a JSON object")

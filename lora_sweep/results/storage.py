"""Where a sweep's files live: a local folder, or a cloud URI (s3://, gs://, ...) reached through pyarrow.fs.

A location is a local path (str or Path) or a URI string with "://". The functions below take either, so the results
tables, the spec as run, runs.jsonl and Fair ASHA's state go where Ray's checkpoints go, and anyone on the cluster
reads them there. Credentials come from the usual environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or
~/.aws, AWS_ENDPOINT_URL for an S3-compatible server), as for Ray: never from the URI (preflight refuses that).

Writes are whole-file: locally a temporary file renamed over the target (atomic.py); under a URI a temporary local
file uploaded as one object (an object store's put is atomic per object: readers see the old or the new file).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from lora_sweep.trial.atomic import atomic_write

Location = str | os.PathLike


def is_uri(location: Location) -> bool:
    return isinstance(location, str) and "://" in location


def join(location: Location, *names: str) -> Location:
    """location/name/...; a URI keeps its query (?...) at the end."""
    if not is_uri(location):
        return Path(location).joinpath(*names)
    base, sep, query = location.partition("?")
    return "/".join([base.rstrip("/"), *names]) + sep + query


def basename(location: Location) -> str:
    return str(location).partition("?")[0].rstrip("/").rsplit("/", 1)[-1]


def filesystem(uri: str):
    """(pyarrow filesystem, path in it) for a URI, as Ray opens its storage_path."""
    import pyarrow.fs

    return pyarrow.fs.FileSystem.from_uri(uri)


def _info(location: Location):
    fs, path = filesystem(location)
    return fs, path, fs.get_file_info(path)


def is_file(location: Location) -> bool:
    if not is_uri(location):
        return Path(location).is_file()
    import pyarrow.fs

    return _info(location)[2].type == pyarrow.fs.FileType.File


def read_bytes(location: Location) -> bytes:
    """The file's bytes; FileNotFoundError when there is none."""
    if not is_uri(location):
        return Path(location).read_bytes()
    if not is_file(location):
        raise FileNotFoundError(f"no file {location}")
    fs, path = filesystem(location)
    with fs.open_input_stream(path) as handle:
        return handle.read()


def read_text(location: Location) -> str:
    return read_bytes(location).decode("utf-8")


def write(location: Location, write_file: Callable[[str], object]) -> Location:
    """Call write_file(tmp_path) on a temporary local file, then put it at location as a whole."""
    if not is_uri(location):
        return atomic_write(location, write_file)
    with tempfile.TemporaryDirectory(prefix="lora_sweep_put_") as folder:
        tmp = os.path.join(folder, basename(location))
        write_file(tmp)
        upload(tmp, location)
    return location


def write_text(location: Location, text: str) -> Location:
    return write(location, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def upload(local_file: str | os.PathLike, uri: str) -> None:
    fs, path = filesystem(uri)
    with open(local_file, "rb") as source, fs.open_output_stream(path) as target:
        shutil.copyfileobj(source, target, 8 * 1024 * 1024)


def entries(location: Location) -> list[tuple[str, bool]]:
    """(name, is_folder) of what is directly in location; [] when it does not exist."""
    if not is_uri(location):
        folder = Path(location)
        return [(p.name, p.is_dir()) for p in folder.iterdir()] if folder.is_dir() else []
    import pyarrow.fs

    fs, path = filesystem(location)
    found = fs.get_file_info(pyarrow.fs.FileSelector(path, allow_not_found=True))
    return sorted((info.base_name, info.type == pyarrow.fs.FileType.Directory) for info in found)


def has_entries(location: Location) -> bool:
    """A folder (or prefix) that holds something."""
    return bool(entries(location))


def download_files(location: Location, names, folder: str | os.PathLike) -> list[Path]:
    """Copy the named files directly in location (those that exist) into a local folder."""
    present = {name for name, is_dir in entries(location) if not is_dir}
    copied = []
    for name in names:
        if name in present:
            target = Path(folder, name)
            target.write_bytes(read_bytes(join(location, name)))
            copied.append(target)
    return copied


def read_table(location: Location, stem: str):
    """A table the sweep writes twice (<stem>.parquet and <stem>.csv) as a pandas DataFrame, parquet first, the
    csv where the parquet is being rewritten; None where neither can be read."""
    import io

    import pandas as pd

    for name, read in ((f"{stem}.parquet", pd.read_parquet), (f"{stem}.csv", pd.read_csv)):
        path = join(location, name)
        if is_file(path):
            try:
                return read(io.BytesIO(read_bytes(path)))
            except Exception:  # noqa: BLE001 - a table being rewritten: try the other format
                continue
    return None

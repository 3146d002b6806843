"""How every lora-sweep command exits."""

from __future__ import annotations

import os
import sys


def exit_now(code: int) -> None:
    """Exit with code. After a sweep on a storage URI, skip the interpreter's exit handlers: pyarrow's S3 finalizer
    can wait for ever (or minutes) on filesystems Ray still references (apache/arrow#50188; seen here with pyarrow
    26 as a driver that printed its results and then hung). Everything is written and Ray is shut down by then."""
    sys.stdout.flush()
    sys.stderr.flush()
    if "pyarrow._s3fs" in sys.modules:
        os._exit(code)
    sys.exit(code)

"""What a sweep keeps and prints holds no secrets, and no absolute paths of this machine unless asked.

- redact(text): credentials in URIs (`user:pass@`, and query parameters named like secret_key, access_key, token,
  password, session_token, signature, credential) become `***`. Applied to spec.yaml, sweep.json, the tables, the
  plan and everything lora_sweep (and Ray, through sys.stdout/sys.stderr) prints: RedactingStream.
- portable(text): absolute paths under $GLUE_DIR, the working folder or the home folder are written `$GLUE_DIR/...`,
  `./...`, `~/...` (the longest match wins), unless the spec says record_paths: true (--record-paths).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

MASK = "***"
_USERINFO = re.compile(r"(?<![\w.+-])([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s'\"?#]+@")
_SECRET_PARAM = re.compile(
    r"(?i)([?&;][^=&#\s'\"]*(?:secret|token|passw|pwd|access_?key|api_?key|credential|signature|sig|auth)"
    r"[^=&#\s'\"]*=)[^&#\s'\"]*"
)


def redact(text: str) -> str:
    """Mask credentials in every URI in text."""
    if "://" not in text and "=" not in text:
        return text
    return _SECRET_PARAM.sub(lambda m: m[1] + MASK, _USERINFO.sub(lambda m: m[1] + MASK + "@", text))


def _roots() -> list[tuple[str, str]]:
    roots = [
        (os.environ.get("GLUE_DIR", ""), "$GLUE_DIR"),
        (os.getcwd(), "."),
        (os.path.expanduser("~"), "~"),
    ]
    out = []
    for path, name in roots:
        path = path.rstrip("/")
        if len(path) > 1 and os.path.isabs(path):
            out.append((path, name))
            real = os.path.realpath(path)
            if real != path:
                out.append((real, name))
    return sorted(out, key=lambda r: -len(r[0]))  # stable: GLUE_DIR, then cwd, then home on a tie


def portable(text: str, roots: list[tuple[str, str]] | None = None) -> str:
    """Absolute paths under $GLUE_DIR, the working folder or home written relative to them."""
    for root, name in _roots() if roots is None else roots:
        if root in text:
            text = re.sub(re.escape(root) + r"(?=/|$|[^\w.-])", lambda _m, n=name: n, text)
    return text


class Scrubber:
    """The function applied to each string kept in the results folder: redact, then portable unless
    record_paths. The roots are found once, and each distinct string is cleaned once: a results table repeats
    the same model paths, studies and settings in every row (a 100-trial sweep cleaned 765,000 cells)."""

    LIMIT = 200_000  # distinct strings remembered

    def __init__(self, record_paths: bool):
        self.roots = None if record_paths else _roots()
        self.seen: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        cleaned = self.seen.get(text)
        if cleaned is None:
            cleaned = redact(text) if self.roots is None else portable(redact(text), self.roots)
            if len(self.seen) >= self.LIMIT:
                self.seen.clear()
            self.seen[text] = cleaned
        return cleaned


def scrubber(record_paths: bool) -> Callable[[str], str]:
    """The function applied to each string kept in the results folder."""
    return Scrubber(record_paths)


def scrub(value, clean: Callable[[str], str]):
    """clean applied to every string (keys included) in nested dicts, lists and tuples."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {scrub(k, clean): scrub(v, clean) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(scrub(v, clean) for v in value)
    return value


class RedactingStream:
    """A text stream that masks credentials in whatever is written to it (sys.stdout and sys.stderr in the CLI)."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        return self._stream.write(redact(text) if isinstance(text, str) else text)

    def __getattr__(self, name):
        return getattr(self._stream, name)

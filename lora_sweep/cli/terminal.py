"""What reaches the terminal from input is escaped: an error is one line, whatever a name in it holds.

A model name, path or storage URI may hold a newline (a second, fake `error:` line) or ANSI escape codes (clear
the screen, retitle the terminal). error() prints `error: MESSAGE` to stderr with every control character written
as a Python escape (\\n, \\x1b), so the line reads as what was typed.
"""

from __future__ import annotations

import re
import sys

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escaped(text: str) -> str:
    """text with each control character (C0, DEL, C1, line and paragraph separators) as its escape."""
    return CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def error(message: str) -> None:
    print(f"error: {escaped(str(message))}", file=sys.stderr)

"""Headless Chromium on a report: `python -m analysis.screenshot report.html shot.png` (the README's picture).

The browser test drives the same function, so the picture users see is the one the tests check.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
WIDTH, HEIGHT = 1400, 3000


def find_chromium() -> str | None:
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def chromium(page: Path, *args: str, size: tuple[int, int] = (WIDTH, HEIGHT)) -> subprocess.CompletedProcess:
    """Run headless Chromium on a local page with no network chatter; console messages go to stderr."""
    binary = find_chromium()
    if binary is None:
        raise FileNotFoundError("no chromium on PATH (Debian: apt-get install -y chromium)")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        command = [
            binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            # WebGL traces (the report's large scatter plots) in software, opted in: our own local page.
            "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
            f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
            f"--window-size={size[0]},{size[1]}", *args, Path(page).resolve().as_uri(),
        ]  # fmt: skip
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def screenshot(page: Path, out: Path, size: tuple[int, int] = (WIDTH, HEIGHT)) -> Path:
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    chromium(page, f"--screenshot={out}", size=size)
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m analysis.screenshot REPORT.html OUT.png", file=sys.stderr)
        return 2
    try:
        print(screenshot(Path(args[0]), Path(args[1])))
    except (FileNotFoundError, subprocess.CalledProcessError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

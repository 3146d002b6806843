"""The report in a real browser: headless Chromium renders every figure without console errors.

Needs Debian's chromium at /usr/bin/chromium (`apt-get install -y chromium`); skipped without it.
Leaves a screenshot at build/report_screenshot.png.
"""

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from analysis.report import build_report
from analysis.screenshot import chromium as run_chromium
from tests.data_analysis.synthetic import demo_sweep

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
FIGURES = ["fig-headline", "fig-rank", "fig-curves", "fig-search"]
WIDTH, HEIGHT = 1400, 3000

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason="needs /usr/bin/chromium (Debian: apt-get install -y chromium)"
)


def chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium as analysis.screenshot runs it (profile: kept for the callers' signature)."""
    return run_chromium(page, *args, size=(WIDTH, HEIGHT))


def console_errors(stderr: str) -> list[str]:
    """Chromium's log lines for page console messages and uncaught exceptions.
    (Chromium 150 writes 'INFO:CONSOLE:12]', older ones 'INFO:CONSOLE(12)'.) The software GL driver's own
    performance notes on WebGL traces ("GL Driver Message (OpenGL, Performance, ...)") are not the page's."""
    return [
        line
        for line in stderr.splitlines()
        if ("Uncaught" in line or re.search(r":CONSOLE[(:]", line)) and "GL Driver Message" not in line
    ]


def rendered(dom: str) -> dict[str, bool]:
    """For each plotly figure div in the DOM: whether plotly drew its svg.main-svg inside it."""
    found = {}
    for match in re.finditer(r'<div[^>]*\bid="(fig-[a-z]+)"[^>]*>', dom):
        section = dom[match.end() : dom.find("</section>", match.end())]  # each figure has a section
        found[match.group(1)] = bool(re.search(r'<svg[^>]*class="[^"]*\bmain-svg\b', section))
    return found


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def png_distinct_bytes(data: bytes) -> int:
    """How many distinct byte values the decoded image data holds (a blank page has very few)."""
    chunks, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"IDAT":
            chunks.append(data[pos + 8 : pos + 8 + length])
        pos += 12 + length
    return len(set(zlib.decompress(b"".join(chunks))))


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    return build_report(demo_sweep(tmp_path_factory.mktemp("browser")))


@pytest.fixture(scope="module")
def dumped(report, tmp_path_factory) -> subprocess.CompletedProcess:
    return chromium(report, tmp_path_factory.mktemp("profile"), "--dump-dom")


def test_every_figure_renders(dumped):
    assert rendered(dumped.stdout) == dict.fromkeys(FIGURES, True)


def test_render_check_fails_on_an_unrendered_page(report):
    # The static file has the figure divs but no svg yet: the check must say so.
    assert rendered(report.read_text()) == dict.fromkeys(FIGURES, False)


def test_no_console_errors(dumped):
    assert console_errors(dumped.stderr) == []


def test_console_error_detection_catches_a_deliberate_error(report, tmp_path):
    broken = tmp_path / "broken.html"
    script = '<script>throw new Error("deliberate failure 42");</script></body>'
    broken.write_text(report.read_text().replace("</body>", script))
    errors = console_errors(chromium(broken, tmp_path / "profile", "--dump-dom").stderr)
    assert len(errors) == 1 and "Uncaught Error: deliberate failure 42" in errors[0]


def test_screenshot(report, tmp_path):
    shot = tmp_path / "report.png"
    chromium(report, tmp_path / "profile", f"--screenshot={shot}")
    data = shot.read_bytes()
    assert png_size(data) == (WIDTH, HEIGHT)
    assert len(data) > 100_000 and png_distinct_bytes(data) > 100, "the page looks blank"
    keep = REPO / "build" / "report_screenshot.png"
    keep.parent.mkdir(exist_ok=True)
    shutil.copyfile(shot, keep)


def test_a_10000_trial_report_stays_small_and_draws_in_the_browser(tmp_path):
    """Issue 16's scale: 10,000 trials x 3 seeds. The learning curves draw the stopped seeds as one band per
    task, the searched settings the best configuration per bin, so the page holds a bounded number of points."""
    from tests.data_analysis.scale import browser_load_s, large_sweep

    report = build_report(large_sweep(tmp_path / "scale", 10_000, seeds=3))
    size_mb = report.stat().st_size / 1e6
    page_s, run_s = browser_load_s(report)  # raises unless every figure was drawn
    print(f"10,000 trials: report {size_mb:.2f} MB, drawn at {page_s:.1f} s by the page's clock ({run_s:.1f} s run)")
    assert size_mb < 6.0  # plotly.js itself is 4.8 MB of it
    assert console_errors(chromium(report, tmp_path / "profile", "--dump-dom").stderr) == []

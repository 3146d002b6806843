"""analysis.report: one self-contained HTML file and the CLI's exit codes."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.report import build_report, main
from analysis.results import ResultsError
from tests.data_analysis.synthetic import demo_sweep, trial, trials_frame, write_results

REPO = Path(__file__).resolve().parents[1]
BUNDLE = "* plotly.js v"  # the licence header of the inlined plotly.js bundle


def _figure_ids(page: str) -> list[str]:
    return re.findall(r'<div id="(fig-[a-z]+)" class="plotly-graph-div"', page)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return demo_sweep(tmp_path_factory.mktemp("demo"))


def test_report_is_one_self_contained_file(demo):
    path = build_report(demo)
    assert path == demo / "report.html"
    page = path.read_text()
    assert page.count(BUNDLE) == 1, "plotly.js must be inlined exactly once"
    assert len(page) > 3_000_000, "the bundle itself, not a reference to it"
    assert not re.findall(r"<script[^>]*\bsrc=", page), "no external scripts"
    # The bundle names its CDN as a default (geo maps only); nothing outside it may point online.
    rest = re.sub(r"<script>/\*\*\s*\* plotly\.js v.*?</script>", "", page, flags=re.S)
    assert len(rest) < len(page) / 10
    assert "cdn.plot.ly" not in rest and "https://" not in rest
    assert _figure_ids(page) == ["fig-headline", "fig-rank", "fig-curves", "fig-search"]
    assert "LoRA sweep report: synthetic" in page
    assert "1 trial is still running" in page and "2 of 82 planned trials have not started" in page
    assert "stopped by ASHA" in page and "paper LoRA (r=8)" in page
    for stem in ("rank_vs_accuracy", "parameter_efficiency", "search_health", "asha_budget"):
        assert (demo / f"{stem}.md").is_file() and (demo / f"{stem}.csv").is_file()


def test_report_tables_show_percent_with_one_decimal(demo):
    page = build_report(demo).read_text()
    rows = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", page, flags=re.S)]
    head = next(r for r in rows if r[:4] == ["minilm", "sst2", "head", ""])
    # seeds' best over lrs: .815 and .812 -> min 81.2, max 81.5; head is 8 points below full
    assert head[6:10] == ["81.2", "81.5", "2", "4"] and head[12] == "-8.0"
    full = next(r for r in rows if r[:3] == ["roberta-base", "sst2", "full"])
    assert full[-2:] == ["94.8", "paper FT"]


def test_partial_results_give_fewer_figures_and_no_crash(tmp_path):
    rows = [trial(method="full", best_metric=0.9), trial(r=8, best_metric=0.91), trial(r=16, status="pending")]
    write_results(tmp_path, trials_frame(rows), formats=("csv",))
    page = build_report(tmp_path).read_text()
    assert _figure_ids(page) == ["fig-headline", "fig-rank"]  # no epochs, no sweep.json
    assert page.count(BUNDLE) == 1
    assert "no epochs table: learning curves skipped" in page and "no sweep.json" in page


def test_build_report_raises_on_empty_dir(tmp_path):
    with pytest.raises(ResultsError):
        build_report(tmp_path)


@pytest.mark.parametrize("sub", ["empty", "does-not-exist"])
def test_cli_exits_2_with_one_line_on_bad_dir(tmp_path, sub):
    (tmp_path / "empty").mkdir()
    out = subprocess.run(
        [sys.executable, "-m", "analysis.report", str(tmp_path / sub)], cwd=REPO, capture_output=True, text=True
    )
    assert out.returncode == 2
    assert out.stdout == "" and len(out.stderr.strip().splitlines()) == 1
    assert out.stderr.startswith("error: ") and sub in out.stderr


def test_cli_prints_report_tables_and_notes(demo, capsys):
    assert main([str(demo)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"report: {demo / 'report.html'}"
    assert f"table:  {demo / 'rank_vs_accuracy.md'}" in lines
    assert "note:   1 of 80 trials failed (1 error)" in lines

"""What comes from input is quoted or escaped where it is shown: an error naming a model with a newline or ANSI
codes stays one line with no escape code reaching the terminal; the resume hint after an interrupt is shell-quoted
(pasting it runs no `$(...)`); the report's legends and subplot titles show `<a href>` in a name as text."""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lora_sweep.cli import run
from tests.data_analysis.synthetic import sweep_info, trial, trials_frame, write_results
from tests.standin import cli as standin_cli
from tests.standin import spec_file as standin_spec

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["/x\nerror: all good, nothing refused", "/x\x1b[2J\x1b]0;owned\x07", "/x\u2028y"])
def test_an_error_naming_a_hostile_model_is_one_escaped_line(tmp_path, monkeypatch, capsys, name):
    monkeypatch.chdir(tmp_path)
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(
        "experiments: [{model: " + json.dumps(name) + ", task: sst2}]\nvariants: [{method: lora}]\n"
        f"storage: {tmp_path / 'store'}\n"
    )
    code = run.main([str(spec_file), "--dry-run"])
    out = capsys.readouterr()
    text = out.out + out.err
    assert code == 2 and text.count("\n") == 1 and text.startswith("error: "), repr(text)
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f\u2028]", text), repr(text)
    assert name.encode("unicode_escape").decode("ascii") in text


def _traces(page: str) -> list[dict]:
    """Every trace of every Plotly.newPlot call in the page, and the layout annotations' texts as traces."""
    decoder, out = json.JSONDecoder(), []
    for match in re.finditer(r'Plotly\.newPlot\(\s*"[^"]+",\s*', page):
        data, end = decoder.raw_decode(page, match.end())
        layout, _ = decoder.raw_decode(page, page.index("{", end))
        out += data + [{"name": a.get("text")} for a in layout.get("annotations", [])]
    return out


def test_report_legends_show_html_in_names_as_text(tmp_path):
    evil = '<a href="https://example.com/x">click</a>'
    rows = [
        trial(model=evil, method="full", best_metric=0.9),
        trial(model=evil, r=8, best_metric=0.91),
        trial(model=evil, r=16, best_metric=0.92),
    ]
    write_results(tmp_path, trials_frame(rows), sweep=sweep_info(), formats=("csv",))
    done = subprocess.run(
        [sys.executable, "-m", "analysis.report", str(tmp_path)], cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    traces = _traces((tmp_path / "report.html").read_text())
    texts = [t.get("name") or "" for t in traces] + [str(t.get("hovertext", "")) for t in traces]
    assert any("&lt;a href" in text for text in texts), texts  # the name is there, as text
    assert not any("<a " in text for text in texts), [t for t in texts if "<a " in t]


@pytest.mark.slow
def test_the_resume_hint_is_shell_quoted(tmp_path):
    store = tmp_path / "a b;$(touch PWNED)"
    spec = standin_spec(tmp_path / "s.yaml", [1e-4, 3e-4], epochs=3, seeds=1)
    with open(tmp_path / "log", "w") as log:
        driver = standin_cli([spec, "--storage", store], epoch_s=1.5, log=log)
        deadline = time.time() + 240
        while time.time() < deadline and driver.poll() is None and not (store / "standin" / "epochs.csv").exists():
            time.sleep(0.2)
        driver.send_signal(signal.SIGINT)
        assert driver.wait(timeout=120) == 130
    hint = next(line for line in (tmp_path / "log").read_text().splitlines() if "resume with" in line)
    command = hint.split("resume with ", 1)[1]
    assert shlex.split(command) == ["lora-sweep", "run", str(spec), "--name", "standin", "--storage", str(store),
                                    "--resume"]  # fmt: skip
    subprocess.run(["bash", "-c", f"echo {command}"], cwd=tmp_path, check=True, capture_output=True)
    assert not (tmp_path / "PWNED").exists()

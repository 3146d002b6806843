"""The headline figure's data as the browser holds it (each plot div's `data` after Plotly.newPlot), not the HTML.

Needs /usr/bin/chromium; skipped without it."""

import base64
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.report import build_report
from analysis.screenshot import chromium
from tests.data_analysis.synthetic import demo_sweep

pytestmark = pytest.mark.skipif(not Path("/usr/bin/chromium").is_file(), reason="needs /usr/bin/chromium")

# After load: every figure's traces and layout (template removed) as JSON in a <pre id="figdata">.
_DUMP = """<script>window.addEventListener('load', () => setTimeout(() => {
  const out = {}; document.querySelectorAll('.plotly-graph-div').forEach(gd => {
    const layout = Object.assign({}, gd.layout); delete layout.template;
    out[gd.id] = {data: gd.data, layout: layout}; });
  const pre = document.createElement('pre'); pre.id = 'figdata'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre); }, 500));</script></body>"""


def _array(value) -> list:
    """A trace array as plotly.js was given it: a list, or {dtype, bdata} (plotly.py's base64 typed arrays)."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
    return list(value)


def _arrays(trace: dict) -> dict:
    out = {k: _array(trace[k]) for k in ("x", "y") if k in trace}
    if "error_y" in trace:
        out["up"], out["down"] = _array(trace["error_y"]["array"]), _array(trace["error_y"]["arrayminus"])
    return out


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    folder = demo_sweep(tmp_path_factory.mktemp("headline"))
    report = build_report(folder)
    page = report.with_name("dump.html")
    page.write_text(report.read_text().replace("</body>", _DUMP))
    dom = chromium(page, "--dump-dom").stdout
    text = re.search(r'<pre id="figdata">(.*?)</pre>', dom, flags=re.S).group(1)
    figures = json.loads(text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"'))
    return figures["fig-headline"], pd.read_csv(folder / "rank_vs_accuracy.csv")


def test_error_bars_equal_the_tables_min_max_and_labels_carry_the_seed_count(drawn):
    figure, table = drawn
    ours = [t for t in figure["data"] if (t.get("meta") or {}).get("kind") == "ours"]
    assert ours
    checked = 0
    for trace in ours:
        a = _arrays(trace)
        for y, up, down, label in zip(a["y"], a["up"], a["down"], trace["text"], strict=True):
            hit = table[(table["score"] - y).abs() < 1e-9]
            if hit["max"].notna().any():
                assert y + up == pytest.approx(hit["max"].dropna().iloc[0])
                assert y - down == pytest.approx(hit["min"].dropna().iloc[0])
                checked += 1
            assert label.endswith(f"({int(hit['n_seeds'].iloc[0])})")
    assert checked > 0


def test_pareto_front_is_exactly_the_non_dominated_points(drawn):
    figure, _ = drawn
    by_axes = {}
    for trace in figure["data"]:
        meta = trace.get("meta") or {}
        by_axes.setdefault(trace.get("xaxis", "x"), []).append((meta.get("kind"), trace))
    fronts = 0
    for traces in by_axes.values():
        for kind, trace in traces:
            if kind != "pareto":
                continue
            model = trace["meta"]["model"]  # the front is per model: its points only
            ours = [_arrays(t) for k, t in traces if k == "ours" and t["meta"]["model"] == model]
            points = [(x, y) for a in ours for x, y in zip(a["x"], a["y"], strict=True)]
            a = _arrays(trace)
            front = set(zip(a["x"], a["y"], strict=True))
            dominated = {p for p in points if any(q != p and q[0] <= p[0] and q[1] >= p[1] for q in points)}
            assert front == set(points) - dominated
            fronts += 1
    assert fronts > 0


def test_one_parameter_count_per_axis_log_and_one_metric_per_y_axis(drawn):
    figure, table = drawn
    layout = figure["layout"]
    xaxes = [k for k in layout if re.fullmatch(r"xaxis\d*", k)]
    assert {layout[k]["type"] for k in xaxes} == {"log"}
    assert len({layout[k]["title"]["text"] for k in xaxes}) == 1
    for trace in figure["data"]:
        if (trace.get("meta") or {}).get("kind") == "majority":
            y = _arrays(trace)["y"]
            assert y[0] == y[1] and not math.isnan(y[0])
    ytitles = [layout[k]["title"]["text"] for k in layout if re.fullmatch(r"yaxis\d*", k)]
    assert len(ytitles) == table["task"].nunique()

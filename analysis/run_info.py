"""The report's "What this run used" block: what tells two runs apart (lora_sweep/provenance.py records it).

Package versions and the driver's git revision (versions.json), the model revisions and data sources and
fingerprints the trials used, their hosts, and the invocations (runs.jsonl). Anything missing is left out.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pandas as pd

VERSION_META = ("python", "git_revision")
_LONG_HEX = re.compile(r"[0-9a-f]{40,64}")
STYLE = """
table.used { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }
table.used th, table.used td { border-bottom: 1px solid #eee; padding: 3px 8px; text-align: left;
  vertical-align: top; } table.used th { white-space: nowrap; color: #444; }
"""


def _versions(directory: Path) -> dict:
    try:
        loaded = json.loads((directory / "versions.json").read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def parse_runs(text: str) -> list[dict]:
    """The lines of a runs.jsonl text that parse as objects (a line cut short by a crash is skipped)."""
    runs = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            runs.append(entry)
    return runs


def read_runs(directory: str | Path) -> list[dict]:
    """The invocations recorded in <directory>/runs.jsonl ([] without one)."""
    path = Path(directory) / "runs.jsonl"
    return parse_runs(path.read_text(errors="replace")) if path.is_file() else []


def _values(frame: pd.DataFrame, column: str) -> list[str]:
    if column not in frame:
        return []
    return sorted({str(v) for v in frame[column].dropna() if str(v)})


def used_rows(directory: Path, trials: pd.DataFrame) -> list[tuple[str, str]]:
    """(label, text) pairs, in display order; texts hold full hashes."""
    rows = []
    versions = _versions(directory)
    if versions:
        packages = [f"{k} {v}" for k, v in sorted(versions.items()) if k not in VERSION_META and v]
        rows.append(("Packages", ", ".join(packages)))
        rows.append(("Python; driver git revision", f"{versions.get('python')}; {versions.get('git_revision')}"))
    for model, group in trials.groupby("model", sort=True):
        revisions = _values(group, "model_revision")
        if revisions:
            note = f" ({len(revisions)} different revisions)" if len(revisions) > 1 else ""
            rows.append((f"Model {model}", ", ".join(revisions) + note))
    for task, group in trials.groupby("task", sort=True):
        sources, prints = _values(group, "data_source"), _values(group, "data_fingerprint")
        if sources or prints:
            note = f" ({len(prints)} different fingerprints)" if len(prints) > 1 else ""
            rows.append((f"Data {task}", "; ".join(sources) + ": " + " | ".join(prints) + note))
    hosts = _values(trials, "host")
    if hosts:
        rows.append(("Trial hosts", ", ".join(hosts)))
    runs = read_runs(directory)
    if runs:
        last = runs[-1]
        rows.append(
            (
                "Invocations (runs.jsonl)",
                f"{len(runs)}; last: {last.get('command', '')} from {last.get('started_utc', '')} to "
                f"{last.get('ended_utc', '')}, exit status {last.get('exit_status')}",
            )
        )
    return rows


def _short(text: str) -> str:
    """Escaped text with every long hex hash cut to 12 characters (the full hash stays in the cell's title)."""
    parts, at = [], 0
    for match in _LONG_HEX.finditer(text):
        parts += [html.escape(text[at : match.start()]), html.escape(match.group()[:12]) + "&hellip;"]
        at = match.end()
    return "".join(parts) + html.escape(text[at:])


def used_html(directory: Path, trials: pd.DataFrame) -> str:
    """The block as HTML; empty when nothing was recorded (results from before provenance was kept)."""
    rows = used_rows(directory, trials)
    if not rows:
        return ""
    cells = "".join(
        f"<tr><th>{html.escape(label)}</th><td title='{html.escape(text, quote=True)}'>{_short(text)}</td></tr>"
        for label, text in rows
    )
    return f"<section><h2>What this run used</h2><table class='used'>{cells}</table></section>"

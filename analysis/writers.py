"""Tables -> display strings, Markdown pipe tables, HTML tables and atomically written files."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

# Columns holding percentages (ours and the paper's): one decimal, as the paper prints them.
_PERCENT = {"score", "min", "max", "paper", "best_score", "majority", "neighbour_score", "spread"}
_SIGNED_PERCENT = {"gap_to_full"}
_COUNTS = {"lora_params", "trainable_params", "total_params", "n_seeds", "n_trials", "n_values", "params_no_head"}
_COUNTS |= {"r", "early_stopped", "epochs_used", "epochs_budget", "n_configs", "n_runs", "n_diverged"}
_COUNTS |= {"n_incomplete", "planned_seeds", "dev_examples"}
_DECIMALS = {"percent_params_no_head": 3, "adapter_mb": 2, "epoch_time_s": 1, "peak_memory_mb": 0, "ratio": 2}


def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def format_value(column: str, value) -> str:
    """One cell as text: percentages to 1 decimal, counts with separators, empty for missing."""
    if _missing(value):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isinf(value):
        return "-inf (diverged)" if value < 0 else "inf (diverged)"  # a failed seed's score, as in the race
    if column in _PERCENT:
        return f"{float(value):.1f}"
    if column in _SIGNED_PERCENT:
        return f"{float(value):+.1f}"
    if column in _COUNTS:
        return f"{int(round(float(value))):,}"
    if column in _DECIMALS:
        return f"{float(value):,.{_DECIMALS[column]}f}"
    if column == "best_epoch":  # a median over seeds: 3, or 2.5 between two seeds
        return f"{float(value):g}"
    if column in ("learning_rate", "best_value", "neighbour_value") and isinstance(value, float):
        return lr_text(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def lr_text(value: float) -> str:
    """A learning rate as people write it: 1e-4, 3e-4, 2.5e-5 (never 0.0001 or 100μ); other numbers as %g."""
    return _sci(value) if value and abs(value) < 1e-2 else f"{value:g}"


def _sci(value: float) -> str:
    mantissa, exponent = f"{value:.2e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def format_table(table: pd.DataFrame) -> pd.DataFrame:
    """The same table with every cell as display text (see format_value)."""
    return pd.DataFrame({c: [format_value(c, v) for v in table[c]] for c in table.columns}, dtype=object)


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub pipe table; numeric columns right-aligned. An empty table gives a '(no rows)' line."""
    if table.empty:
        return "(no rows)\n"
    text = format_table(table)
    numeric = [pd.api.types.is_numeric_dtype(table[c]) and table[c].dtype != bool for c in table.columns]

    def line(cells) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    rule = ["---:" if right else "---" for right in numeric]
    rows = [line(table.columns), line(rule)] + [line(row) for row in text.itertuples(index=False)]
    return "\n".join(rows) + "\n"


def to_html_table(table: pd.DataFrame) -> str:
    """An HTML table of the display text (escaped); an empty table gives a short paragraph."""
    if table.empty:
        return "<p><em>no rows</em></p>"
    return format_table(table).to_html(index=False, escape=True, classes="results", border=0)


def write_atomic(path: Path, text: str) -> Path:
    """Write text to path whole (lora_sweep.trial.atomic: a temp file, then a rename; the usual file permissions)."""
    from lora_sweep.trial.atomic import atomic_write_text  # the project's one atomic-write helper (no torch, no Ray)

    return atomic_write_text(path, text)


def write_table(table: pd.DataFrame, directory: Path, name: str, title: str = "", extra: str = "") -> list[Path]:
    """<name>.md (title, pipe table, extra Markdown) and <name>.csv (raw values) in directory."""
    markdown = (f"# {title}\n\n" if title else "") + to_markdown(table) + (f"\n{extra}" if extra else "")
    return [
        write_atomic(Path(directory) / f"{name}.md", markdown),
        write_atomic(Path(directory) / f"{name}.csv", table.to_csv(index=False)),
    ]

"""The paper-style table (LoRA paper, Table 2's layout): tasks as columns, methods and ranks as rows, the parameter
count the paper uses, the average, and the paper's own rows beside ours. Written as Markdown, LaTeX and CSV.

Cells are the rank table's scores (the best complete configuration's median over seeds, %); a score within its
seed spread of the majority-class score reads "68.5 (not learned)". The average is over the row's tasks only when
every task of the table has a score (as the paper's Avg. column), else empty.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from analysis.baselines import NOT_LEARNED
from analysis.paper import TASKS, paper_label, paper_model, paper_params, paper_score, paper_start
from analysis.writers import write_atomic

STEM = "paper_table"
_METHOD = {"full": "FT", "lora": "LoRA", "head": "Head only", "bitfit": "BitFit"}
PARAMS = "# params (no head)"


def _row_name(row) -> str:
    name = _METHOD.get(row["method"], str(row["method"]))
    if row["method"] == "lora" and not pd.isna(row["r"]):
        name += f" r={int(row['r'])}"
        if row["target_modules"]:
            name += f" ({row['target_modules']})"
    return name


def _params(value) -> str:
    if pd.isna(value):
        return ""
    return f"{value / 1e6:.1f}M" if value >= 1e6 else f"{value / 1e6:.3f}M"


def paper_style(rank: pd.DataFrame, efficiency: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, method, rank, targets, start) of ours, then the paper's rows for the same model and
    methods; columns: model, row, source (ours or paper), start, PARAMS, one per task, avg. Values are numbers
    (NaN where none); `<task>_note` columns carry 'not learned'."""
    if rank.empty:
        return pd.DataFrame(columns=["model", "row", "source", "start", PARAMS, "avg"])
    keys = ["model", "method", "r", "target_modules", "init_adapter"]
    # The count is the same on every task (its head aside): one per row, keyed by text (NaN ranks compare equal).
    params = {
        tuple(map(str, k)): v
        for k, v in efficiency.groupby(keys, dropna=False, sort=False)["params_no_head"].median().items()
    }
    tasks = [t for t in TASKS if t in set(rank["task"])] + sorted(set(rank["task"]) - set(TASKS))
    rows = []
    for key, group in rank.groupby(keys, dropna=False, sort=False):
        first = group.iloc[0]
        row = {"model": first["model"], "row": _row_name(first), "source": "ours", "start": first["start"],
               PARAMS: params.get(tuple(map(str, key)), math.nan)}  # fmt: skip
        for task in tasks:
            hit = group[group["task"] == task]
            row[task] = float(hit["score"].iloc[0]) if len(hit) else math.nan
            row[f"{task}_note"] = str(hit["learned"].iloc[0]) if len(hit) else ""
        rows.append(row)
    for (model, method), group in rank.groupby(["model", "method"], sort=False):
        if paper_model(model) is None:
            continue
        start = group["start"].iloc[0]
        scores = {t: paper_score(model, t, method, start) for t in tasks}
        if all(v is None for v in scores.values()):
            continue
        starts = sorted({paper_start(model, t, method, start) for t in tasks} - {""})
        row = {"model": model, "row": paper_label(model, method, start), "source": "paper",
               "start": " / ".join(starts), PARAMS: paper_params(model, method) or math.nan}  # fmt: skip
        row |= {t: (math.nan if v is None else v) for t, v in scores.items()}
        row |= {f"{t}_note": "" for t in tasks}
        rows.append(row)
    table = pd.DataFrame(rows)
    values = table[tasks].astype(float)
    table["avg"] = values.mean(axis=1).where(values.map(math.isfinite).all(axis=1))  # NaN is not finite either
    order = table.assign(_ours_first=table["source"] != "ours")
    return order.sort_values(["model", "_ours_first"], kind="stable").drop(columns="_ours_first").reset_index(drop=True)


def _tasks(table: pd.DataFrame) -> list[str]:
    fixed = ("model", "row", "source", "start", PARAMS, "avg")
    return [c for c in table.columns if c not in fixed and not c.endswith("_note")]


def _cell(table: pd.DataFrame, i: int, task: str) -> str:
    value = table.at[i, task]
    if pd.isna(value):
        return ""
    text = "diverged" if not math.isfinite(value) else f"{value:.1f}"
    return text + (f" ({NOT_LEARNED})" if table.at[i, f"{task}_note"] == NOT_LEARNED else "")


def display(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """(header, rows of text) as pasted."""
    tasks = _tasks(table)
    header = ["Model", "Method", "Start", PARAMS, *[t.upper() for t in tasks], "Avg."]
    rows = []
    for i in range(len(table)):
        avg = table.at[i, "avg"]
        rows.append([table.at[i, "model"], table.at[i, "row"], table.at[i, "start"], _params(table.at[i, PARAMS]),
                     *[_cell(table, i, t) for t in tasks], "" if pd.isna(avg) else f"{avg:.1f}"])  # fmt: skip
    return header, rows


def to_markdown(table: pd.DataFrame) -> str:
    header, rows = display(table)
    line = lambda cells: "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"  # noqa: E731
    rule = ["---"] * 3 + ["---:"] * (len(header) - 3)
    return "\n".join([line(header), line(rule), *[line(r) for r in rows]]) + "\n"


def _tex(text: str) -> str:
    for bad, good in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"),
                      ("†", r"$^\dagger$"), ("*", r"$^*$")):  # fmt: skip
        text = text.replace(bad, good)
    return text


def to_latex(table: pd.DataFrame) -> str:
    """A booktabs tabular (needs \\usepackage{booktabs})."""
    header, rows = display(table)
    spec = "lll" + "r" * (len(header) - 3)
    body = [" & ".join(_tex(str(c)) for c in row) + r" \\" for row in rows]
    return "\n".join([rf"\begin{{tabular}}{{{spec}}}", r"\toprule", " & ".join(_tex(h) for h in header) + r" \\",
                      r"\midrule", *body, r"\bottomrule", r"\end{tabular}"]) + "\n"  # fmt: skip


def write_paper_style(table: pd.DataFrame, directory: Path) -> list[Path]:
    """paper_table.md, .tex and .csv (raw numbers) in directory."""
    directory = Path(directory)
    title = ("# Paper-style table (dev %, median over seeds of the best complete configuration; the paper's rows: "
             "Hu et al. 2022, Table 2; * from earlier work, † from the pretrained model)\n\n")  # fmt: skip
    return [
        write_atomic(directory / f"{STEM}.md", title + to_markdown(table)),
        write_atomic(directory / f"{STEM}.tex", to_latex(table)),
        write_atomic(directory / f"{STEM}.csv", table.to_csv(index=False)),
    ]

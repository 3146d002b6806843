"""The headline figure: what LoRA buys, and at which rank. Dev score (%) against trainable parameters on a log axis,
one panel per task, one colour per method, one marker shape per model, a labelled marker per rank with its seed
count, min-max seed spread as error bars, the Pareto front per model, the majority-class score as a line, the
paper's points on the same count.

The parameter count is the paper's, for every point: trainable parameters without the classification head
(LoRA r=8 on RoBERTa-base: 294,912, the paper's "0.3M"). Head-only training has none outside the head and cannot
sit on a log axis: it is named in the panel's note instead.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.baselines import NOT_LEARNED, describe_dev
from analysis.configs import VARIANT
from analysis.paper import paper_params, paper_score

COLORS = {"full": "#1f77b4", "lora": "#d62728", "head": "#7f7f7f", "bitfit": "#2ca02c"}
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "cross", "star")
X_TITLE = "trainable parameters without the classification head (as the paper counts them; log)"
SPREAD = "bars: min-max over seeds"


def pareto_front(points: pd.DataFrame, mode: str = "max") -> pd.DataFrame:
    """The non-dominated points (fewer parameters and a better score than every other), by parameters ascending:
    a point is kept when no other has at most its parameters and at least its score with one of them strictly."""
    data = points[np.isfinite(points["score"]) & (points["x"] > 0)].sort_values(
        ["x", "score"], ascending=[True, mode == "min"]
    )
    kept, best = [], -math.inf
    for index, row in data.iterrows():
        value = row["score"] if mode == "max" else -row["score"]
        if value > best:
            kept.append(index)
            best = value
    return data.loc[kept]


def _label(row) -> str:
    """'r=8 (5)': the rank (LoRA) and the seed count, beside the marker."""
    rank = f"r={int(row['r'])} " if row["method"] == "lora" and not pd.isna(row["r"]) else ""
    return f"{rank}({int(row['n_seeds'])})"


def headline_points(rank: pd.DataFrame, efficiency: pd.DataFrame) -> pd.DataFrame:
    """The rank table's variants with a finite score, with x (parameters without the head) beside each."""
    extra = efficiency[VARIANT + ["params_no_head"]]
    data = rank.merge(extra, on=VARIANT, how="left").rename(columns={"params_no_head": "x"})
    return data[data["score"].map(lambda v: isinstance(v, (int, float)) and math.isfinite(v))]


def headline(rank: pd.DataFrame, efficiency: pd.DataFrame, mode: str = "max") -> go.Figure | None:
    """The figure, or None without a scored variant."""
    data = headline_points(rank, efficiency)
    if data.empty:
        return None
    tasks = list(dict.fromkeys(data["task"]))
    models = sorted(set(data["model"]))
    cols = min(3, len(tasks))
    rows = math.ceil(len(tasks) / cols)
    titles = []
    for task in tasks:
        here = data[data["task"] == task]
        unplaced = sorted(set(here.loc[~(here["x"] > 0), "method"]))
        note = f"; not on a log axis (no parameters outside the head): {', '.join(unplaced)}" if unplaced else ""
        titles.append(f"{task} ({here['metric'].iloc[0]}) · {describe_dev(task, here)}{note}")
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles)
    fig.update_layout(height=max(420, 380 * rows), template="plotly_white", margin={"t": 90, "b": 50})
    shown: set[str] = set()
    for i, task in enumerate(tasks):
        cell = {"row": i // cols + 1, "col": i % cols + 1}
        here = data[(data["task"] == task) & (data["x"] > 0)]
        for (model, method), group in here.groupby(["model", "method"], sort=False):
            group = group.sort_values("x")
            name = f"{method} · {model}"
            fig.add_trace(_points(group, name, method, models.index(model), shown, model), **cell)
            shown.add(name)
        for model, group in here.groupby("model", sort=False):
            front = pareto_front(group, mode)
            if len(front) > 1:
                name = f"Pareto front · {model}"
                fig.add_trace(
                    go.Scatter(x=front["x"], y=front["score"], mode="lines", name=name, legendgroup=name,
                               showlegend=name not in shown, line={"dash": "dot", "color": "#555", "width": 1},
                               hoverinfo="skip", meta={"kind": "pareto", "model": model, "task": task}),
                    **cell,
                )  # fmt: skip
                shown.add(name)
        _majority_line(fig, data[data["task"] == task], cell, shown)
        _paper(fig, data[data["task"] == task], cell, shown)
    fig.update_xaxes(type="log", title_text=X_TITLE)
    for i, task in enumerate(tasks):  # each task its own y axis and metric: never two metrics on one axis
        metric = data[data["task"] == task]["metric"].iloc[0]
        fig.update_yaxes(title_text=f"dev {metric} (%)" if metric == "accuracy" else f"dev {metric} (×100)",
                         row=i // cols + 1, col=i % cols + 1)  # fmt: skip
    fig.update_layout(
        title=f"What each method buys: dev score (best complete configuration's median over seeds; {SPREAD}; label:"
        " rank (seeds)) against parameters; hollow: not learned (within the seed spread of the majority class)"
    )
    return fig


def _points(group: pd.DataFrame, name: str, method: str, model_index: int, shown: set, model: str) -> go.Scatter:
    """One method's variants of one model: markers labelled with rank and seed count, min-max bars."""
    symbol = SYMBOLS[model_index % len(SYMBOLS)]
    hollow = group["learned"].eq(NOT_LEARNED).tolist()
    hover = [
        f"{r.model} {r.method}{f' r={int(r.r)}' if r.method == 'lora' and not pd.isna(r.r) else ''} ({r.start})<br>"
        f"median {r.score:.1f} over {int(r.n_seeds)} seed(s)"
        + (f", min {r.min:.1f}, max {r.max:.1f}" if not pd.isna(r.min) else "")
        + f"<br>{r.x:,.0f} parameters without the head"
        + (f"<br>{NOT_LEARNED}" if h else "")
        for r, h in zip(group.itertuples(index=False), hollow, strict=True)
    ]
    low = (group["score"] - group["min"]).where(np.isfinite(group["min"]), np.nan)
    return go.Scatter(
        x=group["x"], y=group["score"], mode="markers+text", text=[_label(r) for _, r in group.iterrows()],
        textposition="top center", name=f"{name} ({SPREAD})", legendgroup=name, showlegend=name not in shown,
        hovertext=hover, hoverinfo="text",
        error_y={"type": "data", "symmetric": False, "array": (group["max"] - group["score"]).tolist(),
                 "arrayminus": low.tolist()},
        marker={"size": 11, "color": COLORS.get(method, "#9467bd"),
                "symbol": [f"{symbol}-open" if h else symbol for h in hollow]},
        meta={"kind": "ours", "method": method, "model": model},
    )  # fmt: skip


def _majority_line(fig: go.Figure, here: pd.DataFrame, cell: dict, shown: set) -> None:
    values = pd.to_numeric(here["majority"], errors="coerce").dropna().unique()
    xs = here["x"][here["x"] > 0].tolist() + [p for p in _paper_rows(here)["x"]]
    if len(values) != 1 or not xs:
        return
    name = "majority class (always the most common label)"
    fig.add_trace(
        go.Scatter(x=[min(xs) / 2, max(xs) * 2], y=[values[0]] * 2, mode="lines", name=name, legendgroup="majority",
                   showlegend=name not in shown, line={"color": "#999", "dash": "dash"},
                   hovertext=f"majority class: {values[0]:.1f}", hoverinfo="text", meta={"kind": "majority"}),
        **cell,
    )  # fmt: skip
    shown.add(name)


def _paper_rows(here: pd.DataFrame) -> pd.DataFrame:
    points = []
    for model, task, method, start in (
        here[["model", "task", "method", "start"]].drop_duplicates().itertuples(index=False)
    ):
        score, params = paper_score(model, task, method, start), paper_params(model, method)
        if score is not None and params is not None:
            points.append({"x": params, "score": score, "label": f"paper {model} {method}: {score}"})
    return pd.DataFrame(points, columns=["x", "score", "label"])


def _paper(fig: go.Figure, here: pd.DataFrame, cell: dict, shown: set) -> None:
    paper = _paper_rows(here)
    if paper.empty:
        return
    name = "paper (Hu et al. 2022, Table 2; same count)"
    fig.add_trace(
        go.Scatter(x=paper["x"], y=paper["score"], mode="markers", name=name, legendgroup="paper",
                   showlegend=name not in shown, hovertext=paper["label"], hoverinfo="text",
                   marker={"size": 11, "symbol": "diamond-open", "color": "black"}, meta={"kind": "paper"}),
        **cell,
    )  # fmt: skip
    shown.add(name)

"""Plotly figure builders for the report; each takes frames and returns a Figure, or None when the
data for it is missing. Scores are shown in percent (points), as in the tables: a configuration's median
over its seeds, with the min-max of those seeds as error bars (analysis.configs)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.configs import VARIANT, best_configurations, configurations, with_config_ids
from analysis.health import NOT_TUNED
from analysis.paper import TASKS
from analysis.writers import lr_text

_MODEL_COLORS = ("#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#ff7f0e")
ASHA_LABEL = "stopped by ASHA"
SCORE_AXIS = "dev metric (%, median over seeds)"


def variant_name(row) -> str:
    """A variant in words, e.g. 'lora r=8' or 'full'."""
    r = row["r"]
    return f"lora r={int(r)}" if row["method"] == "lora" and not pd.isna(r) else str(row["method"])


def _tasks(frame: pd.DataFrame) -> list[str]:
    """Tasks present, in the paper's column order, then any others alphabetically."""
    present = set(frame["task"])
    return [t for t in TASKS if t in present] + sorted(present - set(TASKS))


def _panels(titles: list[str], cols: int = 3, **kwargs) -> go.Figure:
    """A grid of subplots (at most `cols` wide), one per title."""
    cols = max(1, min(cols, len(titles)))
    rows = math.ceil(len(titles) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, **kwargs)
    fig.update_layout(height=max(380, 340 * rows), template="plotly_white", margin={"t": 70, "b": 40})
    return fig


def _cell(i: int, cols: int) -> dict:
    return {"row": i // cols + 1, "col": i % cols + 1}


def _spread(rows: pd.DataFrame) -> dict:
    """Error bars from a configuration's median to its seeds' min and max (none for one seed)."""
    return {"type": "data", "symmetric": False, "array": rows["max"] - rows["score"],
            "arrayminus": rows["score"] - rows["min"]}  # fmt: skip


def _score_text(row) -> str:
    """'median 85.0% over 3 seeds (84.0-86.0)' for hover text."""
    n, low, high = int(row["n_seeds"]), row["min"], row["max"]
    text = f"median {row['score']:.1f}% over {n} seed{'s' if n != 1 else ''}"
    return text + (f" ({low:.1f}-{high:.1f})" if not pd.isna(low) else "")


def rank_curve(rank_table: pd.DataFrame) -> go.Figure | None:
    """LoRA metric (%, the best configuration's median over seeds) against rank per task, that
    configuration's min-max over seeds as error bars; full fine-tuning as a dotted line per model."""
    lora = rank_table[(rank_table["method"] == "lora") & rank_table["score"].notna()]
    if lora.empty:
        return None
    tasks = _tasks(lora)
    cols = min(3, len(tasks))
    fig = _panels(tasks, cols)
    ranks = sorted(int(r) for r in lora["r"].dropna().unique())
    several_targets = lora["target_modules"].nunique() > 1  # then one line per model and target set
    legend: set[str] = set()  # each name once, from whichever panel has it first
    for i, task in enumerate(tasks):
        for j, ((model, targets), group) in enumerate(lora[lora["task"] == task].groupby(["model", "target_modules"])):
            group = group.sort_values("r")
            color = _MODEL_COLORS[j % len(_MODEL_COLORS)]
            name = f"{model} LoRA" + (f" ({targets or 'default targets'})" if several_targets else "")
            fig.add_trace(
                go.Scatter(
                    x=group["r"].astype(float), y=group["score"], mode="lines+markers", name=name,
                    line={"color": color}, legendgroup=model, showlegend=name not in legend, error_y=_spread(group),
                    hovertext=[_score_text(row) for _, row in group.iterrows()],
                ),
                **_cell(i, cols),
            )  # fmt: skip
            legend.add(name)
            full = rank_table[(rank_table.model == model) & (rank_table.task == task)]
            full = full[(full["method"] == "full") & full["score"].notna()]
            if len(full):
                y = float(full["score"].iloc[0])
                fig.add_trace(
                    go.Scatter(
                        x=[ranks[0], ranks[-1]], y=[y, y], mode="lines", name=f"{model} full fine-tuning",
                        line={"color": color, "dash": "dot"}, legendgroup=model,
                        showlegend=f"{model} full fine-tuning" not in legend,
                    ),
                    **_cell(i, cols),
                )  # fmt: skip
                legend.add(f"{model} full fine-tuning")
    fig.update_xaxes(type="log", tickvals=ranks, ticktext=[str(r) for r in ranks], title_text="LoRA rank r")
    fig.update_yaxes(title_text=SCORE_AXIS)
    fig.update_layout(title="Rank against dev metric: median over seeds, bars min-max (dotted: full fine-tuning)")
    return fig


def _curve(epochs: pd.DataFrame, row) -> pd.DataFrame:
    """One seed's epochs: its trial's rows, and of those its seed's where the epochs table has seeds."""
    curve = epochs[epochs["trial_id"] == row["trial_id"]]
    if "seed" in curve and curve["seed"].notna().any() and not pd.isna(row["seed"]):
        curve = curve[curve["seed"] == row["seed"]]
    return curve.sort_values("epoch")


def learning_curves(trials: pd.DataFrame, epochs: pd.DataFrame, mode: str = "max", searched=()) -> go.Figure | None:
    """Dev metric (%) per epoch of every seed of the best configuration (by its median over seeds) per
    variant; every seed of the other configurations stopped by ASHA as thin grey dashes, ending in an x.

    The stopped ones are drawn together, one WebGL trace of lines and one of end points per task however many
    there are (curves separated by gaps), so a 10,000-trial sweep still opens in a browser in seconds."""
    if epochs.empty or trials.empty:
        return None
    ided = with_config_ids(trials, searched)
    best = best_configurations(configurations(trials, mode, searched), VARIANT, mode)
    is_best = ided["config"].isin(best["config"])
    stopped = ided[(ided["status"] == "early_stopped") & ~is_best]
    stopped = stopped[stopped["trial_id"].isin(epochs["trial_id"])]
    shown = ided[is_best & ided["trial_id"].isin(epochs["trial_id"])]
    if shown.empty and stopped.empty:
        return None
    tasks = _tasks(pd.concat([shown, stopped]))
    cols = min(3, len(tasks))
    fig = _panels(tasks, cols)
    legend: set[str] = set()
    asha_legend = False
    # One colour per configuration (all its seeds), so the legend entry matches every seed it stands for.
    palette = {c: _PALETTE[k % len(_PALETTE)] for k, c in enumerate(dict.fromkeys(shown["config"]))}
    for i, task in enumerate(tasks):
        asha_legend = _stopped_curves(fig, stopped[stopped["task"] == task], epochs, _cell(i, cols), asha_legend)
        for _, trial in shown[shown["task"] == task].iterrows():
            curve = _curve(epochs, trial)
            if trial["metric"] not in curve:
                continue
            is_stopped = trial["status"] == "early_stopped"
            name = f"{trial['model']} {variant_name(trial)}"
            # one legend entry per variant for all its best configuration's seeds
            label = name + (f" ({ASHA_LABEL})" if is_stopped else "")
            color = palette[trial["config"]]
            style = {"line": {"dash": "dash" if is_stopped else "solid", "color": color}, "legendgroup": name,
                     "name": label,
                     "showlegend": name not in legend}  # fmt: skip
            legend.add(name)
            symbols = ["circle"] * (len(curve) - 1) + ["x" if is_stopped else "circle"]
            fig.add_trace(
                go.Scatter(
                    x=curve["epoch"], y=curve[trial["metric"]] * 100, mode="lines+markers",
                    marker={"symbol": symbols, "size": [5] * (len(curve) - 1) + [10 if is_stopped else 5],
                            "color": color},
                    hovertext=f"{name} lr={lr_text(trial['learning_rate'])} seed={trial['seed']:g} ({trial['status']})",
                    **style,
                ),
                **_cell(i, cols),
            )  # fmt: skip
    fig.update_xaxes(title_text="epoch", dtick=1, tick0=1)  # whole epochs: never 1.5
    fig.update_yaxes(title_text="dev metric (×100)")
    fig.update_layout(
        title=f"Learning curves: every seed of the best configuration per variant (grey dashes, x: {ASHA_LABEL})"
    )
    return fig


STOPPED_CURVES_DRAWN = 300  # per task; past this, the stopped seeds are drawn as one band (every one counted)


def _stopped_curves(fig: go.Figure, stopped: pd.DataFrame, epochs: pd.DataFrame, cell: dict, legend: bool) -> bool:
    """Every stopped seed's curve in one gapped WebGL line trace, its last epoch in one marker trace; past
    STOPPED_CURVES_DRAWN curves, their spread per epoch instead (_stopped_band)."""
    if stopped.empty:
        return legend
    by_seed = "seed" in epochs and epochs["seed"].notna().any() and "seed" in stopped
    keys = ["trial_id", "seed"] if by_seed else ["trial_id"]
    columns = dict.fromkeys([*keys, "metric", "model", "method", "r", "learning_rate", "seed"])
    info = stopped[list(columns)].drop_duplicates(keys)
    if not by_seed:
        info = info.rename(columns={"seed": "_seed"})
    rows = info.merge(epochs, on=keys).sort_values([*keys, "epoch"], kind="stable")
    rows = rows[rows["metric"].isin(rows.columns)]
    if rows.empty:
        return legend
    y = np.full(len(rows), np.nan)
    for metric in rows["metric"].unique():  # one per task, normally
        mask = (rows["metric"] == metric).to_numpy()
        y[mask] = rows.loc[mask, metric].to_numpy(dtype=float) * 100
    group = rows.groupby(keys, sort=False).ngroup().to_numpy()
    if group.max() + 1 > STOPPED_CURVES_DRAWN:
        _stopped_band(fig, rows.assign(_y=y), keys, cell, legend)
        return True
    where = np.arange(len(rows)) + group  # one gap (NaN) after each curve
    x_all, y_all = np.full(len(rows) + group.max() + 1, np.nan), np.full(len(rows) + group.max() + 1, np.nan)
    x_all[where], y_all[where] = rows["epoch"].to_numpy(dtype=float), y
    grey = {"color": "rgba(120,120,120,0.45)"}
    # float32 halves the arrays plotly embeds (base64): an epoch and a score in % need no more.
    x_all, y_all = x_all.astype(np.float32), np.round(y_all, 2).astype(np.float32)
    fig.add_trace(
        go.Scattergl(x=x_all, y=y_all, mode="lines", line={"dash": "dash", "width": 1, **grey},
                     legendgroup="asha", name=ASHA_LABEL, showlegend=not legend, hoverinfo="skip"),
        **cell,
    )  # fmt: skip
    ends = rows.assign(_y=y).groupby(keys, sort=False).tail(1)
    seed_column = "seed" if by_seed else "_seed"
    text = [
        f"{variant_name(row)} lr={lr_text(row['learning_rate'])} seed={row[seed_column]:g}"
        for row in ends[["model", "method", "r", "learning_rate", seed_column]].to_dict("records")
    ]
    fig.add_trace(
        go.Scattergl(x=ends["epoch"].to_numpy(dtype=np.float32), y=ends["_y"].round(2).to_numpy(dtype=np.float32),
                     mode="markers", marker={"symbol": "x", "size": 7, **grey}, legendgroup="asha", name=ASHA_LABEL,
                     showlegend=False, hovertext=text, hoverinfo="text+y"),
        **cell,
    )  # fmt: skip
    return True


def _stopped_band(fig: go.Figure, rows: pd.DataFrame, keys: list[str], cell: dict, legend: bool) -> None:
    """Many stopped seeds: per epoch the min-max band and median of their scores (_y), and per stop epoch an x
    at the median last score with how many seeds ASHA stopped there. A few points, however large the sweep."""
    per_epoch = rows.groupby("epoch")["_y"].agg(["min", "median", "max", "count"]).reset_index()
    grey, epochs = "rgba(120,120,120,0.45)", per_epoch["epoch"].tolist()
    band = {"mode": "lines", "line": {"width": 0}, "legendgroup": "asha", "showlegend": False, "hoverinfo": "skip"}
    fig.add_trace(go.Scatter(x=epochs, y=per_epoch["max"].round(2), name=ASHA_LABEL, **band), **cell)
    fig.add_trace(
        go.Scatter(x=epochs, y=per_epoch["min"].round(2), fill="tonexty", fillcolor="rgba(120,120,120,0.15)",
                   name=ASHA_LABEL, **band),
        **cell,
    )  # fmt: skip
    stats = per_epoch[["epoch", "median", "min", "max", "count"]].itertuples(index=False)
    text = [f"{n} stopped seeds at epoch {e}: median {m:.2f}, range {lo:.2f}-{hi:.2f}" for e, m, lo, hi, n in stats]
    fig.add_trace(
        go.Scatter(x=epochs, y=per_epoch["median"].round(2), mode="lines", line={"dash": "dash", "color": grey},
                   legendgroup="asha", name=f"{ASHA_LABEL} (median, band min-max)", showlegend=not legend,
                   hovertext=text, hoverinfo="text"),
        **cell,
    )  # fmt: skip
    ends = rows.groupby(keys, sort=False).tail(1).groupby("epoch")["_y"].agg(["median", "count"]).reset_index()
    ended = [f"{n} seeds stopped after epoch {e}" for e, n in ends[["epoch", "count"]].itertuples(index=False)]
    fig.add_trace(
        go.Scatter(x=ends["epoch"], y=ends["median"].round(2), mode="markers", marker={"symbol": "x", "size": 9,
                   "color": grey}, legendgroup="asha", name=ASHA_LABEL, showlegend=False,
                   hovertext=ended,
                   hoverinfo="text"),
        **cell,
    )  # fmt: skip


def _log_axis(values: pd.Series, spec: dict) -> bool:
    """Log x for log-distributions and for positive numeric grids spanning 10x or more."""
    if str(spec.get("type", "")).startswith("log"):
        return True
    numbers = pd.to_numeric(values, errors="coerce")
    return bool(numbers.notna().all() and (numbers > 0).all() and numbers.max() >= 10 * numbers.min())


VALUES_DRAWN = 50  # per study and setting; past this, the best configuration per bin of values is drawn


def _binned(configs: pd.DataFrame, setting: str, log: bool) -> pd.Series | None:
    """Bins (VALUES_DRAWN per study, log-spaced on a log axis) for a numeric setting with more distinct values
    than that in some study (a long search over a continuous setting); None when every value can be drawn."""
    values = pd.to_numeric(configs[setting], errors="coerce")
    if values.isna().any() or configs.groupby("study")[setting].nunique().max() <= VALUES_DRAWN:
        return None
    scale = np.log10(values) if log else values
    return pd.cut(scale, VALUES_DRAWN, labels=False)


def search_settings(trials: pd.DataFrame, sweep: dict | None, mode: str = "max") -> go.Figure | None:
    """For every searched setting, per value the best configuration's median over seeds (%), min-max
    error bars, one line per study. A setting with more than VALUES_DRAWN values in a study (thousands of
    Optuna draws) shows the best configuration per bin of values instead: a readable line, and every
    configuration still competes for its bin."""
    searched = {k: v for k, v in ((sweep or {}).get("searched") or {}).items() if k not in NOT_TUNED}
    searched = {k: v for k, v in searched.items() if k in trials and trials[k].notna().any()}
    if not searched or trials["best_metric"].isna().all():
        return None
    configs = configurations(trials, mode, list((sweep or {}).get("searched") or {}))
    settings = list(searched)
    cols = min(3, len(settings))
    fig = _panels(settings, cols)
    legend: set[str] = set()
    binned_any = False
    for i, setting in enumerate(settings):
        present = configs[configs[setting].notna()]
        log = _log_axis(present[setting], searched[setting])
        bins = _binned(present, setting, log)
        by = ["study", setting] if bins is None else ["study", "_bin"]
        data = best_configurations(present if bins is None else present.assign(_bin=bins), by, mode)
        binned_any |= bins is not None
        for study, group in data.groupby("study", sort=True):
            group = group.sort_values(setting)
            fig.add_trace(
                go.Scatter(
                    x=group[setting], y=group["score"], mode="lines+markers", name=study, legendgroup=study,
                    showlegend=study not in legend, error_y=_spread(group),
                    hovertext=[_score_text(row) for _, row in group.iterrows()],
                ),
                **_cell(i, cols),
            )  # fmt: skip
            legend.add(study)
        if log:
            fig.update_xaxes(type="log", **_cell(i, cols))
        fig.update_xaxes(title_text=setting, **_cell(i, cols))
    fig.update_yaxes(title_text=SCORE_AXIS)
    per = f"per bin of values (of {VALUES_DRAWN})" if binned_any else "per value"
    fig.update_layout(title=f"Searched settings: {per} the best configuration's median over seeds (bars min-max)")
    return fig

"""Search health (is the best value at the edge of what was searched?) and the ASHA budget, per study.

An edge is flagged only where it says something: the best configuration's value sits at the edge of the searched
range and beats the best configuration at the neighbouring value by more than its seed spread (min-max). A
two-value grid whose best value wins by less than the seeds vary is noise, not a range to widen.
"""

from __future__ import annotations

import math

import pandas as pd

from analysis.configs import best_configurations, configurations

EDGE_FLAG = "at edge: widen the range"
# Within this fraction of a distribution's range (log range for log-distributions) counts as the edge.
EDGE_FRACTION = 0.05
# Settings that are not hyperparameters: a best value at their edge is chance, not a range to widen.
NOT_TUNED = {"seed"}


def searched_names(sweep: dict | None) -> list[str]:
    """The sweep's searched setting names (sweep.json), so settings outside the usual columns split configs."""
    return list(((sweep or {}).get("searched") or {}).keys())


def _numeric(value) -> float | None:
    """value as a float, or None when it is not a number (a string choice, NaN, None)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def at_edge(value, spec: dict) -> bool | None:
    """Whether value sits at the edge of a searched grid/choice or distribution; None if undefined."""
    number, kind = _numeric(value), spec.get("type")
    if number is None:
        return None
    if kind in ("grid", "choice"):
        grid = [v for v in (_numeric(v) for v in spec.get("values", [])) if v is not None]
        if len(set(grid)) < 2:
            return None
        lo, hi = min(grid), max(grid)
        return number <= lo or number >= hi or math.isclose(number, lo) or math.isclose(number, hi)
    low, high = _numeric(spec.get("low")), _numeric(spec.get("high"))
    if low is None or high is None or high <= low:
        return None
    if kind in ("randint", "lograndint"):
        high -= 1  # Ray's randint excludes its upper bound.
    if kind and kind.startswith("log") and low > 0 and number > 0:
        low, high, number = math.log(low), math.log(high), math.log(number)
    position = (number - low) / (high - low) if high > low else 0.5
    return position <= EDGE_FRACTION or position >= 1 - EDGE_FRACTION


def _describe(spec: dict) -> str:
    """A searched setting in words, e.g. 'grid [0.0001, 0.001]' or 'loguniform [1e-05, 0.001]' (a setting searched
    one way in some studies and another in others is "mixed": its parts joined with ' + ')."""
    if spec.get("type") == "mixed":
        return " + ".join(_describe(part) for part in spec.get("parts", []))
    if spec.get("type") in ("grid", "choice"):
        return f"{spec['type']} [{', '.join(str(v) for v in spec.get('values', []))}]"
    return f"{spec.get('type')} [{spec.get('low')}, {spec.get('high')}]"


def search_health(trials: pd.DataFrame, sweep: dict | None, mode: str = "max") -> pd.DataFrame:
    """Per searched setting and study that tried >1 value: the best configuration's value (by its median
    over seeds), that median and its seed spread, the best configuration at the nearest other value, and the
    edge flag (at the edge and better than that neighbour by more than the spread)."""
    columns = ["setting", "study", "searched", "n_values", "best_value", "best_score", "spread", "neighbour_value"]
    columns += ["neighbour_score", "at_edge", "flag"]
    rows = []
    by_study = (sweep or {}).get("searched_by_study") or {}
    configs = configurations(trials, mode, searched_names(sweep), planned_from(sweep))
    for setting, overall in ((sweep or {}).get("searched") or {}).items():
        if setting not in configs.columns or setting in NOT_TUNED:
            continue
        for study, group in configs[configs["ranked"]].groupby("study", sort=True):
            # Each study's own range where the sweep recorded it (full and LoRA search different lr ranges).
            spec = by_study.get(study, {}).get(setting, overall)
            group = group[group[setting].notna() & (group[setting].astype(str) != "")]
            # A setting that one study never varied (r within "lora-r8") says nothing about its range.
            if group[setting].astype(str).nunique() < 2:
                continue
            best = best_configurations(group, ["study"], mode).iloc[0]
            edge = at_edge(best[setting], spec)
            neighbour = _neighbour(group, setting, best[setting], mode)
            spread = 0.0 if pd.isna(best["min"]) else float(best["max"] - best["min"])
            margin = abs(best["score"] - neighbour["score"]) if neighbour is not None else math.inf
            rows.append(
                {
                    "setting": setting,
                    "study": study,
                    "searched": _describe(spec),
                    "n_values": group[setting].astype(str).nunique(),
                    "best_value": best[setting],
                    "best_score": best["score"],
                    "spread": spread,
                    "neighbour_value": neighbour[setting] if neighbour is not None else math.nan,
                    "neighbour_score": neighbour["score"] if neighbour is not None else math.nan,
                    "at_edge": edge,
                    "flag": EDGE_FLAG if edge and margin > spread else "",
                }
            )
    return pd.DataFrame(rows, columns=columns)


def asha_budget(trials: pd.DataFrame, sweep: dict | None) -> pd.DataFrame:
    """For an ASHA sweep, per study and in all: trial-epochs run against every trial's configured epochs."""
    columns = ["study", "n_trials", "early_stopped", "epochs_used", "epochs_budget", "ratio"]
    scheduler = (sweep or {}).get("scheduler") or {}
    if str(scheduler.get("type", "")).lower() != "asha" or trials.empty:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(
        {
            "study": trials["study"],
            "stopped": trials["status"] == "early_stopped",
            "used": trials["epochs_run"].fillna(0),
            "budget": trials["epochs"].fillna(scheduler.get("max_epochs", math.nan)),
        }
    )
    per_study = frame.groupby("study", sort=True).agg(
        n_trials=("study", "size"), early_stopped=("stopped", "sum"), epochs_used=("used", "sum"),
        epochs_budget=("budget", "sum"),
    ).reset_index()  # fmt: skip
    total = per_study.drop(columns="study").sum().to_frame().T.assign(study="all")
    table = pd.concat([per_study, total], ignore_index=True)
    table["ratio"] = table["epochs_used"] / table["epochs_budget"]
    return table[columns]


def _neighbour(group: pd.DataFrame, setting: str, value, mode: str):
    """The best configuration at the tried value nearest to `value` (numeric settings), or None."""
    numbers = pd.to_numeric(group[setting], errors="coerce")
    target = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    if pd.isna(target) or numbers.isna().any():
        return None
    others = numbers[numbers != target]
    if others.empty:
        return None
    nearest = (others - target).abs().idxmin()
    at = group[numbers == numbers[nearest]]
    return best_configurations(at, ["study"], mode).iloc[0]


def planned_from(sweep: dict | None) -> int | None:
    """sweep.json's planned seed count, or None (then the table's own)."""
    seeds = (sweep or {}).get("seeds")
    return len(set(seeds)) if isinstance(seeds, (list, tuple)) and seeds else None

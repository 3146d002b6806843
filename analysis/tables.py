"""Results -> rank-vs-accuracy, parameter-efficiency and search-health tables (pandas only).

A variant is (model, task, method, r, target_modules). Its score is the paper's Table 2 statistic: per
configuration (all settings but the seed) the median over seeds of each seed's best dev epoch, then the
best configuration (analysis.configs). Our scores are fractions in the result files and percentages
(points) in every table here, to sit beside the paper's numbers.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from analysis.configs import VARIANT, best_configurations, configurations, rank_configurations
from analysis.paper import TASKS, paper_label, paper_score
from analysis.results import Results, ResultsError, load_results
from analysis.writers import to_markdown, write_table

__all__ = [
    "Results", "ResultsError", "load_results", "VARIANT", "best_rows", "rank_vs_accuracy",
    "parameter_efficiency", "search_health", "asha_budget", "EDGE_FLAG", "build_tables", "write_tables",
]  # fmt: skip

_METHOD_ORDER = {"full": 0, "lora": 1, "head": 2, "bitfit": 3}
EDGE_FLAG = "at edge: widen the range"
# Within this fraction of a distribution's range (log range for log-distributions) counts as the edge.
EDGE_FRACTION = 0.05
# Settings that are not hyperparameters: a best value at their edge is chance, not a range to widen.
NOT_TUNED = {"seed"}
TITLES = {
    "rank_vs_accuracy": "Rank vs accuracy (dev %: the best configuration's median over seeds, min-max of its "
    "seeds; gap to full in points)",
    "parameter_efficiency": "Parameter efficiency (score: the best configuration's median over seeds)",
    "search_health": "Search health (per searched setting and study: the best configuration's value and median)",
    "asha_budget": "ASHA budget (trial-epochs run / configured)",
}


def _done(trials: pd.DataFrame) -> pd.DataFrame:
    """Trials with a result (a finite best_metric), whatever their status."""
    return trials[trials["best_metric"].notna()]


def best_rows(trials: pd.DataFrame, by: list[str], mode: str = "max") -> pd.DataFrame:
    """The best single row (by best_metric) per group of `by`; groups without any result are dropped."""
    done = _done(trials)
    if done.empty:
        return done.copy()
    ordered = done.sort_values("best_metric", ascending=(mode == "min"), kind="stable")
    return ordered.drop_duplicates(subset=by, keep="first").reset_index(drop=True)


def sort_variants(table: pd.DataFrame) -> pd.DataFrame:
    """Order rows per (model, task): full, LoRA by rank ascending, head, bitfit, then anything else."""
    task_pos = {t: i for i, t in enumerate(TASKS)}
    keys = pd.DataFrame(
        {
            "model": table["model"],
            "task": table["task"].map(lambda t: (task_pos.get(t, len(TASKS)), t)),
            "method": table["method"].map(lambda m: (_METHOD_ORDER.get(m, len(_METHOD_ORDER)), m)),
            "r": table["r"].fillna(-1),
            "target_modules": table["target_modules"].fillna("").astype(str),
        }
    )
    order = sorted(range(len(table)), key=lambda i: tuple(keys.iloc[i]))
    return table.iloc[order].reset_index(drop=True)


def _searched(sweep: dict | None) -> list[str]:
    """The sweep's searched setting names (sweep.json), so settings outside the usual columns split configs."""
    return list(((sweep or {}).get("searched") or {}).keys())


def rank_vs_accuracy(trials: pd.DataFrame, mode: str = "max", searched=()) -> pd.DataFrame:
    """One row per variant: its best configuration's median over seeds (%), that configuration's min, max,
    n_seeds, learning rate and best epoch (median over its seeds); gap to full (points), paper number."""
    columns = VARIANT + ["metric", "score", "min", "max", "n_seeds", "learning_rate", "best_epoch", "n_configs"]
    columns += ["n_runs", "best_single_seed", "gap_to_full", "paper", "paper_label"]
    if trials.empty:
        return pd.DataFrame(columns=columns)
    configs = configurations(trials, mode, searched)
    rows = []
    for key, group in configs.groupby(VARIANT, dropna=False, sort=False):
        variant = dict(zip(VARIANT, key, strict=True))
        ranked = rank_configurations(group, mode)
        chosen = ranked.iloc[0] if len(ranked) else None  # every number shown below is this one's
        singles = ranked["best_single_seed"]
        rows.append(
            variant
            | {"metric": str(group["metric"].iloc[0]).removeprefix("eval_")}
            | {c: (chosen[c] if chosen is not None else math.nan) for c in ("score", "min", "max", "best_epoch")}
            | {
                "n_seeds": int(chosen["n_seeds"]) if chosen is not None else 0,
                "learning_rate": chosen["learning_rate"] if chosen is not None else math.nan,
                "n_configs": len(ranked),
                "n_runs": int(group["n_runs"].sum()),
                # The best single seed of any ranked configuration: optimistic, shown only beside the score.
                "best_single_seed": (singles.max() if mode == "max" else singles.min()) if len(singles) else math.nan,
            }
        )
    table = pd.DataFrame(rows)
    full = table[table["method"] == "full"].groupby(["model", "task"])["score"].max()
    full_score = [full.get((m, t), math.nan) for m, t in zip(table["model"], table["task"], strict=True)]
    table["gap_to_full"] = table["score"] - pd.Series(full_score, index=table.index, dtype=float)
    triples = list(zip(table["model"], table["task"], table["method"], strict=True))
    table["paper"] = [paper_score(*t) for t in triples]
    table["paper"] = pd.to_numeric(table["paper"], errors="coerce")
    table["paper_label"] = [paper_label(m, meth) if paper_score(m, t, meth) else "" for m, t, meth in triples]
    table["r"] = table["r"].astype("Int64")
    return sort_variants(table)[columns]


def parameter_efficiency(trials: pd.DataFrame, mode: str = "max", searched=()) -> pd.DataFrame:
    """Per variant: parameter counts (LoRA-only as the paper counts; trainable incl. head), cost, and the
    rank table's score (the best configuration's median over seeds)."""
    columns = VARIANT + ["lora_params", "trainable_params", "total_params", "percent_trainable"]
    columns += ["adapter_mb", "score", "score_per_m_params", "epoch_time_s", "peak_memory_mb"]
    if trials.empty:
        return pd.DataFrame(columns=columns)
    numeric = ["lora_params", "trainable_params", "total_params", "adapter_bytes"]
    numeric += ["epoch_time_s", "peak_memory_mb"]
    # Medians: counts are the same for every trial of a variant; times and memory vary by node and lr.
    table = trials.groupby(VARIANT, dropna=False, sort=False)[numeric].median().reset_index()
    scores = rank_vs_accuracy(trials, mode, searched)[VARIANT + ["score"]]
    table["r"] = table["r"].astype("Int64")
    table = table.merge(scores, on=VARIANT, how="left")
    table["percent_trainable"] = 100 * table["trainable_params"] / table["total_params"]
    table["adapter_mb"] = table["adapter_bytes"] / 1e6
    table["score_per_m_params"] = table["score"] / (table["trainable_params"] / 1e6)
    return sort_variants(table)[columns]


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
    """A searched setting in words, e.g. 'grid [0.0001, 0.001]' or 'loguniform [1e-05, 0.001]'."""
    if spec.get("type") in ("grid", "choice"):
        return f"{spec['type']} [{', '.join(str(v) for v in spec.get('values', []))}]"
    return f"{spec.get('type')} [{spec.get('low')}, {spec.get('high')}]"


def search_health(trials: pd.DataFrame, sweep: dict | None, mode: str = "max") -> pd.DataFrame:
    """Per searched setting and study that tried >1 value: the best configuration's value (by its median
    over seeds), that median, and an edge flag."""
    columns = ["setting", "study", "searched", "n_values", "best_value", "best_score", "at_edge", "flag"]
    rows = []
    by_study = (sweep or {}).get("searched_by_study") or {}
    configs = configurations(trials, mode, _searched(sweep))
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
            rows.append(
                {
                    "setting": setting,
                    "study": study,
                    "searched": _describe(spec),
                    "n_values": group[setting].astype(str).nunique(),
                    "best_value": best[setting],
                    "best_score": best["score"],
                    "at_edge": edge,
                    "flag": EDGE_FLAG if edge else "",
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


def build_tables(results: Results) -> dict[str, pd.DataFrame]:
    """All tables of a sweep by file stem: rank_vs_accuracy, parameter_efficiency, search_health,
    asha_budget."""
    return {
        "rank_vs_accuracy": rank_vs_accuracy(results.trials, results.mode, _searched(results.sweep)),
        "parameter_efficiency": parameter_efficiency(results.trials, results.mode, _searched(results.sweep)),
        "search_health": search_health(results.trials, results.sweep, results.mode),
        "asha_budget": asha_budget(results.trials, results.sweep),
    }


def write_tables(results: Results, tables: dict[str, pd.DataFrame] | None = None) -> list[Path]:
    """Write each table as <stem>.md and <stem>.csv into the results directory; the ASHA budget is
    also a section of search_health.md. Returns the paths written."""
    tables = tables if tables is not None else build_tables(results)
    directory = results.directory
    budget = tables["asha_budget"]
    extra = f"## ASHA budget (trial-epochs run / configured)\n\n{to_markdown(budget)}" if len(budget) else ""
    paths = write_table(tables["rank_vs_accuracy"], directory, "rank_vs_accuracy", TITLES["rank_vs_accuracy"])
    paths += write_table(
        tables["parameter_efficiency"], directory, "parameter_efficiency", TITLES["parameter_efficiency"]
    )
    paths += write_table(tables["search_health"], directory, "search_health", TITLES["search_health"], extra)
    if len(budget):
        paths += write_table(budget, directory, "asha_budget", TITLES["asha_budget"])
    return paths

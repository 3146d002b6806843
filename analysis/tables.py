"""Results -> rank-vs-accuracy, parameter-efficiency and search-health tables (pandas only).

A variant is (model, task, method, r, target_modules, init_adapter): a warm start is its own variant. Its score
is the paper's Table 2 statistic: per configuration (all settings but the seed) the median over seeds of each
seed's best dev epoch, then the best complete configuration (analysis.configs). Our scores are fractions in the
result files and percentages (points) in every table here, to sit beside the paper's numbers.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.baselines import dev_size, learned, majority
from analysis.configs import (
    VARIANT,
    configurations,
    incomplete_configurations,
    rank_configurations,
    with_variant_columns,
)  # fmt: skip
from analysis.health import EDGE_FLAG, NOT_TUNED, asha_budget, at_edge, planned_from, search_health, searched_names
from analysis.paper import MNLI_WARM, PRETRAINED, TASKS, paper_label, paper_score, paper_start
from analysis.results import Results, ResultsError, load_results
from analysis.writers import to_markdown, write_table

__all__ = [
    "Results", "ResultsError", "load_results", "VARIANT", "best_rows", "rank_vs_accuracy", "start_of",
    "parameter_efficiency", "search_health", "asha_budget", "at_edge", "EDGE_FLAG", "NOT_TUNED", "build_tables",
    "write_tables",
]  # fmt: skip

_METHOD_ORDER = {"full": 0, "lora": 1, "head": 2, "bitfit": 3}
TITLES = {
    "rank_vs_accuracy": "Rank vs accuracy (dev %: the best complete configuration's median over its planned seeds, a "
    "diverged seed counting as -inf; min-max of its seeds; gap to full in points)",
    "incomplete_configurations": "Incomplete configurations (finished without all planned seeds: never ranked)",
    "parameter_efficiency": "Parameter efficiency (params without the classification head, as the paper counts them)",
    "search_health": "Search health (per searched setting and study: the best configuration's value and median)",
    "asha_budget": "ASHA budget (trial-epochs run / configured)",
}


def start_of(init_adapter) -> str:
    """How a run started, in words: 'pretrained', 'MNLI warm start' (an adapter folder naming MNLI, as the
    project's MNLI-first recipe writes it), else 'warm start: <folder>'."""
    text = "" if pd.isna(init_adapter) else str(init_adapter).strip()
    if not text:
        return PRETRAINED
    name = text.rstrip("/").rsplit("/", 1)[-1]
    return MNLI_WARM if "mnli" in name.lower() else f"warm start: {name}"


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


def rank_vs_accuracy(trials: pd.DataFrame, mode: str = "max", searched=(), planned: int | None = None) -> pd.DataFrame:
    """One row per variant: its best complete configuration's median over seeds (%), that configuration's min,
    max, n_seeds, n_diverged, learning rate and best epoch (median over its seeds); n_incomplete (configurations
    finished without every planned seed, never ranked); the dev set's size, its majority-class score and whether
    the score is within the seed spread of it ('not learned'); gap to full (points, from the scores as shown);
    the paper's number for a run that started as ours did where it has one, how that row started, and ours."""
    columns = VARIANT + ["start", "metric", "score", "min", "max", "n_seeds", "n_diverged", "learning_rate"]
    columns += ["best_epoch", "n_configs", "n_incomplete", "n_runs", "dev_examples", "majority", "learned"]
    columns += ["gap_to_full", "paper", "paper_label", "paper_start"]
    if trials.empty:
        return pd.DataFrame(columns=columns)
    configs = configurations(trials, mode, searched, planned)
    rows = []
    for key, group in configs.groupby(VARIANT, dropna=False, sort=False):
        variant = dict(zip(VARIANT, key, strict=True))
        ranked = rank_configurations(group, mode)
        chosen = ranked.iloc[0] if len(ranked) else None  # every number shown below is this one's
        pick = lambda c, chosen=chosen: chosen[c] if chosen is not None else math.nan  # noqa: E731
        rows.append(
            variant
            | {"start": start_of(variant["init_adapter"]),
               "metric": str(group["metric"].iloc[0]).removeprefix("eval_")}
            | {c: pick(c) for c in ("score", "min", "max", "best_epoch", "learning_rate", "dev_examples")}
            | {"majority": pick("majority_score")}
            | {
                "n_seeds": int(chosen["n_seeds"]) if chosen is not None else 0,
                "n_diverged": int(chosen["n_diverged"]) if chosen is not None else 0,
                "n_configs": len(ranked),
                "n_incomplete": len(incomplete_configurations(group)),
                "n_runs": int(group["n_runs"].sum()),
                "max_eval_samples": group["max_eval_samples"].iloc[0] if "max_eval_samples" in group else math.nan,
            }
        )  # fmt: skip
    table = pd.DataFrame(rows)
    table["dev_examples"] = [
        dev_size(t, n, m) for t, n, m in table[["task", "dev_examples", "max_eval_samples"]].values
    ]
    table["majority"] = [majority(t, m, n) for t, m, n in table[["task", "majority", "dev_examples"]].values]
    table["learned"] = [learned(*v) for v in table[["score", "min", "max", "majority"]].values]
    # The gap as the table shows it: from scores rounded to the paper's one decimal (80.5 - 79.2 is -1.3).
    cold_full = table[(table["method"] == "full") & (table["start"] == PRETRAINED)]
    full = cold_full.groupby(["model", "task"])["score"].max().round(1)
    full_score = [full.get((m, t), math.nan) for m, t in zip(table["model"], table["task"], strict=True)]
    table["gap_to_full"] = table["score"].round(1) - pd.Series(full_score, index=table.index, dtype=float)
    table.loc[~np.isfinite(table["score"].fillna(0.0)), "gap_to_full"] = math.nan
    keys = list(zip(table["model"], table["task"], table["method"], table["start"], strict=True))
    table["paper"] = pd.to_numeric(pd.Series([paper_score(*k) for k in keys], dtype=object), errors="coerce")
    table["paper_label"] = [paper_label(m, meth, st) if paper_score(m, t, meth, st) else "" for m, t, meth, st in keys]
    table["paper_start"] = [paper_start(*k) for k in keys]
    table["r"] = table["r"].astype("Int64")
    return sort_variants(table)[columns]


def incomplete_table(trials: pd.DataFrame, mode: str = "max", searched=(), planned: int | None = None) -> pd.DataFrame:
    """The configurations that finished without all planned seeds, with their partial statistic (never ranked)."""
    configs = configurations(trials, mode, searched, planned)
    columns = VARIANT + ["learning_rate", "n_seeds", "planned_seeds", "n_diverged", "score", "min", "max"]
    table = incomplete_configurations(configs)
    return table[[c for c in columns if c in table]].reset_index(drop=True)


def parameter_efficiency(
    trials: pd.DataFrame, mode: str = "max", searched=(), planned: int | None = None
) -> pd.DataFrame:
    """Per variant: parameters as the paper counts them (trainable without the classification head) and that as a
    percent of the model, trainable with the head, the score (rank table's) and its gap to full fine-tuning
    (points) beside the parameter fraction: what the saved parameters cost. Times and memory as medians."""
    columns = VARIANT + ["params_no_head", "percent_params_no_head", "trainable_params", "total_params"]
    columns += ["adapter_mb", "score", "gap_to_full", "epoch_time_s", "peak_memory_mb"]
    if trials.empty:
        return pd.DataFrame(columns=columns)
    trials = with_variant_columns(trials)
    trials = trials.assign(params_no_head=trials["trainable_params"] - trials["head_params"].fillna(0))
    numeric = ["params_no_head", "trainable_params", "total_params", "adapter_bytes", "epoch_time_s", "peak_memory_mb"]
    # Medians: counts are the same for every trial of a variant; times and memory vary by node and lr.
    table = trials.groupby(VARIANT, dropna=False, sort=False)[numeric].median().reset_index()
    scores = rank_vs_accuracy(trials, mode, searched, planned)[VARIANT + ["score", "gap_to_full"]]
    table["r"] = table["r"].astype("Int64")
    table = table.merge(scores, on=VARIANT, how="left")
    table["percent_params_no_head"] = 100 * table["params_no_head"] / table["total_params"]
    table["adapter_mb"] = table["adapter_bytes"] / 1e6
    return sort_variants(table)[columns]


def build_tables(results: Results) -> dict[str, pd.DataFrame]:
    """All tables of a sweep by file stem: rank_vs_accuracy, incomplete_configurations, parameter_efficiency,
    search_health, asha_budget."""
    searched, planned = searched_names(results.sweep), planned_from(results.sweep)
    return {
        "rank_vs_accuracy": rank_vs_accuracy(results.trials, results.mode, searched, planned),
        "incomplete_configurations": incomplete_table(results.trials, results.mode, searched, planned),
        "parameter_efficiency": parameter_efficiency(results.trials, results.mode, searched, planned),
        "search_health": search_health(results.trials, results.sweep, results.mode),
        "asha_budget": asha_budget(results.trials, results.sweep),
    }


def write_tables(results: Results, tables: dict[str, pd.DataFrame] | None = None) -> list[Path]:
    """Write each table as <stem>.md and <stem>.csv into the results directory (the ASHA budget also as a
    section of search_health.md), and the paper-style table as .md, .tex and .csv. Returns the paths written."""
    from analysis.paper_table import paper_style, write_paper_style

    tables = tables if tables is not None else build_tables(results)
    directory = results.directory
    budget = tables["asha_budget"]
    extra = f"## ASHA budget (trial-epochs run / configured)\n\n{to_markdown(budget)}" if len(budget) else ""
    paths = []
    for stem in ("rank_vs_accuracy", "incomplete_configurations", "parameter_efficiency"):
        paths += write_table(tables[stem], directory, stem, TITLES[stem])
    paths += write_table(tables["search_health"], directory, "search_health", TITLES["search_health"], extra)
    if len(budget):
        paths += write_table(budget, directory, "asha_budget", TITLES["asha_budget"])
    paths += write_paper_style(paper_style(tables["rank_vs_accuracy"], tables["parameter_efficiency"]), directory)
    return paths

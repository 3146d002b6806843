"""Seeds -> configurations -> the best configuration per variant: the paper's Table 2 statistic.

A configuration is a group of trials-table rows with equal settings (everything but the seed; NaN equals
NaN), so it does not matter whether the sweep wrote one row per trial (one seed each) or one row per seed of
a multi-seed trial. Each seed scores its best dev epoch (the table's best_metric); a configuration scores the
median over its seeds, with min, max and the number of seeds beside it. A variant's score is its best
configuration's median, and everything shown with it (learning rate, best epoch, spread) is that
configuration's. Scores here are in percent (points), like every table.

The race's rules hold here too (lora_sweep/seeds.py): a diverged seed scores -inf in the median, so a
configuration most of whose seeds diverged ranks last; and a configuration is ranked only with every planned seed
counted, so one lucky seed never beats five.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

# The sweep's settings columns (lora_sweep.results.rows.CONFIG_COLUMNS) without the seed: this package
# never imports lora_sweep. Other searched settings are added by name (see setting_columns). A warm start
# (init_adapter, else the path in warm_start), the model and data revisions, the dev subset and the data seed
# change a result as much as the learning rate does: equal settings but another start are another configuration.
SETTINGS = (
    "study", "model", "task", "method", "r", "alpha", "dropout", "target_modules", "learning_rate", "epochs",
    "batch_size", "weight_decay", "warmup_ratio", "max_length", "max_train_samples", "init_adapter", "revision",
    "data_revision", "max_eval_samples", "data_seed",
)  # fmt: skip
# A variant: what the paper's Table 2 compares; its configurations differ in the searched settings. A warm-started
# LoRA and a LoRA from the pretrained weights are two variants (the paper's Table 2 marks which is which).
VARIANT = ["model", "task", "method", "r", "target_modules", "init_adapter"]
# A row in one of these states may still change (or never scored): its configuration is not ranked.
NOT_FINISHED = ("running", "pending", "interrupted", "error")
SCORE_COLUMNS = ["score", "min", "max", "n_seeds", "n_diverged", "best_epoch", "dev_examples", "majority_score"]


def setting_columns(trials: pd.DataFrame, searched=()) -> list[str]:
    """The columns that define a configuration: SETTINGS and any other searched setting, never the seed."""
    extra = [c for c in searched if c not in SETTINGS and c != "seed"]
    return [c for c in (*SETTINGS, *extra) if c in trials.columns]


def with_variant_columns(trials: pd.DataFrame) -> pd.DataFrame:
    """trials with every VARIANT column (a table from before init_adapter was recorded: a pretrained start)."""
    missing = [c for c in VARIANT if c not in trials]
    return trials.assign(**dict.fromkeys(missing, "")) if missing else trials


def with_config_ids(trials: pd.DataFrame, searched=()) -> pd.DataFrame:
    """trials with a `config` column: equal ids for rows with equal settings (NaN equal to NaN)."""
    out = trials.copy()
    columns = setting_columns(trials, searched)
    if out.empty or not columns:
        out["config"] = pd.Series(range(len(out)), index=out.index, dtype="int64")
        return out
    out["config"] = out.groupby(columns, dropna=False, sort=False).ngroup()
    return out


def planned_seeds(trials: pd.DataFrame, sweep: dict | None = None) -> int:
    """How many seeds every configuration should have: sweep.json's seed list, else the most seeds any
    configuration of the table has (a table from outside a sweep)."""
    seeds = (sweep or {}).get("seeds")
    if isinstance(seeds, (list, tuple)) and seeds:
        return len(set(seeds))
    if trials.empty:
        return 1
    ided = trials if "config" in trials else with_config_ids(trials)
    if "seed" not in ided or ided["seed"].isna().all():
        return 1
    return max(1, int(ided.groupby("config")["seed"].nunique().max()))


def _one_row_per_seed(rows: pd.DataFrame) -> pd.DataFrame:
    """A seed written twice in one configuration (a re-run trial) counts once: the row that ran furthest
    (the last written among equals). Works on many configurations at once (by `config`)."""
    if "seed" not in rows:
        return rows
    ordered = rows.assign(_run=rows["epochs_run"].fillna(-1)).sort_values("_run", kind="stable")
    return ordered.drop_duplicates(subset=["config", "seed"], keep="last").drop(columns="_run").sort_index()


def failed_seeds(rows: pd.DataFrame) -> pd.Series:
    """Rows whose seed counts as failed, as lora_sweep/seeds.py counts it in the race: it diverged (whatever best
    score it kept from before), or its score is not a finite number (inf from outside data)."""
    value = pd.to_numeric(rows["best_metric"], errors="coerce")
    return (rows["status"] == "diverged") | (value.notna() & ~np.isfinite(value.fillna(0.0)))


def _summaries(ided: pd.DataFrame, mode: str, planned: int) -> pd.DataFrame:
    """Per configuration (index: config id) its statistic over its seeds; a failed seed counts as the worst
    possible score (-inf, +inf for a metric to minimise), exactly as in the race. NaN score when unranked.
    Grouped column operations, not a loop over configurations: a 10,000-trial sweep summarises in a second."""
    by_config = ided.groupby("config", sort=True)
    out = pd.DataFrame({"n_runs": by_config.size()})
    out["finished"] = ~ided["status"].isin(NOT_FINISHED).groupby(ided["config"]).any()
    seeds = _one_row_per_seed(ided)
    failed = failed_seeds(seeds)
    counted = seeds[(seeds["best_metric"].notna() | failed) & seeds["config"].map(out["finished"])]
    worst = -math.inf if mode == "max" else math.inf
    value = (counted["best_metric"] * 100).where(~failed.loc[counted.index], worst)
    values = value.groupby(counted["config"])
    out["n_seeds"] = values.count().reindex(out.index, fill_value=0)
    out["n_diverged"] = failed.loc[counted.index].groupby(counted["config"]).sum().reindex(out.index, fill_value=0)
    out["score"] = values.median().reindex(out.index)
    low, high = values.min().reindex(out.index), values.max().reindex(out.index)
    # One seed has no spread: min and max stay empty rather than repeat the score.
    out["min"] = low.where(out["n_seeds"] > 1)
    out["max"] = high.where(out["n_seeds"] > 1)
    good = counted[~failed.loc[counted.index]]
    out["best_epoch"] = good["best_epoch"].groupby(good["config"]).median().reindex(out.index)
    # What the scores are out of: the dev set's size and its majority-class score (lora_sweep records both).
    for column, scale in (("dev_examples", 1), ("majority_score", 100)):
        present = ided[column] * scale if column in ided else pd.Series(math.nan, index=ided.index)
        out[column] = present.groupby(ided["config"]).median().reindex(out.index)
    out["planned_seeds"] = planned
    out["complete"] = out["n_seeds"] >= planned
    return out


def configurations(trials: pd.DataFrame, mode: str = "max", searched=(), planned: int | None = None) -> pd.DataFrame:
    """One row per configuration: its settings, `config` id, score (median over seeds of each seed's best
    epoch, %, a diverged seed as -inf), min, max, n_seeds (seeds counted: scored or failed), n_diverged,
    best_epoch (median over the seeds that did not fail), n_runs (rows, any status), planned_seeds, finished
    (no seed may still change), complete (every planned seed counted), ranked (finished, complete and scored).
    planned: seeds per configuration (None: planned_seeds of the table)."""
    trials = with_variant_columns(trials)
    columns = setting_columns(trials, searched)
    keep = ["config", *columns, "metric", *SCORE_COLUMNS, "n_runs", "planned_seeds", "finished", "complete"]
    keep.append("ranked")
    if trials.empty:
        return pd.DataFrame(columns=keep).astype({"finished": bool, "complete": bool, "ranked": bool})
    ided = with_config_ids(trials, searched)
    if "metric" not in ided:
        ided["metric"] = ""
    planned = planned if planned is not None else planned_seeds(ided)
    first = ided.drop_duplicates("config").set_index("config").sort_index()[[*columns, "metric"]]
    table = first.join(_summaries(ided, mode, planned)).reset_index()
    table[["n_seeds", "n_diverged"]] = table[["n_seeds", "n_diverged"]].astype(int)
    table["ranked"] = table["score"].notna() & table["finished"] & table["complete"]
    return table[keep]


def incomplete_configurations(configs: pd.DataFrame) -> pd.DataFrame:
    """The configurations that finished without all their planned seeds: listed apart, never a winner."""
    return configs[configs["finished"] & ~configs["complete"]].reset_index(drop=True)


def rank_configurations(configs: pd.DataFrame, mode: str = "max") -> pd.DataFrame:
    """Ranked configurations, best first: by median, then the better worst seed, then config id."""
    ranked = configs[configs["ranked"]]
    ascending = mode == "min"
    worst = ranked["max"].fillna(ranked["score"]) if ascending else ranked["min"].fillna(ranked["score"])
    ordered = ranked.assign(_worst=worst).sort_values(
        ["score", "_worst", "config"], ascending=[ascending, ascending, True], kind="stable"
    )
    return ordered.drop(columns="_worst")


def best_configurations(configs: pd.DataFrame, by: list[str], mode: str = "max") -> pd.DataFrame:
    """Per group of `by`, the ranked configuration with the best median; groups with none are dropped."""
    ordered = rank_configurations(configs, mode)
    return ordered.drop_duplicates(subset=by, keep="first").reset_index(drop=True)

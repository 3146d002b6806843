"""Seeds -> configurations -> the best configuration per variant: the paper's Table 2 statistic.

A configuration is a group of trials-table rows with equal settings (everything but the seed; NaN equals
NaN), so it does not matter whether the sweep wrote one row per trial (one seed each) or one row per seed of
a multi-seed trial. Each seed scores its best dev epoch (the table's best_metric); a configuration scores the
median over its seeds, with min, max and the number of seeds beside it. A variant's score is its best
configuration's median, and everything shown with it (learning rate, best epoch, spread) is that
configuration's. Scores here are in percent (points), like every table.
"""

from __future__ import annotations

import pandas as pd

# The sweep's settings columns (lora_sweep.results.rows.CONFIG_COLUMNS) without the seed: this package
# never imports lora_sweep. Other searched settings are added by name (see setting_columns).
SETTINGS = (
    "study", "model", "task", "method", "r", "alpha", "dropout", "target_modules", "learning_rate", "epochs",
    "batch_size", "weight_decay", "warmup_ratio", "max_length", "max_train_samples",
)  # fmt: skip
# A variant: what the paper's Table 2 compares; its configurations differ in the searched settings.
VARIANT = ["model", "task", "method", "r", "target_modules"]
# A row in one of these states may still change (or never scored): its configuration is not ranked.
NOT_FINISHED = ("running", "pending", "interrupted", "error")
SCORE_COLUMNS = ["score", "min", "max", "n_seeds", "best_epoch", "best_single_seed"]


def setting_columns(trials: pd.DataFrame, searched=()) -> list[str]:
    """The columns that define a configuration: SETTINGS and any other searched setting, never the seed."""
    extra = [c for c in searched if c not in SETTINGS and c != "seed"]
    return [c for c in (*SETTINGS, *extra) if c in trials.columns]


def with_config_ids(trials: pd.DataFrame, searched=()) -> pd.DataFrame:
    """trials with a `config` column: equal ids for rows with equal settings (NaN equal to NaN)."""
    out = trials.copy()
    columns = setting_columns(trials, searched)
    if out.empty or not columns:
        out["config"] = pd.Series(range(len(out)), index=out.index, dtype="int64")
        return out
    out["config"] = out.groupby(columns, dropna=False, sort=False).ngroup()
    return out


def _one_row_per_seed(rows: pd.DataFrame) -> pd.DataFrame:
    """A seed written twice in one configuration (a re-run trial) counts once: the row that ran furthest
    (the last written among equals). Works on many configurations at once (by `config`)."""
    if "seed" not in rows:
        return rows
    ordered = rows.assign(_run=rows["epochs_run"].fillna(-1)).sort_values("_run", kind="stable")
    return ordered.drop_duplicates(subset=["config", "seed"], keep="last").drop(columns="_run").sort_index()


def _summaries(ided: pd.DataFrame, mode: str) -> pd.DataFrame:
    """Per configuration (index: config id) its statistic over its seeds; NaN score when it is not ranked.
    Grouped column operations, not a loop over configurations: a 10,000-trial sweep summarises in a second."""
    by_config = ided.groupby("config", sort=True)
    out = pd.DataFrame({"n_runs": by_config.size()})
    out["finished"] = ~ided["status"].isin(NOT_FINISHED).groupby(ided["config"]).any()
    seeds = _one_row_per_seed(ided)
    scored = seeds[seeds["best_metric"].notna() & seeds["config"].map(out["finished"])]
    values = (scored["best_metric"] * 100).groupby(scored["config"])
    out["n_seeds"] = values.count().reindex(out.index, fill_value=0)
    out["score"] = values.median().reindex(out.index)
    low, high = values.min().reindex(out.index), values.max().reindex(out.index)
    # One seed has no spread: min and max stay empty rather than repeat the score.
    out["min"] = low.where(out["n_seeds"] > 1)
    out["max"] = high.where(out["n_seeds"] > 1)
    out["best_epoch"] = scored["best_epoch"].groupby(scored["config"]).median().reindex(out.index)
    out["best_single_seed"] = high if mode == "max" else low
    return out


def configurations(trials: pd.DataFrame, mode: str = "max", searched=()) -> pd.DataFrame:
    """One row per configuration: its settings, `config` id, score (median over seeds of each seed's best
    epoch, %), min, max, n_seeds (seeds with a score), best_epoch (median over those seeds),
    best_single_seed, n_runs (rows, any status), finished, ranked (finished and scored)."""
    columns = setting_columns(trials, searched)
    keep = ["config", *columns, "metric", *SCORE_COLUMNS, "n_runs", "finished", "ranked"]
    if trials.empty:
        return pd.DataFrame(columns=keep).astype({"finished": bool, "ranked": bool})
    ided = with_config_ids(trials, searched)
    if "metric" not in ided:
        ided["metric"] = ""
    first = ided.drop_duplicates("config").set_index("config").sort_index()[[*columns, "metric"]]
    table = first.join(_summaries(ided, mode)).reset_index()
    table["n_seeds"] = table["n_seeds"].astype(int)
    table["ranked"] = table["score"].notna()
    return table[keep]


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

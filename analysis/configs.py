"""Seeds -> configurations -> the best configuration per variant: the paper's Table 2 statistic.

A configuration is a group of trials-table rows with equal settings (everything but the seed; NaN equals
NaN), so it does not matter whether the sweep wrote one row per trial (one seed each) or one row per seed of
a multi-seed trial. Each seed scores its best dev epoch (the table's best_metric); a configuration scores the
median over its seeds, with min, max and the number of seeds beside it. A variant's score is its best
configuration's median, and everything shown with it (learning rate, best epoch, spread) is that
configuration's. Scores here are in percent (points), like every table.
"""

from __future__ import annotations

import math

import pandas as pd

# The sweep's settings columns (lora_sweep.results.CONFIG_COLUMNS) without the seed: this package
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
    """A seed written twice in one configuration (a re-run trial) counts once: the row that ran furthest."""
    if "seed" not in rows or not rows["seed"].duplicated().any():
        return rows
    ordered = rows.assign(_run=rows["epochs_run"].fillna(-1)).sort_values("_run", kind="stable")
    return ordered.drop_duplicates(subset="seed", keep="last").drop(columns="_run").sort_index()


def _summary(rows: pd.DataFrame, mode: str) -> dict:
    """One configuration's statistic over its seeds; NaN score when it is not ranked."""
    finished = not rows["status"].isin(NOT_FINISHED).any()
    seeds = _one_row_per_seed(rows)
    scored = seeds[seeds["best_metric"].notna()] if finished else seeds.iloc[:0]
    values = scored["best_metric"] * 100
    n = len(values)
    best_single = (values.max() if mode == "max" else values.min()) if n else math.nan
    return {
        "score": values.median() if n else math.nan,
        # One seed has no spread: min and max stay empty rather than repeat the score.
        "min": values.min() if n > 1 else math.nan,
        "max": values.max() if n > 1 else math.nan,
        "n_seeds": n,
        "best_epoch": scored["best_epoch"].median() if n else math.nan,
        "best_single_seed": best_single,
        "n_runs": len(rows),
        "finished": finished,
    }


def configurations(trials: pd.DataFrame, mode: str = "max", searched=()) -> pd.DataFrame:
    """One row per configuration: its settings, `config` id, score (median over seeds of each seed's best
    epoch, %), min, max, n_seeds (seeds with a score), best_epoch (median over those seeds),
    best_single_seed, n_runs (rows, any status), finished, ranked (finished and scored)."""
    columns = setting_columns(trials, searched)
    keep = ["config", *columns, "metric", *SCORE_COLUMNS, "n_runs", "finished", "ranked"]
    if trials.empty:
        return pd.DataFrame(columns=keep).astype({"finished": bool, "ranked": bool})
    ided = with_config_ids(trials, searched)
    rows = []
    for config, group in ided.groupby("config", sort=True):
        first = group.iloc[0]
        rows.append({"config": config, **{c: first[c] for c in columns}, "metric": first.get("metric", "")})
        rows[-1].update(_summary(group, mode))
    table = pd.DataFrame(rows)
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

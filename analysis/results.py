"""Load a sweep's result files (trials, epochs, sweep.json) into frames, noting what is missing.

Works on finished, running and interrupted sweeps: only the trials table is required.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.configs import NOT_FINISHED, planned_seeds, with_config_ids

# Statuses of trials that may still produce a (better) result.
UNFINISHED = ("running", "pending")

_TRIAL_STR = (
    "trial_id", "study", "model", "task", "method", "target_modules", "status", "error", "metric", "warm_start",
    "host", "model_revision", "data_source", "data_fingerprint", "init_adapter", "revision", "data_revision",
)  # fmt: skip
_TRIAL_NUM = (
    "r", "alpha", "dropout", "learning_rate", "epochs", "batch_size", "seed", "weight_decay",
    "warmup_ratio", "max_length", "max_train_samples", "best_metric", "best_epoch", "epochs_run",
    "lora_params", "head_params", "trainable_params", "total_params", "adapter_bytes",
    "train_time_s", "epoch_time_s", "peak_memory_mb", "max_eval_samples", "data_seed", "dev_examples",
    "majority_score",
)  # fmt: skip
_EPOCH_NEEDED = ("trial_id", "epoch")


class ResultsError(Exception):
    """The directory holds no readable trials table; the message is one line for the user."""


@dataclass(frozen=True)
class Results:
    """A sweep's results: trials (one row each), epochs (may be empty), sweep info (may be None)."""

    directory: Path
    trials: pd.DataFrame
    epochs: pd.DataFrame
    sweep: dict | None
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The sweep's name from sweep.json, else the directory's name."""
        return str((self.sweep or {}).get("name") or self.directory.name)

    @property
    def mode(self) -> str:
        """'max' or 'min': which way the primary metric improves (max unless sweep.json says)."""
        return "min" if (self.sweep or {}).get("mode") == "min" else "max"


def _read_table(directory: Path, stem: str, notes: list[str]) -> pd.DataFrame | None:
    """<stem>.parquet, else <stem>.csv. A running sweep replaces these files whole (a rename); the parquet file is
    read into memory at once, since pyarrow reading it by path opens it more than once and can mix two versions."""
    parquet, csv = directory / f"{stem}.parquet", directory / f"{stem}.csv"
    if parquet.is_file():
        try:
            return pd.read_parquet(io.BytesIO(parquet.read_bytes()))
        except Exception as exc:  # noqa: BLE001 - any unreadable parquet falls back to csv
            if not csv.is_file():
                raise ResultsError(f"{parquet} is unreadable ({type(exc).__name__}) and no {csv.name}") from exc
            notes.append(f"{parquet.name} is unreadable; read {csv.name} instead")
    if csv.is_file():
        # keep_default_na=False so an empty target_modules stays "" and "NA"-like text stays text.
        try:
            return pd.read_csv(csv, keep_default_na=False, na_values=[""], dtype={"trial_id": str})
        except (ValueError, OSError) as exc:  # EmptyDataError and ParserError are ValueErrors
            raise ResultsError(f"{csv} is unreadable ({type(exc).__name__})") from exc
    return None


def normalise_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """Add missing contract columns and coerce types so the tables can rely on them."""
    out = trials.copy()
    for col in _TRIAL_STR:
        if col not in out:
            out[col] = ""
        out[col] = out[col].astype(object).where(out[col].notna(), "").astype(str)
    for col in _TRIAL_NUM:
        out[col] = pd.to_numeric(out[col], errors="coerce") if col in out else float("nan")
    # Tables from before init_adapter was a column: the adapter's folder is the start of warm_start's note.
    noted = out["warm_start"].str.split(" (", n=1, regex=False).str[0].str.strip()
    out["init_adapter"] = out["init_adapter"].where(out["init_adapter"] != "", noted)
    out["method"] = out["method"].str.lower()
    out["task"] = out["task"].str.lower()
    # Rank only means something for LoRA; a stray value elsewhere would split variants.
    out.loc[out["method"] != "lora", "r"] = float("nan")
    return out.reset_index(drop=True)


def _normalise_epochs(epochs: pd.DataFrame) -> pd.DataFrame:
    """Typed trial ids and epochs, sorted; rows without an epoch number dropped."""
    out = epochs.copy()
    out["trial_id"] = out["trial_id"].astype(str)
    out["epoch"] = pd.to_numeric(out["epoch"], errors="coerce")
    return out.dropna(subset=["epoch"]).sort_values(["trial_id", "epoch"]).reset_index(drop=True)


def _count(n: int, noun: str) -> str:
    """'1 trial is' / '3 trials are'."""
    return f"{n} {noun} is" if n == 1 else f"{n} {noun}s are"


def missing_notes(trials: pd.DataFrame, sweep: dict | None) -> list[str]:
    """Human-readable lines about trials without results, failures and studies with nothing to show."""
    notes = []
    has_result = trials["best_metric"].notna()
    n, n_missing = len(trials), int((~has_result).sum())
    planned = (sweep or {}).get("n_trials_planned")
    if isinstance(planned, int) and planned > n:
        notes.append(f"{planned - n} of {planned} planned trials have not started (not in the trials table)")
    if n_missing:
        by_status = trials.loc[~has_result, "status"].value_counts()
        detail = ", ".join(f"{count} {status}" for status, count in by_status.items())
        notes.append(f"{n_missing} of {n} trials have no result yet ({detail})")
    partial = int((has_result & trials["status"].isin(UNFINISHED)).sum())
    if partial:
        notes.append(f"{_count(partial, 'trial')} still running: their scores are partial")
    value = trials["best_metric"]
    infinite = int((value.notna() & ~np.isfinite(value.fillna(0.0)) & (trials["status"] != "diverged")).sum())
    if infinite:
        notes.append(f"{infinite} of {n} trials have a non-finite best_metric: counted as diverged, as in the race")
    failed = trials[trials["status"].isin(["error", "diverged"])]
    if len(failed):
        detail = ", ".join(f"{c} {s}" for s, c in failed["status"].value_counts().items())
        notes.append(f"{len(failed)} of {n} trials failed ({detail})")
    searched = list(((sweep or {}).get("searched") or {}).keys())
    ided = with_config_ids(trials, searched)
    unranked = ided["status"].isin(NOT_FINISHED).groupby(ided["config"]).any()
    if unranked.any():
        notes.append(
            f"{_count(int(unranked.sum()), 'configuration')} not ranked: some of their seeds are running, pending,"
            " interrupted or raised an error (a score is the median over all of a configuration's seeds)"
        )
    planned = planned_seeds(ided, sweep)
    seeds = ided.groupby("config")["seed"].nunique() if "seed" in ided else ided.groupby("config").size()
    short = seeds[(seeds < planned) & ~unranked.reindex(seeds.index, fill_value=False)]
    if len(short):
        notes.append(
            f"{_count(len(short), 'configuration')} missing some of the {planned} planned seeds: listed apart"
            " (incomplete configurations), never ranked"
        )
    for study, group in trials.groupby("study", sort=True):
        if group["best_metric"].isna().all():
            statuses = ", ".join(f"{c} {s}" for s, c in group["status"].value_counts().items())
            notes.append(f"study {study}: no trial has a result ({statuses})")
    return notes


def load_results(directory: str | Path) -> Results:
    """Read <directory>'s trials (required), epochs and sweep.json; raise ResultsError without trials."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ResultsError(f"{directory} is not a directory")
    notes: list[str] = []
    trials = _read_table(directory, "trials", notes)
    if trials is None:
        raise ResultsError(f"{directory} has no trials.parquet or trials.csv: not a sweep results directory")
    trials = normalise_trials(trials)
    sweep = None
    sweep_path = directory / "sweep.json"
    if sweep_path.is_file():
        try:
            sweep = json.loads(sweep_path.read_text())
        except (OSError, ValueError):
            notes.append("sweep.json is unreadable: search health skipped")
    else:
        notes.append("no sweep.json: search health skipped")
    try:
        epochs = _read_table(directory, "epochs", notes)
    except ResultsError as exc:  # epochs are optional: a half-written file costs only the curves
        notes.append(str(exc))
        epochs = None
    if epochs is None or not set(_EPOCH_NEEDED) <= set(epochs.columns):
        notes.append("no epochs table: learning curves skipped")
        epochs = pd.DataFrame(columns=list(_EPOCH_NEEDED))
    else:
        epochs = _normalise_epochs(epochs)
    if trials.empty:
        notes.append("the trials table is empty: no trial has reported yet")
    notes.extend(missing_notes(trials, sweep))
    return Results(directory=directory, trials=trials, epochs=epochs, sweep=sweep, notes=notes)

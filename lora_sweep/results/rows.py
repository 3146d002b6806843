"""Trial records -> the results tables the analysis reads (trials and epochs, CSV and parquet). No Ray here.

A TrialRecord is what the sweep knows of one trial (one configuration): its flat config, the per-seed rows it
reported, its error and whether it has ended. The trials table has one row per (trial, seed), the epochs table
one per (trial, seed, epoch). Tables are rewritten atomically as trials report, so an interrupted sweep keeps
them.

Statuses: completed (every epoch), early_stopped (stopped by ASHA), diverged (NaN/inf loss), error (the trial
raised), running (while the sweep runs), interrupted (the sweep was stopped while the trial ran; --resume
continues it), pending (never started).
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field

import pandas as pd

from lora_sweep.results import storage
from lora_sweep.trial.config import TrialConfig
from lora_sweep.trial.fingerprints import PROVENANCE_KEYS
from lora_sweep.trial.tasks import get_task

CONFIG_COLUMNS = (
    "study",
    "model",
    "task",
    "method",
    "r",
    "alpha",
    "dropout",
    "target_modules",
    "learning_rate",
    "epochs",
    "batch_size",
    "seed",
    "weight_decay",
    "warmup_ratio",
    "max_length",
    "max_train_samples",
    "revision",
    "data_revision",
    # What else changes a result (a configuration is all of these but the seed; analysis.configs.SETTINGS):
    "init_adapter",
    "data_seed",
    "max_eval_samples",
)
COUNT_COLUMNS = ("lora_params", "head_params", "trainable_params", "total_params")
EPOCH_KEYS = (
    "epoch",
    "eval_loss",
    "train_loss",
    "lr",
    "epoch_time_s",
    "cpu_time_s",  # the trial's CPU seconds beside its wall seconds: a gap between them is other work's load
    "train_samples_per_s",
    "peak_memory_mb",
    "precision",  # what the epoch ran in (fp32 or bf16: precision auto resolved on its machine)
    "pack_size",  # LoRA seeds trained together on one frozen model (1: alone)
    "stack_padding",  # share of a pack's stacked positions that were padding
    *COUNT_COLUMNS,
    "diverged",
    "reason",
    "node",
    "adapter_bytes",
    *PROVENANCE_KEYS,
    "warm_start",
    "dev_examples",
    "majority_score",
)


@dataclass
class TrialRecord:
    trial_id: str
    config: dict  # flat: TrialConfig fields + study/cpu/gpu labels + "seeds"
    rows: list = field(default_factory=list)  # per-seed rows, one per (seed, epoch), each with "seed"
    error: str = ""
    ended: bool = False
    interrupted: bool = False  # the sweep stopped (signal) while this trial had not ended

    def add_rows(self, rows: list[dict]) -> None:
        """Add rows; a row for a (seed, epoch) already held replaces it (a trial retried from scratch)."""
        keys = {(r.get("seed"), r.get("epoch")) for r in rows}
        self.rows = [r for r in self.rows if (r.get("seed"), r.get("epoch")) not in keys] + list(rows)

    def seeds(self) -> list:
        seeds = self.config.get("seeds")
        if seeds is None:
            seeds = [self.config.get("seed")]
        return list(seeds)

    def for_seed(self, seed) -> TrialRecord:
        config = {k: v for k, v in self.config.items() if k != "seeds"}
        rows = sorted((r for r in self.rows if r.get("seed") == seed), key=lambda r: r.get("epoch", 0))
        return TrialRecord(self.trial_id, {**config, "seed": seed}, rows, self.error, self.ended, self.interrupted)


def seed_rows(result: dict, by_seed_key: str = "by_seed") -> list[dict]:
    """A trial's per-epoch report -> one flat row per seed, each with its "seed" (nested or Ray-flattened keys)."""
    nested = result.get(by_seed_key)
    if isinstance(nested, dict):
        return [{**row, "seed": int(seed)} for seed, row in nested.items()]
    prefix, rows = by_seed_key + "/", {}
    for key, value in result.items():
        if isinstance(key, str) and key.startswith(prefix):
            seed, _, name = key[len(prefix) :].partition("/")
            rows.setdefault(seed, {})[name] = value
    return [{**row, "seed": int(seed)} for seed, row in rows.items()]


def epoch_row(trial_id: str, study: str, row: dict) -> dict:
    keep = {k: v for k, v in row.items() if k in EPOCH_KEYS or k.startswith("eval_")}
    return {"trial_id": trial_id, "study": study, "seed": row.get("seed"), **keep}


def epochs_run(record: TrialRecord) -> int:
    return max((int(r.get("epoch", 0)) for r in record.rows), default=0)


def trial_status(record: TrialRecord, configured_epochs: int) -> str:
    if record.error:
        return "error"
    if any(bool(r.get("diverged")) for r in record.rows):
        return "diverged"
    if not record.ended:
        if not record.rows:
            return "pending"
        return "interrupted" if record.interrupted else "running"
    return "completed" if epochs_run(record) >= configured_epochs else "early_stopped"


OOM_MARKERS = ("OutOfMemoryError", "CUDA out of memory", "out of memory")


def error_kind(error: str) -> str:
    """ "out_of_memory" for a GPU (or host) OOM, so a sweep's table shows which configurations did not fit."""
    if not error:
        return ""
    return "out_of_memory" if any(m in error for m in OOM_MARKERS) else "exception"


def trial_row(record: TrialRecord) -> dict:
    method = record.config.get("method", "lora")
    # Settings a spec left at their defaults still get their value in the table.
    cfg = {**TrialConfig(method=method).to_dict(), **record.config}
    configured = cfg["epochs"]
    metric = "eval_" + get_task(cfg["task"]).primary_metric
    scored = [r for r in record.rows if _finite(r.get(metric))]
    best = max(scored, key=lambda r: r[metric]) if scored else None
    last = record.rows[-1] if record.rows else {}
    status = trial_status(record, configured)
    error = record.error or (last.get("reason", "") if status == "diverged" else "")
    targets = cfg.get("target_modules")
    row = {
        "trial_id": record.trial_id,
        **{k: cfg.get(k) for k in CONFIG_COLUMNS},
        "epochs": configured,
        "target_modules": ",".join(targets) if isinstance(targets, (list, tuple)) else (targets or ""),
        "status": status,
        "error": error.strip().splitlines()[-1] if error.strip() else "",
        "error_kind": error_kind(record.error),
        "metric": metric,
        "best_metric": best[metric] if best else math.nan,
        "best_epoch": best["epoch"] if best else None,
        "epochs_run": epochs_run(record),
        **{k: last.get(k) for k in COUNT_COLUMNS},
        "adapter_bytes": last.get("adapter_bytes"),
        # The dev set the trial scored on, and what always predicting its most common label scores there.
        "dev_examples": last.get("dev_examples"),
        "majority_score": last.get("majority_score"),
        "warm_start": next((r["warm_start"] for r in record.rows if r.get("warm_start")), ""),
        "train_time_s": sum(r.get("epoch_time_s", 0.0) or 0.0 for r in record.rows),
        "epoch_time_s": _mean([r.get("epoch_time_s") for r in record.rows]),
        "train_cpu_s": sum(r.get("cpu_time_s", 0.0) or 0.0 for r in record.rows),
        "precision": last.get("precision", ""),
        "peak_memory_mb": max((r.get("peak_memory_mb") or 0.0 for r in record.rows), default=None),
        "node": last.get("node", ""),
        # What the trial used (trial/fingerprints.py): the same in every row of one trial run.
        **{k: last.get(k, "") for k in PROVENANCE_KEYS},
    }
    # Every other searched setting (e.g. max_length) keeps its own column.
    extras = {k: v for k, v in record.config.items() if k not in row and k not in ("cpu", "gpu")}
    return {**row, **{k: (",".join(v) if isinstance(v, (list, tuple)) else v) for k, v in extras.items()}}


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _mean(values) -> float | None:
    values = [v for v in values if _finite(v)]
    return sum(values) / len(values) if values else None


def build_tables(records: list[TrialRecord]) -> tuple[pd.DataFrame, pd.DataFrame]:
    per_seed = [r.for_seed(seed) for r in records for seed in r.seeds()]
    trials = pd.DataFrame([trial_row(r) for r in per_seed])
    epochs = pd.DataFrame([epoch_row(r.trial_id, r.config.get("study", ""), row) for r in per_seed for row in r.rows])
    return _sorted(trials, ["study", "trial_id", "seed"]), _sorted(epochs, ["study", "trial_id", "seed", "epoch"])


def _sorted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    keys = [k for k in keys if k in frame]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True) if len(frame) and keys else frame


def read_tables(out_dir: storage.Location) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The trials and epochs tables already in out_dir (a folder or a storage URI; from before a resume), or None."""
    trials = storage.join(out_dir, "trials.parquet")
    if not storage.is_file(trials):
        return None
    epochs = storage.join(out_dir, "epochs.parquet")
    read = lambda location: pd.read_parquet(io.BytesIO(storage.read_bytes(location)))  # noqa: E731
    return read(trials), read(epochs) if storage.is_file(epochs) else pd.DataFrame()


def with_unwritten(tables, unwritten: storage.Location):
    """The tables read before a resume, with the epoch rows saved since their last rewrite (JSON lines) added."""
    text = storage.read_text(unwritten) if storage.is_file(unwritten) else ""
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    if not rows:
        return tables
    trials, epochs = tables if tables is not None else (pd.DataFrame(), pd.DataFrame())
    merged = pd.concat([epochs, pd.DataFrame(rows)], ignore_index=True)
    return trials, merged.drop_duplicates(["trial_id", "seed", "epoch"], keep="last").reset_index(drop=True)


def _keep_previous(new: pd.DataFrame, old: pd.DataFrame) -> pd.DataFrame:
    """Old rows of trials not in new; never old `pending` rows (configurations Ray had not created: each run
    writes its own)."""
    if old is None or old.empty or "trial_id" not in old:
        return new
    seen = set(new["trial_id"]) if "trial_id" in new else set()
    kept = old[~old["trial_id"].isin(seen) & old["trial_id"].notna() & (old["trial_id"].astype(str) != "")]
    if "status" in kept:
        kept = kept[kept["status"] != "pending"]
    return pd.concat([kept, new], ignore_index=True) if not new.empty else kept


def write_tables(
    records: list[TrialRecord], out_dir: storage.Location, previous=None, clean=None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write trials.{csv,parquet} and epochs.{csv,parquet} atomically; return the frames.

    previous: tables read before a resume; their rows for trials not in records are kept.
    clean: applied to every text cell (redact.scrubber: no secrets, no absolute paths of this machine).
    """
    trials, epochs = build_tables(records)
    if clean is not None:
        trials, epochs = (f.map(lambda v: clean(v) if isinstance(v, str) else v) for f in (trials, epochs))
    if previous is not None:
        trials, epochs = _keep_previous(trials, previous[0]), _keep_previous(epochs, previous[1])
        # The kept rows were appended after build_tables sorted: sort again.
        trials = _sorted(trials, ["study", "trial_id", "seed"])
        epochs = _sorted(epochs, ["study", "trial_id", "seed", "epoch"])
    for name, frame in (("trials", trials), ("epochs", epochs)):
        storage.write(storage.join(out_dir, f"{name}.csv"), lambda tmp, f=frame: f.to_csv(tmp, index=False))
        storage.write(storage.join(out_dir, f"{name}.parquet"), lambda tmp, f=frame: f.to_parquet(tmp, index=False))
    return trials, epochs

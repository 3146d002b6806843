"""Trial records -> the results tables the analysis reads (trials and epochs, CSV and parquet). No Ray here.

A TrialRecord is what the sweep knows of one trial: its flat config, the rows it reported, its error and
whether it has ended. Tables are rewritten atomically as trials end, so an interrupted sweep keeps them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from lora_sweep.atomic import atomic_write
from lora_sweep.config import TrialConfig
from lora_sweep.tasks import get_task

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
)
COUNT_COLUMNS = ("lora_params", "head_params", "trainable_params", "total_params")
EPOCH_KEYS = (
    "epoch",
    "eval_loss",
    "train_loss",
    "lr",
    "epoch_time_s",
    "train_samples_per_s",
    "peak_memory_mb",
    *COUNT_COLUMNS,
    "diverged",
    "reason",
    "node",
    "adapter_bytes",
)


@dataclass
class TrialRecord:
    trial_id: str
    config: dict  # flat: TrialConfig fields + study/cpu/gpu labels
    rows: list = field(default_factory=list)  # the dicts the trial reported, one per epoch
    error: str = ""
    ended: bool = False


def _epoch_row(trial_id: str, study: str, row: dict) -> dict:
    keep = {k: v for k, v in row.items() if k in EPOCH_KEYS or k.startswith("eval_")}
    return {"trial_id": trial_id, "study": study, **keep}


def trial_status(record: TrialRecord, configured_epochs: int) -> str:
    if record.error:
        return "error"
    if any(bool(r.get("diverged")) for r in record.rows):
        return "diverged"
    if not record.ended:
        return "running" if record.rows else "pending"
    epochs_run = max((int(r.get("epoch", 0)) for r in record.rows), default=0)
    return "completed" if epochs_run >= configured_epochs else "early_stopped"


def trial_row(record: TrialRecord) -> dict:
    cfg = record.config
    configured = cfg.get("epochs", TrialConfig().epochs)
    method = cfg.get("method", "lora")
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
        "learning_rate": cfg.get("learning_rate") or TrialConfig(method=method).learning_rate,
        "target_modules": ",".join(targets) if isinstance(targets, (list, tuple)) else (targets or ""),
        "status": status,
        "error": error.strip().splitlines()[-1] if error.strip() else "",
        "metric": metric,
        "best_metric": best[metric] if best else math.nan,
        "best_epoch": best["epoch"] if best else None,
        "epochs_run": max((int(r.get("epoch", 0)) for r in record.rows), default=0),
        **{k: last.get(k) for k in COUNT_COLUMNS},
        "adapter_bytes": last.get("adapter_bytes"),
        "train_time_s": sum(r.get("epoch_time_s", 0.0) or 0.0 for r in record.rows),
        "epoch_time_s": _mean([r.get("epoch_time_s") for r in record.rows]),
        "peak_memory_mb": max((r.get("peak_memory_mb") or 0.0 for r in record.rows), default=None),
        "node": last.get("node", ""),
    }
    # Every other searched setting (e.g. max_length) keeps its own column.
    extras = {k: v for k, v in cfg.items() if k not in row and k not in ("cpu", "gpu", "extra")}
    return {**row, **{k: (",".join(v) if isinstance(v, (list, tuple)) else v) for k, v in extras.items()}}


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _mean(values) -> float | None:
    values = [v for v in values if _finite(v)]
    return sum(values) / len(values) if values else None


def build_tables(records: list[TrialRecord]) -> tuple[pd.DataFrame, pd.DataFrame]:
    trials = pd.DataFrame([trial_row(r) for r in records])
    epochs = pd.DataFrame([_epoch_row(r.trial_id, r.config.get("study", ""), row) for r in records for row in r.rows])
    if not trials.empty:
        trials = trials.sort_values(["study", "trial_id"], kind="stable").reset_index(drop=True)
    return trials, epochs


def write_tables(records: list[TrialRecord], out_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write trials.{csv,parquet} and epochs.{csv,parquet} atomically; return the frames."""
    out = Path(out_dir)
    trials, epochs = build_tables(records)
    for name, frame in (("trials", trials), ("epochs", epochs)):
        atomic_write(out / f"{name}.csv", lambda tmp, f=frame: f.to_csv(tmp, index=False))
        atomic_write(out / f"{name}.parquet", lambda tmp, f=frame: f.to_parquet(tmp, index=False))
    return trials, epochs

"""Synthetic sweep result files for the analysis tests: rows follow the sweep's results contract."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

NAN = math.nan
_WIDTH = {"roberta-base": (768, 12, 124_645_632), "minilm": (384, 6, 22_713_216)}
_METRIC = {"cola": "eval_matthews_correlation", "stsb": "eval_pearson"}


def trial(model="roberta-base", task="sst2", method="lora", r=8, seed=0, learning_rate=5e-4, **extra) -> dict:
    """One trials-table row with contract defaults; `extra` overrides any column."""
    width, layers, base = _WIDTH.get(model, (768, 12, 124_645_632))
    lora = method == "lora"
    lora_params = 2 * r * width * 2 * layers if lora else 0
    head = width * width + width + 2 * width + 2
    trainable = base if method == "full" else lora_params + head
    row = {
        "trial_id": None,
        "study": f"{model}/{task}/" + (f"lora-r{r}" if lora else method),
        "model": model, "task": task, "method": method,
        "r": r if lora else NAN, "alpha": 16.0 if lora else NAN, "dropout": 0.1,
        "target_modules": "query,value" if lora else "",
        "learning_rate": learning_rate, "epochs": 10, "batch_size": 16, "seed": seed,
        "weight_decay": 0.0, "warmup_ratio": 0.06, "max_length": 128, "max_train_samples": 2000,
        "status": "completed", "error": "", "metric": _METRIC.get(task, "eval_accuracy"),
        "best_metric": 0.9, "best_epoch": 3, "epochs_run": 10,
        "lora_params": lora_params, "head_params": head, "trainable_params": trainable,
        "total_params": base + lora_params, "adapter_bytes": 4.0 * trainable,
        "train_time_s": 100.0, "epoch_time_s": 10.0, "peak_memory_mb": 900.0, "node": "node-1",
    }  # fmt: skip
    row.update(extra)
    return row


def trials_frame(rows: list[dict]) -> pd.DataFrame:
    """Rows -> the trials frame, with trial ids t000, t001, ... where a row has none."""
    frame = pd.DataFrame(rows)
    frame["trial_id"] = [tid or f"t{i:03d}" for i, tid in enumerate(frame["trial_id"])]
    return frame


def epochs_frame(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per trial per epoch run, rising to best_metric at best_epoch then flat-ish."""
    rows = []
    for t in trials.itertuples(index=False):
        if t.epochs_run is None or math.isnan(t.best_metric):
            continue
        for epoch in range(1, int(t.epochs_run) + 1):
            score = t.best_metric - 0.02 * abs(epoch - t.best_epoch) / max(t.best_epoch, 1)
            rows.append(
                {
                    "trial_id": t.trial_id, "study": t.study, "seed": t.seed, "epoch": epoch, t.metric: score,
                    "eval_loss": 1 - score, "train_loss": 1.0 / epoch, "lr": t.learning_rate,
                    "epoch_time_s": t.epoch_time_s, "train_samples_per_s": 200.0,
                    "peak_memory_mb": t.peak_memory_mb, "lora_params": t.lora_params,
                    "head_params": t.head_params, "trainable_params": t.trainable_params,
                    "total_params": t.total_params,
                }
            )  # fmt: skip
    return pd.DataFrame(rows)


def sweep_info(searched: dict | None = None, asha: bool = True, planned: int = 0, name: str = "synthetic") -> dict:
    """A sweep.json document."""
    return {
        "name": name,
        "mode": "max",
        "searched": searched if searched is not None else {
            "learning_rate": {"type": "grid", "values": [1e-4, 5e-4, 1e-3]},
        },
        "scheduler": {"type": "asha", "max_epochs": 10, "grace_period": 1, "reduction_factor": 2} if asha else None,
        "n_trials_planned": planned,
    }  # fmt: skip


def write_results(directory: Path, trials: pd.DataFrame, epochs: pd.DataFrame | None = None,
                  sweep: dict | None = None, formats=("parquet", "csv")) -> Path:  # fmt: skip
    """Write trials (and epochs, sweep.json when given) the way the sweep does; returns directory."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for stem, frame in (("trials", trials), ("epochs", epochs)):
        if frame is None:
            continue
        if "parquet" in formats:
            frame.to_parquet(directory / f"{stem}.parquet", index=False)
        if "csv" in formats:
            frame.to_csv(directory / f"{stem}.csv", index=False)
    if sweep is not None:
        (directory / "sweep.json").write_text(json.dumps(sweep))
    return directory


def demo_rows() -> list[dict]:
    """A realistic small sweep: 2 models x 2 tasks x (full, LoRA r 4/8/16, head) x 2 lrs x 2 seeds,
    some trials stopped by ASHA, one running, one errored."""
    rows = []
    variants = [("full", None, (2e-5, 5e-5))] + [("lora", r, (5e-4, 1e-3)) for r in (4, 8, 16)]
    variants.append(("head", None, (1e-3, 3e-3)))
    for model in ("roberta-base", "minilm"):
        for task, base in (("sst2", 0.92), ("mrpc", 0.86)):
            for method, r, lrs in variants:
                for i, lr in enumerate(lrs):
                    for seed in (0, 1):
                        score = base - (0.03 if model == "minilm" else 0) - (0.08 if method == "head" else 0)
                        score += 0.002 * (r or 8) / 8 * (method == "lora") + 0.005 * i - 0.003 * seed
                        stopped = i == 0 and seed == 1
                        rows.append(trial(
                            model, task, method, r or 8, seed, lr, best_metric=score,
                            status="early_stopped" if stopped else "completed",
                            epochs_run=2 if stopped else 10, best_epoch=2 if stopped else 6,
                        ))  # fmt: skip
    rows[0].update(status="error", error="CUDA out of memory", best_metric=NAN, epochs_run=0)
    rows[1].update(status="running", best_metric=0.9, epochs_run=4, best_epoch=4)
    return rows


def demo_sweep(directory: Path) -> Path:
    """Write the demo sweep (trials, epochs, sweep.json) into directory."""
    trials = trials_frame(demo_rows())
    searched = {
        "learning_rate": {"type": "loguniform", "low": 1e-5, "high": 1e-2},
        "seed": {"type": "grid", "values": [0, 1]},
    }
    return write_results(directory, trials, epochs_frame(trials), sweep_info(searched, planned=len(trials) + 2))


# The RoBERTa-base MRPC table: dev accuracy (%) and best epoch per (learning rate, seed).
# LoRA r=8, 3 learning rates x 3 seeds: the per-seed best over learning rates is 88, 87, 86 (median 87.0,
# best single trial 88 at 3e-4, whose own median is 83.0); the medians per learning rate are 85.0 (1e-4),
# 83.0 (3e-4) and 82.0 (1e-3). Full fine-tuning, 2 x 3: per-seed bests 85, 86.5, 86 (median 86.0); medians
# 85.5 (1e-5) and 84.0 (3e-5).
MRPC_LORA = {
    1e-4: [(84.0, 4), (85.0, 6), (86.0, 7)],
    3e-4: [(88.0, 9), (83.0, 2), (80.0, 3)],
    1e-3: [(80.0, 5), (87.0, 5), (82.0, 5)],
}
MRPC_FULL = {
    1e-5: [(85.0, 3), (85.5, 5), (86.0, 8)],
    3e-5: [(84.0, 2), (86.5, 2), (83.0, 2)],
}


def mrpc_rows() -> list[dict]:
    """The MRPC table as trials rows, one row per (learning rate, seed) as a one-seed-per-trial sweep writes."""
    rows = []
    for method, grid in (("lora", MRPC_LORA), ("full", MRPC_FULL)):
        for lr, seeds in grid.items():
            for seed, (score, epoch) in enumerate(seeds):
                rows.append(
                    trial(task="mrpc", method=method, seed=seed, learning_rate=lr, best_metric=score / 100,
                          best_epoch=epoch, max_train_samples=NAN)
                )  # fmt: skip
    return rows

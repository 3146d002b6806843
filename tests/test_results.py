"""Results tables from trial records: statuses, best metrics, OOM labelling, and rows kept across a resume."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from lora_sweep.results import rows as results

LORA = {"study": "m/sst2/lora-r8", "model": "m", "task": "sst2", "method": "lora", "r": 8, "epochs": 3}


def _rows(*scores):
    return [{"epoch": i + 1, "eval_accuracy": s, "lora_params": 10, "epoch_time_s": 2.0} for i, s in enumerate(scores)]


@pytest.mark.parametrize(
    "record, status",
    [
        (results.TrialRecord("a", LORA, _rows(0.5, 0.6, 0.7), ended=True), "completed"),
        (results.TrialRecord("b", LORA, _rows(0.5), ended=True), "early_stopped"),
        (results.TrialRecord("c", LORA, _rows(0.5), ended=False), "running"),
        (results.TrialRecord("d", LORA, [], ended=False), "pending"),
        (
            results.TrialRecord("e", LORA, [{"epoch": 1, "diverged": True, "reason": "diverged: nan"}], ended=True),
            "diverged",
        ),
        (results.TrialRecord("f", LORA, [], error="RuntimeError: boom", ended=True), "error"),
    ],
)
def test_status(record, status):
    assert results.trial_row(record)["status"] == status


def test_best_metric_epoch_and_defaults():
    row = results.trial_row(results.TrialRecord("a", LORA, _rows(0.5, 0.8, 0.7), ended=True))
    assert (row["best_metric"], row["best_epoch"], row["epochs_run"]) == (0.8, 2, 3)
    assert row["metric"] == "eval_accuracy" and row["train_time_s"] == 6.0
    assert row["learning_rate"] == 5e-4 and row["weight_decay"] == 0.01  # TrialConfig defaults fill the gaps
    empty = results.trial_row(results.TrialRecord("b", LORA, [], error="x", ended=True))
    assert math.isnan(empty["best_metric"])


@pytest.mark.parametrize(
    "error, kind",
    [
        ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", "out_of_memory"),
        ("ValueError: bad", "exception"),
        ("", ""),
    ],
)
def test_out_of_memory_is_labelled_with_its_configuration(error, kind):
    row = results.trial_row(results.TrialRecord("a", {**LORA, "batch_size": 512}, [], error=error, ended=True))
    assert row["error_kind"] == kind and row["batch_size"] == 512


def test_tables_keep_previous_rows_across_a_resume(tmp_path):
    first = [results.TrialRecord("a", LORA, _rows(0.5, 0.6, 0.7), ended=True)]
    results.write_tables(first, tmp_path)
    previous = results.read_tables(tmp_path)
    later = [results.TrialRecord("b", LORA, _rows(0.4), ended=True)]
    trials, epochs = results.write_tables(later, tmp_path, previous=previous)
    assert sorted(trials["trial_id"]) == ["a", "b"] and len(epochs) == 4
    on_disk = pd.read_parquet(tmp_path / "trials.parquet")
    assert sorted(on_disk["trial_id"]) == ["a", "b"]
    assert not list(tmp_path.glob(".*.tmp")), "no temporary files left behind"

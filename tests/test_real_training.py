"""End to end on real data: the packaged MiniLM (all-MiniLM-L6-v2) fine-tuned on GLUE SST-2 and MRPC.

Slow (minutes on two CPU cores); CI runs them. Thresholds sit a little below accuracies measured on such a
machine (the reference runs in DESIGN.md), so a broken optimiser, schedule, LoRA layer or data path fails.
"""

from __future__ import annotations

import time

import pytest

from lora_sweep.trial import train
from lora_sweep.trial.config import TrialConfig

pytestmark = pytest.mark.slow

# SST-2 dev is balanced (444 positive of 872); MRPC dev is 68.4% "equivalent" (279 of 408).
MRPC_MAJORITY = 279 / 408


def _config(glue_dir, **changes) -> TrialConfig:
    settings = dict(
        model="minilm",
        task="sst2",
        glue_dir=str(glue_dir),
        batch_size=32,
        max_length=128,
        max_train_samples=4000,
        epochs=1,
        seed=0,
        data_seed=0,
    )
    settings.update(changes)
    return TrialConfig(**settings)


@pytest.fixture(scope="module")
def sst2_4k(glue_dir):
    """4,000 SST-2 training sentences and the full dev set, tokenized once for both SST-2 tests."""
    return train.prepare_data(_config(glue_dir))


def _run(cfg: TrialConfig, prepared=None) -> tuple[list[dict], train.TrialResult, float]:
    rows: list[dict] = []
    started = time.perf_counter()
    result = train.train_and_evaluate(cfg, rows.append, prepared=prepared)
    seconds = time.perf_counter() - started
    for row in rows:
        print(
            f"{cfg.task} {cfg.method} epoch {row['epoch']}: eval_accuracy {row['eval_accuracy']:.4f}, "
            f"train_loss {row['train_loss']:.4f}, {row['epoch_time_s']:.0f} s"
        )
    print(f"{cfg.task} {cfg.method}: {seconds:.0f} s in all")
    assert result.status == "completed", result.reason
    assert len(rows) == cfg.epochs
    return rows, result, seconds


def test_sst2_lora_one_epoch(glue_dir, sst2_4k):
    cfg = _config(glue_dir, method="lora", r=8, alpha=16.0, target_modules="query,value", learning_rate=1e-3)
    rows, _, _ = _run(cfg, sst2_4k)
    assert len(sst2_4k.train.labels) == 4000 and len(sst2_4k.dev.labels) == 872
    # r=8 on query and value of 6 layers, 384 wide: 2 * 8 * 384 * 2 * 6 (the paper's formula, Sec. 7.1).
    assert rows[0]["lora_params"] == 73_728
    assert rows[0]["trainable_params"] == 73_728 + rows[0]["head_params"]
    assert rows[0]["eval_accuracy"] >= 0.77  # measured: 0.795 (DESIGN.md reference: 0.792)


def test_mrpc_beats_majority_baseline(glue_dir):
    # All 3,668 training pairs, one epoch of full fine-tuning at a brisk rate: the cheapest setting measured
    # to clear the majority class reliably (LoRA at 2e-3 on 2,000 pairs stayed at 0.701 after 2 epochs).
    cfg = _config(glue_dir, task="mrpc", method="full", learning_rate=1e-4, batch_size=16, max_train_samples=None)
    rows, _, _ = _run(cfg)
    assert "eval_f1" in rows[0]
    assert rows[0]["eval_accuracy"] > MRPC_MAJORITY + 0.02

"""Weights train in float32 whatever dtype a checkpoint was stored in (transformers 5 keeps the stored dtype)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from lora_sweep.trial import steps, train
from lora_sweep.trial.config import TrialConfig
from tests.trial_fixtures import make_tiny_bert


@pytest.fixture(scope="module", params=["dtype_in_config", "no_dtype_in_config"])
def half_bert_dir(request, tmp_path_factory) -> Path:
    """A tiny BERT saved with .half().save_pretrained(), with and without `dtype` in its config.json."""
    directory = tmp_path_factory.mktemp(f"half-bert-{request.param}")
    make_tiny_bert(directory, dtype=torch.float16)
    saved = json.loads((directory / "config.json").read_text())
    assert saved.get("dtype") == "float16"
    if request.param == "no_dtype_in_config":
        saved.pop("dtype")
        (directory / "config.json").write_text(json.dumps(saved))
    return directory


@pytest.mark.parametrize("method", ["lora", "full"])
def test_float16_checkpoint_trains_float32(half_bert_dir, tiny_glue_dir, method, monkeypatch):
    built = []
    original = steps.make_optimizer

    def keep(model, cfg, device):
        optimizer = original(model, cfg, device)
        built.append((model, optimizer))
        return optimizer

    monkeypatch.setattr(steps, "make_optimizer", keep)
    cfg = TrialConfig(
        model=str(half_bert_dir),
        glue_dir=str(tiny_glue_dir),
        task="sst2",
        method=method,
        r=4 if method == "lora" else None,
        learning_rate=1e-3 if method == "lora" else 1e-4,
        epochs=1,
        batch_size=16,
        max_length=32,
        max_train_samples=48,
        device="cpu",
    )
    rows: list[dict] = []
    train.train_and_evaluate(cfg, rows.append)
    ((model, optimizer),) = built
    dtypes = {p.dtype for p in model.parameters()}
    assert dtypes == {torch.float32}, dtypes
    moments = [t for state in optimizer.state.values() for k, t in state.items() if k in ("exp_avg", "exp_avg_sq")]
    assert moments and {t.dtype for t in moments} == {torch.float32}
    assert math.isfinite(rows[0]["train_loss"]), rows[0]

"""--init-adapter is strict and recorded: a mismatch is a one-line error (exit 2 from the trial CLI), a head of
another label count is skipped with one line on stderr, and every row says which adapter the trial started from."""

from __future__ import annotations

from pathlib import Path

import pytest

from lora_sweep.results import rows as results
from lora_sweep.trial import lora, models, train
from lora_sweep.trial.config import TrialConfig
from tests.test_trial_cli import _small, cli

TARGETS = ("query", "value")
BERT_HEAD = models.head_modules("bert")


def _adapter(model_dir: Path, out: Path, num_labels: int = 2, r: int = 4, heads=BERT_HEAD) -> Path:
    model = models.load_model(str(model_dir), num_labels, seed=3)
    lora.inject_lora(model, r, 8.0, 0.0, TARGETS, BERT_HEAD)
    return lora.save_adapter(model, out, TARGETS, heads)


def _cfg(model_dir, glue_dir, **changes) -> TrialConfig:
    values = dict(
        model=str(model_dir),
        glue_dir=str(glue_dir),
        method="lora",
        r=4,
        alpha=8.0,
        target_modules=TARGETS,
        epochs=1,
        batch_size=16,
        max_length=32,
        max_train_samples=16,
        max_eval_samples=16,
        device="cpu",
    )
    return TrialConfig(**{**values, **changes})


def test_rows_and_trial_table_name_the_adapter(tiny_model_dir, tiny_glue_dir, tmp_path):
    adapter = _adapter(tiny_model_dir, tmp_path / "sst2-r4")
    rows: list[dict] = []
    train.train_and_evaluate(_cfg(tiny_model_dir, tiny_glue_dir, init_adapter=str(adapter)), rows.append)
    assert rows[0]["warm_start"] == f"{adapter} (LoRA and head)"
    record = results.TrialRecord("t1", {"study": "s", "task": "sst2", "epochs": 1}, rows, ended=True)
    assert results.trial_row(record)["warm_start"] == f"{adapter} (LoRA and head)"
    cold: list[dict] = []
    train.train_and_evaluate(_cfg(tiny_model_dir, tiny_glue_dir), cold.append)
    assert cold[0]["warm_start"] == ""


def test_mnli_head_into_two_labels_is_skipped_with_one_line(tiny_model_dir, tiny_glue_dir, tmp_path, capfd):
    """Paper Sec. 5.2: MRPC starts from the MNLI adapter (3 labels): its output layer starts fresh, said once."""
    adapter = _adapter(tiny_model_dir, tmp_path / "mnli-r4", num_labels=3)
    rows: list[dict] = []
    train.train_and_evaluate(_cfg(tiny_model_dir, tiny_glue_dir, init_adapter=str(adapter)), rows.append)
    note = rows[0]["warm_start"]
    assert note.startswith(str(adapter)) and "classifier.weight" in note and "classifier.bias" in note
    said = [line for line in capfd.readouterr().err.splitlines() if line.startswith("warm start from")]
    assert len(said) == 1 and "classifier.weight" in said[0]


def test_adapter_without_the_pooler_is_said(tiny_model_dir, tiny_glue_dir, tmp_path, capfd):
    """An adapter saved with `classifier` alone (as before the pooler joined BERT's head): the note says so."""
    adapter = _adapter(tiny_model_dir, tmp_path / "classifier-only", heads=("classifier",))
    rows: list[dict] = []
    train.train_and_evaluate(_cfg(tiny_model_dir, tiny_glue_dir, init_adapter=str(adapter)), rows.append)
    assert rows[0]["warm_start"] == f"{adapter} (LoRA; head skipped: bert.pooler.dense.weight, bert.pooler.dense.bias)"
    said = [line for line in capfd.readouterr().err.splitlines() if line.startswith("warm start from")]
    assert len(said) == 1 and "not in the adapter: bert.pooler.dense.weight" in said[0]


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(r=8), "has rank r 4, this trial 8"),
        (dict(alpha=32.0), "has alpha 8.0, this trial 32.0"),
        (dict(target_modules=("query", "key")), "adapts query,value, this trial key,query"),
    ],
)
def test_mismatched_adapter_is_refused(tiny_model_dir, tiny_glue_dir, tmp_path, changes, message):
    adapter = _adapter(tiny_model_dir, tmp_path / "r4")
    cfg = _cfg(tiny_model_dir, tiny_glue_dir, init_adapter=str(adapter), **changes)
    with pytest.raises(lora.AdapterError, match=message):
        train.train_and_evaluate(cfg, lambda row: None)


def test_cli_exits_2_for_another_rank(tiny_model_dir, tiny_glue_dir, tmp_path):
    adapter = _adapter(tiny_model_dir, tmp_path / "r4")
    args = [*_small(tiny_model_dir), "--target-modules", "query,value", "--alpha", "8", "--init-adapter", str(adapter)]
    proc = cli(*args, "--r", "8", glue_dir=tiny_glue_dir)
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: init_adapter: the adapter in {adapter} has rank r 4, this trial 8; "
        "train with the adapter's setting or start cold"
    ]
    assert "Traceback" not in proc.stderr and proc.stdout == ""

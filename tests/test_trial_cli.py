"""`python -m lora_sweep.train` as a user runs it: JSON lines on stdout, one-line errors with exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, glue_dir: Path | str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("GLUE_DIR", None)
    if glue_dir is not None:
        env["GLUE_DIR"] = str(glue_dir)
    return subprocess.run(
        [sys.executable, "-m", "lora_sweep.train", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _small(model_dir: Path) -> list[str]:
    return [
        "--model",
        str(model_dir),
        "--max-train-samples",
        "32",
        "--max-eval-samples",
        "16",
        "--batch-size",
        "16",
        "--max-length",
        "32",
        "--device",
        "cpu",
    ]


@pytest.mark.parametrize(("task", "method"), [("sst2", "lora"), ("mrpc", "full")])
def test_prints_one_json_line_per_epoch_and_nothing_else(tiny_model_dir, tiny_glue_dir, task, method):
    # The tiny model is saved without a classifier head, so transformers prints its load report: not on stdout.
    proc = cli(
        *_small(tiny_model_dir),
        "--task",
        task,
        "--method",
        method,
        "--epochs",
        "2",
        "--target-modules",
        "query,key",
        glue_dir=tiny_glue_dir,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2, proc.stdout
    rows = [json.loads(line) for line in lines]
    assert [row["epoch"] for row in rows] == [1, 2]
    for row in rows:
        assert {"eval_accuracy", "eval_loss", "train_loss", "lr", "trainable_params"} <= set(row)
        assert ("eval_f1" in row) == (task == "mrpc")
    if method == "lora":
        # --target-modules query,key reached the model: r=8 on two 32-wide matrices in 2 layers.
        assert rows[0]["lora_params"] == 2 * 8 * 32 * 2 * 2
    else:
        assert rows[0]["trainable_params"] == rows[0]["total_params"]
    summary = json.loads(proc.stderr.strip().splitlines()[-1])  # the trial's summary goes to stderr
    # Progress within each epoch on stderr (not a terminal: plain lines), the last step of each epoch included:
    # 32 examples at batch 16 are 2 steps. No transformers LOAD REPORT block for the head every load adds.
    for epoch in (1, 2):
        assert f"epoch {epoch}: 2/2 steps (100%), " in proc.stderr, proc.stderr
    assert "LOAD REPORT" not in proc.stderr and "\x1b" not in proc.stderr, proc.stderr
    assert summary["status"] == "completed" and summary["best_epoch"] in (1, 2)
    # The closing line's adapter_bytes is the epoch rows' (the trainable tensors), not null; saved_bytes is what
    # --save-adapter wrote (nothing here).
    assert summary["adapter_bytes"] == rows[-1]["adapter_bytes"] > 0 and summary["saved_bytes"] is None


@pytest.mark.parametrize(
    ("flags", "names"),
    [
        (["--r", "0"], "r"),
        (["--r", "2.5"], "r"),
        (["--task", "foo"], "task"),
        (["--method", "xyz"], "method"),
        (["--dropout", "1.5"], "dropout"),
        (["--learning-rate", "-1"], "learning_rate"),
        (["--epochs", "0"], "epochs"),
    ],
)
def test_bad_flag_value_exits_2_with_one_error_line(tiny_glue_dir, flags, names):
    proc = cli(*flags, glue_dir=tiny_glue_dir, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: {names}:"), lines[0]


def test_unknown_method_suggests(tiny_glue_dir):
    proc = cli("--method", "lorra", glue_dir=tiny_glue_dir, timeout=120)
    assert proc.returncode == 2
    assert "did you mean 'lora'" in proc.stderr


@pytest.mark.parametrize(("task", "missing"), [("sst2", "SST-2/train.tsv"), ("mrpc", "MRPC/dev.tsv")])
def test_glue_dir_without_task_files_exits_2_naming_the_file(tiny_model_dir, tiny_glue_dir, tmp_path, task, missing):
    glue = tmp_path / "glue"
    for folder, name in (("SST-2", "dev.tsv"), ("MRPC", "train.tsv")):  # one split of each task only
        (glue / folder).mkdir(parents=True, exist_ok=True)
        (glue / folder / name).write_bytes((tiny_glue_dir / folder / name).read_bytes())
    proc = cli(*_small(tiny_model_dir), "--task", task, glue_dir=glue, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and missing in lines[0] and str(glue) in lines[0]


def test_glue_dir_flag_overrides_environment(tiny_model_dir, tiny_glue_dir, tmp_path):
    proc = cli(
        *_small(tiny_model_dir), "--glue-dir", str(tmp_path / "nowhere"), "--epochs", "1", glue_dir=tiny_glue_dir
    )
    assert proc.returncode == 2
    assert "nowhere" in proc.stderr and "SST-2/train.tsv" in proc.stderr


def test_help_lists_every_setting():
    proc = cli("--help", timeout=120)
    assert proc.returncode == 0
    for flag in ("--r", "--alpha", "--target-modules", "--max-train-samples", "--save-adapter", "--init-adapter"):
        assert flag in proc.stdout
    text = " ".join(proc.stdout.split())  # argparse wraps lines
    # Choices and per-method defaults, not just flag names.
    assert "one of full, lora, head, bitfit" in text
    assert "default per method: full 5e-05, lora 0.0005, head 0.001, bitfit 0.001" in text
    assert "GLUE task: cola, sst2, mrpc" in text
    assert "auto (cuda when present, else cpu), cpu, cuda or cuda:N" in text


def test_every_setting_has_a_meaning():
    from dataclasses import fields

    from lora_sweep.cli.trial_help import MEANING
    from lora_sweep.trial.config import TrialConfig

    names = {f.name for f in fields(TrialConfig)} - {"extra"}
    assert names == set(MEANING), names ^ set(MEANING)

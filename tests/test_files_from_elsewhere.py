"""Files from elsewhere are one-line errors (exit 2, nothing written), never tracebacks: `lora-sweep evaluate` on a
record whose model is an int or null, an adapter_config.json that is a list, a safetensors file with a bad header;
it does not write to a cache_dir its record names; `lora-sweep train` on a GLUE file with a line of more than
131,072 characters."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lora_sweep.results.adapters import SETTINGS_FILE
from lora_sweep.trial import lora
from tests.test_trial_cli import _small, cli
from tests.test_warm_start import _adapter

REPO = Path(__file__).resolve().parents[1]


def _export(model_dir: Path, out: Path, **settings) -> Path:
    """An exported LoRA adapter as a sweep leaves it: PEFT's files and the trial's record."""
    _adapter(model_dir, out)
    record = {
        "model": str(model_dir),
        "task": "sst2",
        "method": "lora",
        "r": 4,
        "alpha": 8.0,
        "target_modules": ["query", "value"],
        "max_length": 32,
        "max_eval_samples": 16,
    }
    (out / SETTINGS_FILE).write_text(json.dumps({"settings": {**record, **settings}, "epoch": 1, "reported": {}}))
    return out


def _evaluate(folder: Path, glue: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "lora_sweep.evaluate", str(folder), "--glue-dir", str(glue), "--device", "cpu"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _bad_header(folder: Path) -> None:
    (folder / lora.ADAPTER_WEIGHTS).write_bytes(b"\xff" * 8 + b"{not json" + b"\x00" * 32)


CASES = {
    "model an int": (dict(model=5), None, "settings.model is 5"),
    "model null": (dict(model=None), None, "settings.model is None"),
    "adapter_config.json a list": ({}, lambda f: (f / lora.ADAPTER_CONFIG).write_text("[1]"), "cannot load"),
    "a bad safetensors header": ({}, _bad_header, "cannot load the exported weights"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_evaluate_refuses_a_bad_export_in_one_line(tiny_model_dir, tiny_glue_dir, tmp_path, case):
    settings, spoil, expected = CASES[case]
    folder = _export(tiny_model_dir, tmp_path / "export", **settings)
    if spoil:
        spoil(folder)
    work = tmp_path / "work"
    work.mkdir()
    done = _evaluate(folder, tiny_glue_dir, work)
    lines = (done.stdout + done.stderr).strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert done.returncode == 2, (done.stdout + done.stderr)[-3000:]
    assert len(errors) == 1 and expected in errors[0] and "Traceback" not in done.stderr, lines[-5:]
    assert not any(work.iterdir())


def test_evaluate_does_not_write_to_a_cache_dir_its_record_names(tiny_model_dir, tiny_glue_dir, tmp_path):
    cache = tmp_path / "someone-elses-cache"
    folder = _export(tiny_model_dir, tmp_path / "export", cache_dir=str(cache))
    done = _evaluate(folder, tiny_glue_dir, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "measured" in json.loads(done.stdout.splitlines()[-1])
    assert not cache.exists()


def test_train_refuses_a_glue_line_past_the_csv_limit(tiny_model_dir, tiny_glue_dir, tmp_path):
    glue = tmp_path / "glue"
    shutil.copytree(tiny_glue_dir, glue)
    train = glue / "SST-2" / "train.tsv"
    lines = train.read_text().splitlines()
    train.write_text("\n".join([lines[0], "a" * 140_000 + "\t1", *lines[1:]]) + "\n")
    proc = cli(*_small(tiny_model_dir), glue_dir=glue)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert len(errors) == 1 and "train.tsv, line 2: field larger than field limit" in errors[0], errors
    assert "Traceback" not in proc.stderr and proc.stdout == ""

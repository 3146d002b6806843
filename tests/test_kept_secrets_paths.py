"""No secrets in what a sweep keeps or prints; no absolute paths of this machine in its results unless asked."""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lora_sweep.cli import run
from lora_sweep.spec import redact
from lora_sweep.spec.spec import load_spec
from tests.sweep_support import REPO, cli_env, tiny_world, write_spec

SMOKE = REPO / "sweeps" / "smoke.yaml"
SECRET = "wJalrXUtnFEMI-K7MDENG"
# Ray's own files, and resume_state.tar, a copy of Ray's experiment state (lora_sweep/state_snapshot.py).
RAY_FILES = (
    "trial_*",
    "experiment_state-*",
    "basic-variant-state-*",
    "*.pkl",
    ".validate_storage_marker",
    "resume_state.tar",
)


@pytest.mark.parametrize(
    "text, kept",
    [
        (
            f"s3://bucket/sweeps?secret_key={SECRET}&region=eu-west-1",
            "s3://bucket/sweeps?secret_key=***&region=eu-west-1",
        ),
        (
            f"s3://bucket/x?access_key=AKIA1&AWS_SESSION_TOKEN={SECRET}",
            "s3://bucket/x?access_key=***&AWS_SESSION_TOKEN=***",
        ),
        (f"see gs://b/p?token={SECRET}#frag", "see gs://b/p?token=***#frag"),
        (f"https://alice:{SECRET}@host.example/path", "https://***@host.example/path"),
        (f"ray://admin:{SECRET}@head:10001 and ?password={SECRET}", "ray://***@head:10001 and ?password=***"),
        ("s3://bucket/plain/path?region=us-east-1", "s3://bucket/plain/path?region=us-east-1"),
        ("/home/me/glue/SST-2/train.tsv", "/home/me/glue/SST-2/train.tsv"),
    ],
)
def test_redact(text, kept):
    assert redact.redact(text) == kept


def test_the_plan_and_errors_never_print_a_secret(capsys, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    uri = f"s3://bucket/sweeps?secret_key={SECRET}"
    assert run.main([str(SMOKE), "--dry-run", "--storage", uri]) == 2  # credentials belong in the environment
    assert run.main([str(SMOKE), "--dry-run", "--set", f"storage={uri}", "--set", "name=a/b"]) == 2
    assert run.main([str(SMOKE), "--dry-run", "--set", f"ray.dashboard_host=https://u:{SECRET}@x"]) == 2  # not a host
    assert run.main([str(SMOKE), "--dry-run", "--set", f"storage=['{uri}']"]) == 2  # the error quotes the value
    out, err = capsys.readouterr()
    assert "secret_key=***" in err and "holds credentials" in err
    assert SECRET not in out + err


def test_spec_yaml_and_sweep_json_keep_no_secret(tmp_path):
    from lora_sweep.sweep import driver as sweep

    spec = load_spec(SMOKE, (f"storage=s3://bucket/x?secret_key={SECRET}",))
    sweep.write_run_info(spec, tmp_path, f"https://u:{SECRET}@host/spec.yaml")
    kept = (tmp_path / "spec.yaml").read_text() + (tmp_path / "sweep.json").read_text()
    assert SECRET not in kept and "secret_key=***" in kept
    assert yaml.safe_load((tmp_path / "spec.yaml").read_text())["storage"] == "s3://bucket/x?secret_key=***"


def _machine_paths(tmp_path: Path, home: Path) -> set[str]:
    found = {str(tmp_path), os.path.realpath(tmp_path), str(home), os.getcwd(), os.path.expanduser("~")}
    return {p for p in found if len(p) > 1}


@pytest.mark.slow
@pytest.mark.parametrize("record_paths", [False, True], ids=["default", "record-paths"])
def test_results_hold_no_absolute_path_of_this_machine(tmp_path, record_paths):
    """A real small sweep run from tmp_path, model and GLUE data under it, HOME beside them: every file lora_sweep
    writes (tables, spec, sweep.json, versions, report) holds $GLUE_DIR/..., ./..., ~/... instead of the paths."""
    model, glue = tiny_world(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    spec = write_spec(
        tmp_path / "paths.yaml",
        model,
        variants=[{"method": "lora", "r": 2, "learning_rate": 5e-3}],
        train={"epochs": 1, "batch_size": 16, "max_length": 32},
    )
    extra = ["--record-paths"] if record_paths else []
    env = {**cli_env(glue), "HOME": str(home)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lora_sweep.run",
            str(spec),
            "--storage",
            "store",
            "--set",
            "ray.dashboard_port=0",
            *extra,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=580,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = tmp_path / "store" / "tiny"
    ours = [
        p for p in out.iterdir() if p.is_file() and not any(fnmatch.fnmatch(p.name, pattern) for pattern in RAY_FILES)
    ]
    assert {"trials.csv", "epochs.csv", "spec.yaml", "sweep.json", "report.html"} <= {p.name for p in ours}
    leaks = {
        p.name: path for p in ours for path in _machine_paths(tmp_path, home) if path in p.read_text(errors="replace")
    }
    if record_paths:
        assert "trials.csv" in leaks  # asked for: the model's absolute path is kept
        return
    assert leaks == {}, leaks
    trials = (out / "trials.csv").read_text()
    assert "./tiny-bert/sst2/lora-r2" in trials
    assert json.loads((out / "sweep.json").read_text())["spec_file"] == "./paths.yaml"

"""The side-by-side benchmark of the sweep machinery (lora_sweep/bench_scale.py), at a size CI affords."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.sweep_support import REPO, cli_env

pytestmark = pytest.mark.slow


def test_bench_scale_runs_both_drivers_to_the_end_and_prints_the_ratio(tmp_path):
    """12 stand-in configurations through lora_sweep and through a plain Tuner: both finish every trial, and the
    figures (wall times, their ratio, driver CPU and peak memory) are printed and written as JSON."""
    out = tmp_path / "bench.json"
    cmd = [sys.executable, "-m", "benchmarks.scale", "--trials", "12", "--cpus", "4", "--json", str(out)]
    done = subprocess.run(cmd, cwd=REPO, env=cli_env(REPO), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (row,) = json.loads(out.read_text())
    for side in ("lora_sweep", "plain_tuner"):
        assert row[side]["finished"] == 12, (side, row)
        assert row[side]["wall_s"] > 0 and row[side]["cpu_s"] > 0 and row[side]["peak_rss_mb"] > 100
    assert row["ratio"] == pytest.approx(row["lora_sweep"]["wall_s"] / row["plain_tuner"]["wall_s"])
    assert "12 trials: lora_sweep" in done.stdout and "trials finished 12 vs 12" in done.stdout
    print(done.stdout.strip().splitlines()[-1])

"""Scratch checkpoint folders of killed trials (lora_sweep_ckpt_<pid>_*) are removed at the next trial start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from lora_sweep.sweep import scratch

CHILD = """
import sys, tempfile, time
from lora_sweep.sweep import scratch
print(tempfile.mkdtemp(prefix=scratch.prefix(), dir=sys.argv[1]), flush=True)
time.sleep(600)
"""


# Any shutil.rmtree outside the test's tmp_path raises before it runs (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("deletions_only_in_tmp")


def _child_folder(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
    return child, child.stdout.readline().strip()


def test_a_killed_trials_folder_is_removed_a_live_ones_kept(tmp_path):
    killed, killed_folder = _child_folder(tmp_path)
    live, live_folder = _child_folder(tmp_path)
    try:
        (tmp_path / os.path.basename(killed_folder) / "trial_state.pt").write_text("x")
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=60)
        own = tmp_path / f"{scratch.prefix()}abc"
        own.mkdir()
        other = tmp_path / "lora_sweep_ckpt_notapid_x"
        other.mkdir()
        removed = scratch.remove_stale(tmp_path)
        assert [str(p) for p in removed] == [killed_folder]
        assert not os.path.exists(killed_folder)
        assert os.path.isdir(live_folder) and own.is_dir() and other.is_dir()
    finally:
        live.kill()
        live.wait(timeout=60)
        killed.stdout.close()
        live.stdout.close()


def test_a_killed_not_yet_reaped_trial_counts_as_gone(tmp_path):
    zombie, folder = _child_folder(tmp_path)
    try:
        zombie.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 60
        while scratch.process_alive(zombie.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert scratch.remove_stale(tmp_path) == [tmp_path / os.path.basename(folder)]
    finally:
        zombie.wait(timeout=60)
        zombie.stdout.close()


def test_trial_checkpoints_use_the_pid_prefix(monkeypatch, tmp_path):
    import torch

    from lora_sweep.sweep import trial_body as trial

    seen = []
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the scratch folder is removed after the report
    monkeypatch.setattr(trial.tune, "report", lambda metrics, checkpoint=None: seen.append(checkpoint.path))
    monkeypatch.setattr(trial.tune, "get_checkpoint", lambda: None)
    states = trial.SeedStates([0], last_epoch=3)
    states.hook(0).save({"epoch": 1, "model": {"w": torch.ones(2)}, "optimizer": {}, "best": 0.5, "best_epoch": 1})
    states.report({"epoch": 1})
    assert os.path.basename(seen[0]).startswith(f"lora_sweep_ckpt_{os.getpid()}_"), seen

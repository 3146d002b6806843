"""A results folder is relocatable: moved (`mv`) or copied (`cp -a`) after an interrupt, `--resume --storage NEW`
continues in NEW and writes nothing at the old place (through the real CLI, a real local Ray and the stand-in
trial). Ray's own Tuner.restore takes the new path; the sweep's callbacks and Fair ASHA's rung file, restored
from Ray's pickle, must follow it.
"""

from __future__ import annotations

import hashlib
import shutil
import signal
import subprocess
import time

import pandas as pd
import pytest

from tests.standin import cli as _cli
from tests.standin import spec_file as _spec

pytestmark = pytest.mark.slow

ASHA = {"type": "asha", "max_epochs": 3, "grace_period": 1, "reduction_factor": 3}


def _files(root) -> dict[str, str]:
    """Every file under root -> a hash of its bytes (what a resume must leave alone)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def _interrupted(tmp_path, store):
    spec = _spec(tmp_path / "s.yaml", [1e-4, 3e-4], epochs=3, seeds=1, scheduler=ASHA)
    out = store / "standin"
    with open(tmp_path / "first.log", "w") as log:
        driver = _cli([spec, "--storage", store], epoch_s=1.5, log=log)
        deadline = time.time() + 240
        while time.time() < deadline and driver.poll() is None and not (out / "epochs.csv").exists():
            time.sleep(0.2)
        driver.send_signal(signal.SIGINT)
        code = driver.wait(timeout=120)
    assert code == 130, (tmp_path / "first.log").read_text()[-3000:]
    return spec


@pytest.mark.parametrize("how", ["mv", "cp"])
def test_a_moved_or_copied_results_folder_resumes_in_its_new_place(tmp_path, how):
    store, moved = tmp_path / "store", tmp_path / "store2"
    spec = _interrupted(tmp_path, store)
    if how == "mv":
        store.rename(moved)
    else:
        subprocess.run(["cp", "-a", str(store), str(moved)], check=True)
    before = _files(store) if how == "cp" else None

    done = _cli([spec, "--storage", moved, "--resume"], epoch_s=0.05)
    printed = done.stdout + done.stderr
    assert done.returncode == 0, printed[-3000:]
    assert "interrupted" not in printed.split("results:")[-1], printed[-2000:]
    if how == "mv":
        assert not store.exists(), sorted(str(p) for p in store.rglob("*"))[:20]
    else:
        assert _files(store) == before  # the original is left as it was, byte for byte
    trials = pd.read_csv(moved / "standin" / "trials.csv")
    epochs = pd.read_csv(moved / "standin" / "epochs.csv")
    assert (trials["status"] == "completed").all(), trials[["trial_id", "status"]]
    assert len(epochs) == 2 * 3 and not epochs.duplicated(["trial_id", "seed", "epoch"]).any()
    assert (moved / "standin" / "fair_asha.state").is_file()
    shutil.rmtree(moved)

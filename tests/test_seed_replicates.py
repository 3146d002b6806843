"""Seeds are replicates: early stopping keeps or stops all seeds of a configuration together, on their median.

The stand-in trial (tests/standin.py) gives each seed noise of +-0.05, more than the 0.02 between the two best
learning rates: raced as rivals (each seed its own trial, as before), the best configuration's weaker seeds were
stopped by its stronger one. Real CLI, real Ray, Fair ASHA with reduction factor 3.
"""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from tests.standin import cli, spec_file

pytestmark = pytest.mark.slow

ASHA = {"type": "asha", "max_epochs": 3, "grace_period": 1, "reduction_factor": 3}


def test_seeds_of_a_configuration_continue_or_stop_together(tmp_path):
    # Study lora-r4: three learning rates x 3 seeds. Study lora-r8: one configuration x 3 seeds, never pruned.
    spec = spec_file(tmp_path / "s.yaml", [1e-4, 3e-4, 1e-3], epochs=3, seeds=3, scheduler=ASHA)
    raw = yaml.safe_load(spec.read_text())
    raw["variants"].append({"method": "lora", "r": 8, "learning_rate": 1e-3})
    spec.write_text(yaml.safe_dump(raw))
    done = cli([spec, "--storage", tmp_path / "store"], epoch_s=0.05)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    trials = pd.read_csv(tmp_path / "store" / "standin" / "trials.csv")
    epochs = {(r, lr): sorted(group["epochs_run"]) for (r, lr), group in trials.groupby(["r", "learning_rate"])}
    assert epochs == {
        (4, 1e-4): [3, 3, 3],
        (4, 3e-4): [3, 3, 3],  # the best configuration keeps all its seeds
        (4, 1e-3): [1, 1, 1],  # a poor one is stopped with all its seeds
        (8, 1e-3): [3, 3, 3],  # a study of one configuration runs to the end, all seeds
    }

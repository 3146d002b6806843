"""RayStateHook: which epochs become Ray checkpoints (tune.report stubbed; the real Ray runs in test_sweep)."""

from __future__ import annotations

import os

import torch

from lora_sweep import trial


def test_the_last_epoch_checkpoint_is_a_marker_without_weights(monkeypatch):
    reported = []

    def fake_report(metrics, checkpoint=None):
        files = None
        if checkpoint is not None:  # the folder is temporary: read it while report runs, as Ray does
            with checkpoint.as_directory() as folder:
                files = sorted(os.listdir(folder))
                state = trial.load_checkpoint(folder)
                assert state["epoch"] == metrics["epoch"]
        reported.append((metrics["epoch"], files, sorted(state) if files else None))

    monkeypatch.setattr(trial.tune, "report", fake_report)
    hook = trial.RayStateHook(last_epoch=3)
    for epoch in (1, 2, 3):
        hook.save({"epoch": epoch, "model": {"w": torch.ones(2)}, "optimizer": {}, "best": 0.5, "best_epoch": 1})
        hook.report({"epoch": epoch})
    hook.report({"epoch": 4})  # a report with no state saved since carries no checkpoint
    full = ["best", "best_epoch", "epoch", "model", "optimizer"]
    both = sorted([trial.STATE_FILE, trial.WEIGHTS_FILE])
    assert reported == [
        (1, both, full),
        (2, both, full),
        (3, [trial.STATE_FILE], ["best", "best_epoch", "epoch"]),
        (4, None, None),
    ]

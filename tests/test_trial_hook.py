"""RayStateHook: which epochs become Ray checkpoints (tune.report stubbed; the real Ray runs in test_sweep)."""

from __future__ import annotations

import os

import torch

from lora_sweep import trial


def test_every_epoch_but_the_last_is_checkpointed(monkeypatch):
    reported = []

    def fake_report(metrics, checkpoint=None):
        files = None
        if checkpoint is not None:  # the folder is temporary: read it while report runs, as Ray does
            with checkpoint.as_directory() as folder:
                files = sorted(os.listdir(folder))
                epoch = torch.load(os.path.join(folder, trial.STATE_FILE), weights_only=False)["epoch"]
                assert epoch == metrics["epoch"]
        reported.append((metrics["epoch"], files))

    monkeypatch.setattr(trial.tune, "report", fake_report)
    hook = trial.RayStateHook(last_epoch=3)
    for epoch in (1, 2, 3):
        hook.save({"epoch": epoch, "model": {"w": torch.ones(2)}})
        hook.report({"epoch": epoch})
    hook.report({"epoch": 4})  # a report with no state saved since carries no checkpoint
    assert reported == [(1, [trial.STATE_FILE]), (2, [trial.STATE_FILE]), (3, None), (4, None)]

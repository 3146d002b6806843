"""SeedStates: which epochs become Ray checkpoints, one folder per seed (tune.report stubbed; the real Ray runs in
test_sweep and test_interrupt_resume), and each seed restoring its own state."""

from __future__ import annotations

import os

import torch

from lora_sweep.sweep import trial_body as trial


def test_the_last_epoch_checkpoint_is_a_marker_without_weights(monkeypatch):
    reported = []

    def fake_report(metrics, checkpoint=None):
        files, state = None, None
        if checkpoint is not None:  # the folder is temporary: read it while report runs, as Ray does
            with checkpoint.as_directory() as folder:
                files = {s: sorted(os.listdir(os.path.join(folder, s))) for s in sorted(os.listdir(folder))}
                state = trial.load_checkpoint(os.path.join(folder, trial.SEED_FOLDER.format(1)))
                assert state["epoch"] == metrics["epoch"]
        reported.append((metrics["epoch"], files, sorted(state) if state else None))

    monkeypatch.setattr(trial.tune, "report", fake_report)
    monkeypatch.setattr(trial.tune, "get_checkpoint", lambda: None)
    states = trial.SeedStates([0, 1], last_epoch=3)
    for epoch in (1, 2, 3):
        for seed in (0, 1):
            states.hook(seed).save(
                {"epoch": epoch, "model": {"w": torch.ones(2)}, "optimizer": {}, "best": 0.5, "best_epoch": 1}
            )
        states.report({"epoch": epoch})
    states.report({"epoch": 4})  # a report with no state saved since carries no checkpoint
    full = ["best", "best_epoch", "epoch", "model", "optimizer"]
    both = sorted([trial.STATE_FILE, trial.WEIGHTS_FILE])
    seeds = [trial.SEED_FOLDER.format(0), trial.SEED_FOLDER.format(1)]
    assert reported == [
        (1, dict.fromkeys(seeds, both), full),
        (2, dict.fromkeys(seeds, both), full),
        (3, dict.fromkeys(seeds, [trial.STATE_FILE]), ["best", "best_epoch", "epoch"]),
        (4, None, None),
    ]


def test_each_seed_restores_its_own_state(monkeypatch, tmp_path):
    for seed in (3, 7):
        (tmp_path / trial.SEED_FOLDER.format(seed)).mkdir()
        state = {"epoch": 2, "best": seed / 10, "best_epoch": 1, "model": {"w": torch.full((2,), float(seed))}}
        trial.write_checkpoint(state, str(tmp_path / trial.SEED_FOLDER.format(seed)))
    monkeypatch.setattr(trial.tune, "get_checkpoint", lambda: trial.tune.Checkpoint.from_directory(str(tmp_path)))
    states = trial.SeedStates([3, 7, 9], last_epoch=4)
    assert states.hook(3).restore()["best"] == 0.3
    assert torch.equal(states.hook(7).restore()["model"]["w"], torch.full((2,), 7.0))
    assert states.hook(9).restore() is None

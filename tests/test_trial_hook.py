"""SeedStates: which epochs become Ray checkpoints, one file per seed (tune.report stubbed; the real Ray runs in
test_sweep), and what a checkpoint may hold."""

from __future__ import annotations

import os

import pytest
import torch

from lora_sweep import trial


def test_the_last_epoch_checkpoint_is_a_marker_without_weights(monkeypatch):
    reported = []

    def fake_report(metrics, checkpoint=None):
        files = None
        if checkpoint is not None:  # the folder is temporary: read it while report runs, as Ray does
            with checkpoint.as_directory() as folder:
                files = sorted(os.listdir(folder))
                state = torch.load(os.path.join(folder, trial.STATE_FILE.format(0)), weights_only=True)
                assert state["epoch"] == metrics["epoch"]
        reported.append((metrics["epoch"], files, sorted(state) if files else None))

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
    files = [trial.STATE_FILE.format(0), trial.STATE_FILE.format(1)]
    assert reported == [
        (1, files, full),
        (2, files, full),
        (3, files, ["best", "best_epoch", "epoch"]),
        (4, None, None),
    ]


def test_each_seed_restores_its_own_state(monkeypatch, tmp_path):
    for seed in (3, 7):
        torch.save({"epoch": 2, "best": seed / 10, "best_epoch": 1}, tmp_path / trial.STATE_FILE.format(seed))
    monkeypatch.setattr(trial.tune, "get_checkpoint", lambda: trial.tune.Checkpoint.from_directory(str(tmp_path)))
    states = trial.SeedStates([3, 7, 9], last_epoch=4)
    assert states.hook(3).restore()["best"] == 0.3
    assert states.hook(7).restore()["best"] == 0.7
    assert states.hook(9).restore() is None


def test_a_checkpoint_carrying_code_is_refused(monkeypatch, tmp_path):
    """A planted checkpoint with a pickled callable must not run: weights_only loading refuses it."""
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    folder = tmp_path / "ckpt"
    folder.mkdir()
    torch.save({"epoch": 1, "x": Payload()}, folder / trial.STATE_FILE.format(0))
    monkeypatch.setattr(trial.tune, "get_checkpoint", lambda: trial.tune.Checkpoint.from_directory(str(folder)))
    with pytest.raises(Exception, match="Weights only load failed|Unsupported global"):
        trial.SeedStates([0], last_epoch=2)
    assert not marker.exists()

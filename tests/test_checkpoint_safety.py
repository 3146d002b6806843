"""Resuming never runs code from a results folder: checkpoints load with torch.load(weights_only=True), weights
come from safetensors, and a checkpoint carrying a pickled callable is refused with one line."""

from __future__ import annotations

import os

import pytest
import torch
from ray import tune

from lora_sweep.sweep import trial_body as trial
from lora_sweep.trial.train import linear_warmup_decay


class Payload:
    """Unpickling this calls os.system: what a planted trial_state.pt could do on --resume."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _states_on(monkeypatch, folder) -> trial.SeedStates:
    """A trial of seed 0 resumed from the checkpoint in folder (its state restored as the trial starts)."""
    monkeypatch.setattr(trial.tune, "get_checkpoint", lambda: tune.Checkpoint.from_directory(str(folder)))
    return trial.SeedStates([0], last_epoch=3)


def test_a_checkpoint_with_a_pickled_callable_is_refused_and_never_run(tmp_path, monkeypatch):
    marker = tmp_path / "payload_ran"
    folder = tmp_path / "checkpoint_000001"
    (folder / trial.SEED_FOLDER.format(0)).mkdir(parents=True)
    state = {"epoch": 1, "best": 0.5, "best_epoch": 1, "x": Payload(marker)}
    torch.save(state, folder / trial.SEED_FOLDER.format(0) / trial.STATE_FILE)
    with pytest.raises(trial.CheckpointRefused) as err:
        _states_on(monkeypatch, folder)
    message = str(err.value)
    assert len(message.splitlines()) == 1 and "refused" in message and "posix.system" in message, message
    assert not marker.exists()


def test_a_real_checkpoint_round_trips_with_weights_only(tmp_path, monkeypatch):
    """Model weights (safetensors), Adam moments and the LambdaLR scheduler all load with weights_only=True."""
    model = torch.nn.Linear(4, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = linear_warmup_decay(optimizer, 2, 10)
    model(torch.ones(3, 4)).sum().backward()
    optimizer.step()
    scheduler.step()
    state = {
        "epoch": 1,
        "model": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "best": 0.75,
        "best_epoch": 1,
    }
    folder = tmp_path / trial.SEED_FOLDER.format(0)
    folder.mkdir()
    trial.write_checkpoint(state, str(folder))
    assert sorted(os.listdir(folder)) == sorted([trial.STATE_FILE, trial.WEIGHTS_FILE])
    assert "model" not in torch.load(folder / trial.STATE_FILE, weights_only=True)
    loaded = _states_on(monkeypatch, tmp_path).hook(0).restore()
    assert sorted(loaded) == sorted(state)
    assert all(torch.equal(loaded["model"][k], v) for k, v in state["model"].items())
    fresh = torch.optim.AdamW(model.parameters(), lr=1e-3)
    fresh.load_state_dict(loaded["optimizer"])
    assert torch.equal(fresh.state_dict()["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])
    linear_warmup_decay(fresh, 2, 10).load_state_dict(loaded["scheduler"])
    assert loaded["scheduler"]["last_epoch"] == 1 and loaded["best"] == 0.75

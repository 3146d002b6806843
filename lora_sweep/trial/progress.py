"""Progress inside an epoch: steps done of the epoch's total, samples per second and time left.

The training loop calls `start` at each epoch and `step` after each optimizer step; `emit` receives a snapshot at
most every `every_s` seconds (and when an epoch's last step is done). `lora-sweep train` draws it on stderr; a sweep
shows it in Ray's status table. The seeds of a configuration train in turn within an epoch, so one EpochProgress
counts the steps of all of them (`seeds`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Snapshot:
    epoch: int
    step: int
    steps: int
    samples_per_s: float
    seconds_left: float | None

    def text(self) -> str:
        """`epoch 2: 120/250 steps (48%), 41.2 samples/s, 0:23 left`"""
        left = "" if self.seconds_left is None else f", {clock(self.seconds_left)} left"
        share = 100 * self.step // max(self.steps, 1)
        return (
            f"epoch {self.epoch}: {self.step}/{self.steps} steps ({share}%), {self.samples_per_s:.1f} samples/s{left}"
        )

    def short(self) -> str:
        """`120/250 41/s 0:23 left`: for a table column (the epoch is a column of its own there)."""
        left = "" if self.seconds_left is None else f" {clock(self.seconds_left)} left"
        return f"{self.step}/{self.steps} {self.samples_per_s:.0f}/s{left}"


def clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class EpochProgress:
    """Counts one epoch's steps (over `seeds` seeds) and hands a Snapshot to `emit` every `every_s` seconds."""

    def __init__(
        self, emit: Callable[[Snapshot], object], every_s: float = 10.0, seeds: int = 1, now=time.monotonic
    ) -> None:
        self.emit, self.every_s, self.seeds, self.now = emit, every_s, seeds, now
        self.epoch, self.step_count, self.steps, self.samples = 0, 0, 0, 0
        self.started = self.last_emit = 0.0

    def start(self, epoch: int, steps: int) -> None:
        """An epoch of `steps` steps begins (for one seed: the first seed to start it opens the count)."""
        if epoch != self.epoch:
            self.epoch, self.step_count, self.steps, self.samples = epoch, 0, steps * self.seeds, 0
            self.started = self.last_emit = self.now()

    def step(self, samples: int) -> None:
        self.step_count += 1
        self.samples += samples
        t = self.now()
        if t - self.last_emit >= self.every_s or self.step_count == self.steps:
            self.last_emit = t
            self.emit(self.snapshot(t))

    def snapshot(self, t: float) -> Snapshot:
        elapsed = max(t - self.started, 1e-9)
        rate = self.step_count / elapsed
        left = (self.steps - self.step_count) / rate if self.step_count else None
        return Snapshot(self.epoch, self.step_count, self.steps, self.samples / elapsed, left)

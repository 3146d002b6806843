"""Where running trials put their progress within an epoch, for the driver's status table: one small named actor
per sweep (num_cpus=0, in the sweep's Ray namespace). A trial sends a line every few seconds without waiting for
an answer; the status table reads them all when it redraws. Nothing here is saved: it is a display."""

from __future__ import annotations

import ray

NAME = "lora_sweep_progress"


@ray.remote(num_cpus=0)
class ProgressBoard:
    def __init__(self) -> None:
        self.lines: dict[str, str] = {}

    def put(self, trial_id: str, line: str) -> None:
        self.lines[trial_id] = line

    def snapshot(self) -> dict[str, str]:
        return dict(self.lines)


def start(ready_s: float = 60.0):
    """On the driver, before the trials start: the board, once it answers (its worker process starts in seconds;
    a trial that looked it up before would find none and show no progress)."""
    board = ProgressBoard.options(name=NAME, get_if_exists=True).remote()
    try:
        ray.get(board.snapshot.remote(), timeout=ready_s)
    except Exception:  # noqa: BLE001 - a display: the sweep runs without it
        pass
    return board


def find():
    """The sweep's board, or None (a trial run outside a lora_sweep sweep). Looked up by name each time, never
    kept in anything Ray pickles: a resumed sweep has a new board."""
    try:
        return ray.get_actor(NAME)
    except ValueError:
        return None


def publisher(trial_id: str):
    """In a trial: a function that sends a progress line to the board (no waiting), or None without a board."""
    board = find()
    return None if board is None else lambda line: board.put.remote(trial_id, line)


def read(timeout_s: float = 0.5) -> dict[str, str]:
    """The lines now; {} without a board or when it does not answer in time (the table is drawn without them)."""
    board = find()
    if board is None:
        return {}
    try:
        return ray.get(board.snapshot.remote(), timeout=timeout_s)
    except Exception:  # noqa: BLE001 - a display: never fail the sweep over it
        return {}

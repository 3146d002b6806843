"""Progress within an epoch (trial/progress.py): snapshots at most every every_s seconds and at the epoch's end,
steps counted over the seeds that train in turn, rate and time left from the clock."""

from lora_sweep.trial.progress import EpochProgress, Snapshot, clock


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_snapshots_are_throttled_and_the_last_step_always_shows():
    now, shown = Clock(), []
    progress = EpochProgress(shown.append, every_s=10.0, seeds=2, now=now)
    progress.start(1, 5)  # 5 steps a seed, 2 seeds: 10 steps in the epoch
    progress.start(1, 5)  # the second seed's start does not reset the count
    for _ in range(10):
        now.t += 4.0  # a step every 4 s, 16 samples each
        progress.step(16)
    assert [s.step for s in shown] == [3, 6, 9, 10]  # at 12 s, 24 s, 36 s, then the epoch's last step
    assert shown[0] == Snapshot(epoch=1, step=3, steps=10, samples_per_s=4.0, seconds_left=28.0)
    assert shown[-1].seconds_left == 0 and shown[-1].text() == "epoch 1: 10/10 steps (100%), 4.0 samples/s, 0:00 left"
    progress.start(2, 5)  # a new epoch starts the count again
    now.t += 1.0
    progress.step(8)
    assert progress.step_count == 1 and progress.steps == 10


def test_clock_format():
    assert [clock(s) for s in (5, 65, 3725)] == ["0:05", "1:05", "1:02:05"]

"""When the driver rewrites the results tables: at most every few seconds, and never more than 5% of its time.

A rewrite takes longer as the sweep grows (43 ms at 100 trials, 0.8 s at 5,000 on a 2-core machine), so writing
after every report costs a 10,000-trial sweep hours of driver time. The tables are instead rewritten when some
report or trial end is not in them yet and MIN_INTERVAL_S have passed, or 19 times as long as the last rewrite
took (Ray Tune paces its own experiment snapshots the same way), whichever is longer; and whenever Ray Tune saves
its experiment state, so that the tables on disk always hold every result that a --resume will not report again.
"""

from __future__ import annotations

import time

MIN_INTERVAL_S = 5.0
SHARE = 19  # wait this many times the last rewrite's duration: at most 1/20 of the driver's time


class WriteSchedule:
    def __init__(self, min_interval_s: float = MIN_INTERVAL_S):
        self.min_interval_s = min_interval_s
        self.pending = False  # something changed since the last rewrite
        self._last_end = float("-inf")
        self._last_duration = 0.0

    def changed(self) -> None:
        self.pending = True

    def due(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        wait = max(self.min_interval_s, SHARE * self._last_duration)
        return self.pending and now - self._last_end >= wait

    def run_if_due(self, write) -> bool:
        """Call write() if a rewrite is due now (see due); say whether it ran."""
        if not self.due():
            return False
        self.run(write)
        return True

    def run(self, write) -> None:
        """Call write() now and note how long it took."""
        started = time.monotonic()
        self.pending = False
        write()
        self._last_end = time.monotonic()
        self._last_duration = self._last_end - started

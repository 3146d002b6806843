"""The driver's own cost (CPU seconds, peak memory) on one line that benchmarks.scale reads."""

from __future__ import annotations

import json
import resource

STATS = "LORA_SWEEP_DRIVER_STATS"  # a driver given this prints its CPU time and peak memory on exit


def driver_stats() -> dict:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024}


def print_stats(**more) -> None:
    """The driver's own cost so far, on one line bench_scale reads (printed before exiting: the CLI may leave
    through os._exit, which skips atexit handlers)."""
    print(STATS + " " + json.dumps({**driver_stats(), **more}), flush=True)

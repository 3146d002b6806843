"""Where the sweep driver's own time goes: the stand-in sweep (benchmarks.standin) under cProfile.

    STANDIN_CPUS=8 STANDIN_EPOCH_S=0 python scripts/profile_driver.py [--trials 100] [--top 25]

Writes a bench_scale stand-in spec of that many configurations to a temporary folder, runs the real CLI and
driver on it in this process under cProfile, and prints the driver's cumulative time per lora_sweep and analysis
function (the fixed costs: imports, Ray's start, the checks before start, the report; and the per-report ones:
callbacks, scheduler, table writes), then the whole run's wall time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    from benchmarks import standin
    from benchmarks.scale import spec

    with tempfile.TemporaryDirectory(prefix="profile-driver-") as work:
        path = Path(work, "scale.yaml")
        path.write_text(yaml.safe_dump(spec(args.trials, 3, 8), sort_keys=False))
        profile = cProfile.Profile()
        started = time.perf_counter()
        code = profile.runcall(standin.main, [str(path), "--storage", str(Path(work, "store"))])
        wall = time.perf_counter() - started
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out).sort_stats("cumulative")
    stats.print_stats(rf"{REPO}/(lora_sweep|analysis)/", args.top)
    print(out.getvalue())
    print(f"{args.trials} trials: exit {code}, wall {wall:.1f} s")
    return code


if __name__ == "__main__":
    raise SystemExit(main())

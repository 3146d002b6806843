"""The sweep machinery against Ray Tune alone, at thousands of trials, with the stand-in trial (benchmarks.standin).

    python -m benchmarks.scale [--trials 1000] [--cpus 16] [--epochs 3] [--epoch-s 0]
    python -m benchmarks.scale --full      # 10,000 trials

Runs one stand-in sweep twice, each in a fresh driver process, with the same trainable, scheduler (Fair ASHA),
configurations and concurrency (`--cpus` logical CPUs, one trial each):
  lora_sweep   python -m benchmarks.standin SPEC: spec checks, Tuner, results callback, tables, report;
  plain Tuner  the same Tuner with no lora_sweep callback, tables or report (Ray's default output).
Prints the wall time of each and their ratio (goal: <= 1.10), and each driver's CPU seconds per trial and peak
memory (RSS high-water mark), which show whether the driver's own work grows with the trial count.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks.driver_stats import STATS, print_stats


def spec(trials: int, epochs: int, cpus: int) -> dict:
    """`trials` configurations of one LoRA study (learning rates spread over a log grid), one seed each."""
    rates = [float(f"{1e-5 * (1e3 ** (i / max(trials - 1, 1))):.6g}") for i in range(trials)]
    rates = sorted(set(rates)) + [1e-2 + i * 1e-9 for i in range(trials - len(set(rates)))]
    return {
        "name": "scale",
        "experiments": [{"model": "minilm", "task": "sst2"}],
        "variants": [{"method": "lora", "r": 4, "learning_rate": {"grid": rates}}],
        "train": {"epochs": epochs, "batch_size": 8},
        "search": {"algorithm": "grid", "max_concurrent": cpus, "seeds": 1, "max_trials": max(trials, 10_000)},
        "scheduler": {"type": "asha", "max_epochs": epochs, "grace_period": 1, "reduction_factor": 3},
        "resources": {"cpu": 1},
        "ray": {"include_dashboard": False},
        "max_failures": 0,
    }


def finished_trials(storage: Path, name: str) -> int:
    """Trials lora_sweep's tables record as run to their end (completed or stopped by ASHA)."""
    import pandas as pd

    trials = pd.read_csv(storage / name / "trials.csv")
    return int(trials["status"].isin(["completed", "early_stopped"]).sum())


def plain(spec_path: str, storage: str, cpus: int) -> int:
    """The same sweep through a plain Tuner (run in its own process by `--plain`)."""
    import ray
    from ray import tune

    from benchmarks.standin import standin_trial
    from lora_sweep.spec import space
    from lora_sweep.spec.spec import load_spec
    from lora_sweep.sweep.scheduler import FairASHA

    sweep = load_spec(spec_path)
    s = sweep.scheduler
    ray.init(address="local", num_cpus=cpus, include_dashboard=False, _node_ip_address="127.0.0.1")
    trainable = tune.with_resources(tune.with_parameters(standin_trial, prepared={}), {"cpu": 1})
    tuner = tune.Tuner(
        trainable,
        param_space={"trial": tune.grid_search(space.grid_trials(sweep))},
        tune_config=tune.TuneConfig(
            metric="score",
            mode="max",
            scheduler=FairASHA(s["max_epochs"], s["grace_period"], s["reduction_factor"]),
            max_concurrent_trials=sweep.max_concurrent,
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(name=sweep.name, storage_path=storage, verbose=1),
    )
    grid = tuner.fit()
    ray.shutdown()
    print_stats(finished=sum(1 for result in grid if result.error is None))
    return 0


def _run(command: list[str], env: dict, log: Path) -> dict:
    started = time.perf_counter()
    with open(log, "w") as out:
        done = subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    wall = time.perf_counter() - started
    text = log.read_text()
    if done.returncode != 0:
        raise SystemExit(f"{command[2]} failed (exit {done.returncode}); see {log}:\n{text[-2000:]}")
    lines = [line for line in text.splitlines() if line.startswith(STATS)]
    return {"wall_s": wall, **json.loads(lines[-1].split(" ", 1)[1])}


def compare(trials: int, cpus: int, epochs: int, epoch_s: float, work: Path) -> dict:
    spec_path = work / "scale.yaml"
    spec_path.write_text(yaml.safe_dump(spec(trials, epochs, cpus), sort_keys=False))
    env = {**os.environ, "STANDIN_EPOCH_S": str(epoch_s), "STANDIN_CPUS": str(cpus), STATS: "1"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1]) + os.pathsep + env.get("PYTHONPATH", "")
    ours = _run([sys.executable, "-m", "benchmarks.standin", str(spec_path), "--storage", str(work / "ours")],
                env, work / "ours.log")  # fmt: skip
    theirs = _run([sys.executable, "-m", "benchmarks.scale", "--plain", str(spec_path), str(work / "plain"),
                   str(cpus)], env, work / "plain.log")  # fmt: skip
    ours["finished"] = finished_trials(work / "ours", "scale")
    return {"trials": trials, "lora_sweep": ours, "plain_tuner": theirs, "ratio": ours["wall_s"] / theirs["wall_s"]}


def report(row: dict) -> str:
    a, b = row["lora_sweep"], row["plain_tuner"]
    n = row["trials"]
    return (
        f"{n} trials: lora_sweep {a['wall_s']:.1f} s, plain Tuner {b['wall_s']:.1f} s, ratio {row['ratio']:.3f} "
        f"(goal <= 1.10); driver CPU per trial {1000 * a['cpu_s'] / n:.1f} ms vs {1000 * b['cpu_s'] / n:.1f} ms; "
        f"driver peak RSS {a['peak_rss_mb']:.0f} MB vs {b['peak_rss_mb']:.0f} MB; trials finished "
        f"{a['finished']} vs {b['finished']}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[1000], help="trial counts to run (default 1000)")
    parser.add_argument("--full", action="store_true", help="10,000 trials")
    parser.add_argument("--cpus", type=int, default=16, help="logical CPUs of the local Ray instance")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--epoch-s", type=float, default=0.0, help="seconds per stand-in epoch")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--plain", nargs=3, metavar=("SPEC", "STORAGE", "CPUS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.plain:
        return plain(args.plain[0], args.plain[1], int(args.plain[2]))
    counts = [10_000] if args.full else args.trials
    print(f"machine: {platform.node()}, {os.cpu_count()} cores; Ray with {args.cpus} logical CPUs; "
          f"{args.epochs} epochs of {args.epoch_s} s; Fair ASHA (grace 1, reduction 3)")  # fmt: skip
    rows = []
    for n in counts:
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as work:
            rows.append(compare(n, args.cpus, args.epochs, args.epoch_s, Path(work)))
        print(report(rows[-1]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

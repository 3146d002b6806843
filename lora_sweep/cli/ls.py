"""`lora-sweep ls STORAGE`: the sweeps under a storage folder or URI, one block each: status, trials by status,
best score per study (the tables' statistic: the median over a configuration's seeds), and when it ran."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lora_sweep.cli import terminal
from lora_sweep.cli.args import verb_parser

EPILOG = """examples:
  lora-sweep ls results                     the sweeps under ./results (the default storage)
  lora-sweep ls s3://bucket/sweeps          the same under a storage URI

status: finished (last run exited 0), failed trials (exit 1), interrupted (130/143: --resume continues),
running or killed (started, no end recorded yet).
exit codes: 0 listed (also when there is no sweep); 2 STORAGE unreadable or not a folder."""

STATUS = {0: "finished", 1: "finished, some trials failed", 130: "interrupted (SIGINT)", 143: "interrupted (SIGTERM)"}


def parser() -> argparse.ArgumentParser:
    p = verb_parser("ls", "List the sweeps under a storage folder or URI.", EPILOG)
    p.add_argument("storage", nargs="?", default="results", help="a storage folder or URI (default: results)")
    return p


def _runs(folder) -> list[dict]:
    from analysis.run_info import parse_runs
    from lora_sweep.results import storage

    path = storage.join(folder, "runs.jsonl")
    return parse_runs(storage.read_text(path)) if storage.is_file(path) else []


def _best_per_study(trials, seeds: int | None) -> list[str]:
    """The winners as the tables crown them (analysis/configs.py: all planned seeds, a diverged one as -inf)."""
    from analysis.configs import best_configurations, configurations

    if "study" not in trials:
        return []
    best = best_configurations(configurations(trials, planned=seeds), by=["study"])
    return [f"{row['study']}: {row['score']:.1f} {row['metric']} (n={row['n_seeds']})" for _, row in best.iterrows()]


def describe(folder, name: str) -> list[str]:
    """The lines `ls` prints for one sweep folder."""
    from lora_sweep.results import storage

    info = json.loads(storage.read_text(storage.join(folder, "sweep.json")))
    runs = _runs(folder)
    last = runs[-1] if runs else {}
    status = STATUS.get(last.get("exit_status"), f"exit {last.get('exit_status')}") if last else "running or killed"
    lines = [f"{name}  ({status})"]
    when = f"{runs[0].get('started_utc', '?')} .. {last.get('ended_utc', '?')}" if runs else "no run recorded yet"
    lines.append(f"  ran:    {when} ({len(runs)} run{'s' * (len(runs) != 1)})")
    trials = storage.read_table(folder, "trials")
    planned = info.get("n_trials_planned") if isinstance(info, dict) else None
    if trials is None or trials.empty:
        lines.append(f"  trials: none reported yet{f' of {planned} planned' if planned else ''}")
        return lines
    ids = trials.drop_duplicates("trial_id") if "trial_id" in trials else trials
    counts = ids["status"].value_counts().to_dict() if "status" in ids else {}
    lines.append(
        f"  trials: {len(ids)}{f' of {planned}' if planned else ''} ("
        + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        + ")"
    )
    seeds = info.get("n_seeds") if isinstance(info, dict) else None
    for best in _best_per_study(trials, seeds if isinstance(seeds, int) else None):
        lines.append(f"  best:   {best}")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from lora_sweep.results import storage

    where = args.storage if storage.is_uri(args.storage) else str(Path(args.storage).expanduser())
    if not storage.is_uri(where) and not Path(where).is_dir():
        terminal.error(f"{args.storage}: no such folder")
        return 2
    try:
        entries = storage.entries(where)
    except (OSError, ValueError) as err:
        terminal.error(f"{args.storage}: cannot list it ({(str(err).splitlines() or [''])[0][:200]})")
        return 2
    found = 0
    for name, is_dir in sorted(entries):
        entry = storage.join(where, name)
        if not is_dir or not storage.is_file(storage.join(entry, "sweep.json")):
            continue
        try:
            lines = describe(entry, name)
        except (OSError, ValueError, KeyError, TypeError) as err:
            lines = [f"{name}  (unreadable: {type(err).__name__}: {(str(err).splitlines() or [''])[0][:160]})"]
        print("\n".join(lines))
        found += 1
    if not found:
        print(f"no sweeps under {args.storage}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

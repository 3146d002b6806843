"""Benchmark cases 6 and 7: what the sweep machinery costs, and what ASHA saves.

6. The smoke sweep's SST-2 part (full preset: at its own sizes; --quick: smaller) through
   `python -m lora_sweep.run` with no scheduler, against the same trials run back to back in one process
   without Ray (`python -m benchmarks.sweep SPEC --set ...`): wall-time ratio, both measured as whole
   commands (interpreter, imports, data preparation included).
7. The same sweep with fair ASHA against that full grid: trial-epochs used, and whether each study's best
   variant (its best learning rate) is the same. Also the floor: the fewest trial-epochs any early stopping
   could use with this many trials per study.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from benchmarks.cases import make_result, not_run

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "sweeps" / "smoke.yaml"


def reduced_overrides(train_samples: int, eval_samples: int, epochs: int) -> list[str]:
    """The smoke spec's SST-2 experiment only (its MRPC part would double the three runs' time)."""
    experiment = f"[{{model: minilm, task: sst2, train: {{max_train_samples: {train_samples}}}}}]"
    sets = [
        f"experiments={experiment}",
        f"train.max_eval_samples={eval_samples}",
        f"train.epochs={epochs}",
        f"scheduler.max_epochs={epochs}",
    ]
    return [arg for s in sets for arg in ("--set", s)]


def _timed(command: list[str], env: dict) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        tail = (done.stdout + done.stderr)[-1500:]
        raise RuntimeError(f"{' '.join(command[:4])} exited {done.returncode}: {tail}")
    return time.perf_counter() - started


def _best_lr(trials: pd.DataFrame) -> dict[str, float]:
    scored = trials[trials["best_metric"].notna()]
    return {study: g.loc[g["best_metric"].idxmax(), "learning_rate"] for study, g in scored.groupby("study")}


def cases_sweep(glue_dir: str | None, train_samples: int = 1000, eval_samples: int = 400, epochs: int = 3) -> list:
    """Results for cases 6 and 7 (three runs of the reduced smoke sweep's trials)."""
    names = ("6. sweep overhead Ray/no-Ray [smoke sst2]", "7. ASHA trial-epochs asha/grid [smoke sst2]")
    if not glue_dir or not Path(glue_dir, "SST-2", "train.tsv").is_file():
        return [not_run(n, "needs GLUE_DIR with SST-2", case=c) for c, n in zip((6, 7), names, strict=True)]
    env = {**os.environ, "GLUE_DIR": str(glue_dir), "HF_HUB_OFFLINE": "1"}
    base = reduced_overrides(train_samples, eval_samples, epochs)
    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
        run = [sys.executable, "-m", "lora_sweep.run", str(SMOKE), "--storage", tmp, *base]
        grid_s = _timed([*run, "--name", "grid", "--set", "scheduler=none"], env)
        plain_s = _timed([sys.executable, "-m", "benchmarks.sweep", str(SMOKE), *base, "--set", "scheduler=none"], env)
        asha_s = _timed([*run, "--name", "asha"], env)
        grid = pd.read_csv(Path(tmp, "grid", "trials.csv"))
        asha = pd.read_csv(Path(tmp, "asha", "trials.csv"))
        grace = json.loads(Path(tmp, "asha", "sweep.json").read_text())["scheduler"]["grace_period"]
    sizes = {"trials": len(grid), "train_samples": train_samples, "eval_samples": eval_samples, "epochs": epochs}
    overhead = make_result(
        names[0],
        [grid_s / plain_s],
        "<= 1.15",
        {
            "case": 6,
            "ray_sweep_s": grid_s,
            "back_to_back_s": plain_s,
            **sizes,
            "summary": f"Ray {grid_s:.0f} s, back to back {plain_s:.0f} s: {len(grid)} trials x {epochs} epochs "
            f"of {train_samples} sentences, {eval_samples} dev",
        },
    )
    used, full = int(asha["epochs_run"].sum()), int(grid["epochs_run"].sum())
    per_study = grid["study"].value_counts().tolist()
    floor = stopping_floor(per_study, epochs, grace)
    best_grid, best_asha = _best_lr(grid), _best_lr(asha)
    same = {s: bool(best_grid.get(s) == best_asha.get(s)) for s in best_grid}
    saved = make_result(
        names[1],
        [used / full],
        "<= 0.6",
        {
            "case": 7,
            "trial_epochs_asha": used,
            "trial_epochs_grid": full,
            "asha_sweep_s": asha_s,
            "floor": floor,
            "same_best_variant": same,
            "all_same_best": all(same.values()),
            **sizes,
            "summary": f"{used} of {full} trial-epochs; same best learning rate in {sum(same.values())} of "
            f"{len(same)} studies; floor for {max(per_study)} trials a study: {floor:.2f}",
        },
    )
    return [overhead, saved]


def stopping_floor(trials_per_study: list[int], epochs: int, grace_period: int) -> float:
    """The fewest trial-epochs any early stopping can use, as a fraction of the full grid's.

    Per study, the trial that turns out best must run every epoch, and every other trial runs at least
    grace_period epochs before a rung can judge it: (epochs + (n - 1) * grace) / (n * epochs).
    """
    least = sum(epochs + (n - 1) * grace_period for n in trials_per_study)
    return least / (epochs * sum(trials_per_study))


def run_back_to_back(argv: list[str]) -> int:
    """The no-Ray side of case 6: every trial of the spec in this process, data prepared once per key."""
    from lora_sweep.spec.space import grid_trials, trial_config
    from lora_sweep.spec.spec import load_spec
    from lora_sweep.trial.train import data_key, prepare_data, train_and_evaluate

    overrides = [argv[i + 1] for i, a in enumerate(argv) if a == "--set"]
    spec = load_spec(argv[0], tuple(overrides))
    prepared = {}
    for values in grid_trials(spec):
        cfg, _ = trial_config(values)
        key = data_key(cfg)
        if key not in prepared:
            prepared[key] = prepare_data(cfg)
        train_and_evaluate(cfg, lambda row: None, prepared=prepared[key])
    return 0


if __name__ == "__main__":
    sys.exit(run_back_to_back(sys.argv[1:]))

"""A synthetic results folder of any size, for measuring the report at scale (issue: 10,000-trial sweeps).

    python -m tests.data_analysis.scale --trials 10000 --seeds 3 --out build/scale
    -> writes trials/epochs/sweep.json there, builds report.html, and prints the build time, the report's
       size and, with /usr/bin/chromium, the time headless Chromium takes to load it and draw every figure.

The sweep it imitates: 2 models x 3 tasks x (full, LoRA r 4/8/16) studies, learning rates drawn log-uniformly,
every trial (configuration) trained with `seeds` seeds, raced by ASHA (grace 1, reduction factor 3, 9 epochs):
about 2/3 of the trials stop after epoch 1, 2/9 after epoch 3, 1/9 run all 9.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from tests.data_analysis.synthetic import sweep_info, trial, write_results

MODELS = ("roberta-base", "minilm")
TASKS = ("sst2", "mrpc", "rte")
VARIANTS = (("full", 8), ("lora", 4), ("lora", 8), ("lora", 16))


def large_sweep(directory: Path, n_trials: int, seeds: int = 3, rng_seed: int = 0) -> Path:
    rng = np.random.default_rng(rng_seed)
    studies = [(m, t, v, r) for m in MODELS for t in TASKS for v, r in VARIANTS]
    templates = {s: trial(s[0], s[1], s[2], s[3]) for s in studies}
    which = rng.integers(len(studies), size=n_trials)
    log_lr = rng.uniform(np.log(1e-5), np.log(1e-2), size=n_trials)
    quality = -np.abs(log_lr - np.log(5e-4)) * 0.02  # best near 5e-4
    stop_draw = rng.random(n_trials)
    epochs_run = np.where(stop_draw < 2 / 3, 1, np.where(stop_draw < 8 / 9, 3, 9))
    rows, epoch_rows = [], {k: [] for k in ("trial_id", "study", "seed", "epoch", "eval_accuracy")}
    for i in range(n_trials):
        study = studies[which[i]]
        tid = f"{i // 100000:05x}_{i:05d}"
        for seed in range(seeds):
            best = float(np.clip(0.85 + quality[i] + rng.normal(0, 0.01), 0.5, 0.99))
            run = int(epochs_run[i])
            row = dict(templates[study])
            row.update(trial_id=tid, seed=seed, learning_rate=float(np.exp(log_lr[i])), epochs=9,
                       status="completed" if run == 9 else "early_stopped", best_metric=best,
                       best_epoch=run, epochs_run=run)  # fmt: skip
            rows.append(row)
            epochs = np.arange(1, run + 1)
            epoch_rows["trial_id"] += [tid] * run
            epoch_rows["study"] += [row["study"]] * run
            epoch_rows["seed"] += [seed] * run
            epoch_rows["epoch"] += epochs.tolist()
            epoch_rows["eval_accuracy"] += (best - 0.02 * (run - epochs) / run).tolist()
    trials = pd.DataFrame(rows)
    epochs = pd.DataFrame(epoch_rows)
    searched = {"learning_rate": {"type": "loguniform", "low": 1e-5, "high": 1e-2}}
    info = sweep_info(searched, planned=n_trials, name="scale")
    info["scheduler"] = {"type": "asha", "max_epochs": 9, "grace_period": 1, "reduction_factor": 3}
    return write_results(directory, trials, epochs, info, formats=("parquet",))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.data_analysis.scale", description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("build/scale"))
    args = parser.parse_args(argv)
    from analysis.report import build_report

    started = time.perf_counter()
    folder = large_sweep(args.out, args.trials, args.seeds)
    made = time.perf_counter()
    report = build_report(folder)
    built = time.perf_counter()
    print(f"{args.trials} trials x {args.seeds} seeds: results written in {made - started:.1f} s")
    print(f"report built in {built - made:.1f} s: {report} ({report.stat().st_size / 1e6:.2f} MB)")
    load = browser_load_s(report)
    if load is not None:
        print(f"headless Chromium: page loaded with every figure drawn at {load[0]:.1f} s (the page's clock); "
              f"{load[1]:.1f} s for the whole browser run")  # fmt: skip
    return 0


# Logged by the page once it has loaded (every inline plotly script has run) and the next frame is painted:
# milliseconds since navigation started, by the page's own clock.
_TIMER = (
    "<script>window.addEventListener('load', () => requestAnimationFrame(() => setTimeout(() => "
    "console.log('LOADED_MS ' + Math.round(performance.now())))));</script></body>"
)


def browser_load_s(report: Path) -> tuple[float, float] | None:
    """(page load and draw by the page's clock, whole headless Chromium run incl. its start) in seconds, on a
    copy of the report with a timer added; None without Chromium. Fails if a figure was not drawn."""
    if not Path("/usr/bin/chromium").is_file():
        print("no /usr/bin/chromium: browser load time not measured")
        return None
    from analysis.screenshot import chromium
    from tests.test_analysis_browser import FIGURES, rendered

    timed = report.with_name("report_timed.html")
    timed.write_text(report.read_text().replace("</body>", _TIMER))
    started = time.perf_counter()
    done = chromium(timed, "--dump-dom", size=(1400, 3000))
    seconds = time.perf_counter() - started
    timed.unlink()
    drawn = rendered(done.stdout)
    if drawn != dict.fromkeys(FIGURES, True):
        raise RuntimeError(f"not every figure was drawn: {drawn}")
    page_ms = [
        int(line.split("LOADED_MS ")[1].split('"')[0]) for line in done.stderr.splitlines() if "LOADED_MS" in line
    ]
    return (page_ms[0] / 1000 if page_ms else float("nan")), seconds


if __name__ == "__main__":
    raise SystemExit(main())

"""The seeds of one configuration, trained side by side in one process and reported as one score per epoch.

A Tune trial is one configuration (every setting but the seed). Its seeds are replicates, not rivals: they
train in turn, one epoch each, so after every epoch the trial reports each seed's row and the configuration's
score, the median over its seeds (the statistic of the LoRA paper's Table 2). Early stopping therefore keeps or
stops all seeds of a configuration together. A seed whose loss diverged counts as -inf from then on: the
median still ranks the configuration by its other seeds, and a configuration most of whose seeds diverged
ranks last. Never imports Ray.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import replace

from lora_sweep.trial.config import TrialConfig
from lora_sweep.trial.tasks import get_task
from lora_sweep.trial.train import TrialData, TrialResult, TrialStateHook, pick_device, reset_peak_memory, train_epochs

SCORE = "score"  # the configuration's median over seeds: what ASHA and Optuna compare
BY_SEED = "by_seed"  # seed (as a string: Ray flattens result keys) -> that seed's row for this epoch


def seed_score(row: dict, metric: str) -> float:
    value = row.get(metric)
    if row.get("diverged") or not isinstance(value, (int, float)) or not math.isfinite(value):
        return -math.inf
    return float(value)


def train_seeds(
    cfg: TrialConfig,
    seeds: list[int],
    report: Callable[[dict], object],
    prepared: TrialData | None = None,
    hooks: dict[int, TrialStateHook] | None = None,
    epochs_fn=train_epochs,
) -> dict[int, TrialResult]:
    """Train cfg once per seed, one epoch of each in turn; report({epoch, score, by_seed}) after each epoch.
    Returns each seed's TrialResult."""
    metric = "eval_" + get_task(cfg.task).primary_metric
    reset_peak_memory(pick_device(cfg.device))
    live = {s: epochs_fn(replace(cfg, seed=s), prepared, (hooks or {}).get(s)) for s in seeds}
    last: dict[int, float] = {}  # each seed's latest score; a diverged seed keeps -inf
    results: dict[int, TrialResult] = {}
    while live:
        rows = {}
        for seed, epochs in list(live.items()):
            try:
                rows[seed] = next(epochs)
                last[seed] = seed_score(rows[seed], metric)
            except StopIteration as done:
                results[seed] = done.value
                del live[seed]
        if not rows:
            break
        epoch = max(int(r["epoch"]) for r in rows.values())
        scores = [last.get(s, -math.inf) for s in seeds]
        report(
            {
                "epoch": epoch,
                SCORE: statistics.median(scores),
                "score_min": min(scores),
                "score_max": max(scores),
                BY_SEED: {str(s): row for s, row in rows.items()},
            }
        )
    return results

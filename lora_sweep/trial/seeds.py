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
from collections.abc import Callable, Generator
from dataclasses import replace

from lora_sweep.trial import models
from lora_sweep.trial.config import TrialConfig
from lora_sweep.trial.pack import PACKABLE_TYPES
from lora_sweep.trial.tasks import get_task
from lora_sweep.trial.train import TrialData, TrialResult, TrialStateHook, pick_device, reset_peak_memory, train_epochs


def pack_size(cfg: TrialConfig) -> int:
    """How many seeds of cfg train together on one frozen model: cfg.pack for LoRA on an architecture whose
    dropout can draw per member (pack.PACKABLE_TYPES), else 1. Full fine-tuning and the others: never packed."""
    if cfg.method != "lora" or cfg.pack == 1:
        return 1
    try:
        model_type = models.load_config(cfg.model, revision=cfg.revision).model_type
    except (OSError, ValueError):
        return 1  # the trial itself will say what is wrong with the model
    return cfg.pack if model_type in PACKABLE_TYPES else 1


def _unit(cfg, group, prepared, hooks, epochs_fn) -> Generator[dict[int, dict], None, dict[int, TrialResult]]:
    """The seeds of one group, one epoch per step: {seed: row} per epoch, {seed: TrialResult} at the end."""
    if len(group) == 1:
        seed = group[0]
        epochs = epochs_fn(replace(cfg, seed=seed), prepared, hooks.get(seed))
        while True:
            try:
                row = next(epochs)
            except StopIteration as done:
                return {seed: done.value}
            yield {seed: row}
    from lora_sweep.trial.pack_train import train_pack

    epochs = train_pack([replace(cfg, seed=s) for s in group], prepared, [hooks.get(s) for s in group])
    while True:
        try:
            rows = next(epochs)
        except StopIteration as done:
            return {group[i]: result for i, result in done.value.items()}
        yield {group[i]: row for i, row in rows.items()}


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
    hooks = hooks or {}
    size = pack_size(cfg) if epochs_fn is train_epochs else 1
    groups = [seeds[i : i + size] for i in range(0, len(seeds), size)]
    live = {tuple(group): _unit(cfg, group, prepared, hooks, epochs_fn) for group in groups}
    last: dict[int, float] = {}  # each seed's latest score; a diverged seed keeps -inf
    results: dict[int, TrialResult] = {}
    while live:
        rows = {}
        for group, unit in list(live.items()):
            try:
                for seed, row in next(unit).items():
                    rows[seed] = row
                    last[seed] = seed_score(row, metric)
            except StopIteration as done:
                results.update(done.value)
                del live[group]
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

"""The trial count read off the spec's raw shape, before any experiment, variant or value is built or checked.

A 3 KB spec of YAML aliases (`experiments: [*e, *e, ...]`, each entry 100 models x 10 tasks) or one grid of
300,000 values costs minutes and hundreds of MB to validate value by value, only to be refused by
search.max_trials at the end. Here every experiment entry and variant is visited once per place it is listed
(aliases are not expanded), lists are measured by len(), and the same count as limits.count_trials results for
a valid spec; a spec past the limit is refused at once with limits' own message.
"""

from __future__ import annotations

import math

from lora_sweep.spec import limits
from lora_sweep.trial.config import LORA_ONLY


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def _count(value) -> int:
    """1 for a name, the length of a list of names."""
    return len(value) if isinstance(value, list) else 1


def _grid(value) -> int:
    if isinstance(value, dict) and len(value) == 1 and isinstance(value.get("grid"), list):
        return len(value["grid"])
    return 1


def _variant_points(variant, train: dict) -> int:
    variant = _mapping(variant)
    lora = variant.get("method") == "lora"
    merged = {k: v for k, v in train.items() if lora or k not in LORA_ONLY}
    merged.update({k: v for k, v in variant.items() if k not in ("method", "resources")})
    return math.prod(_grid(v) for v in merged.values())


def grid_points(raw: dict) -> int:
    """Grid points over all experiments and variants, from the raw spec (0 where its shape is not yet valid)."""
    entries = raw.get("experiments")
    if not isinstance(entries, list):
        return 0
    train = _mapping(raw.get("train"))
    points = 0
    for entry in entries:
        entry = _mapping(entry)
        names = _count(entry.get("models", entry.get("model"))) * _count(entry.get("tasks", entry.get("task")))
        variants = entry.get("variants", raw.get("variants"))
        local = {**train, **_mapping(entry.get("train"))}
        per_model = sum(_variant_points(v, local) for v in variants) if isinstance(variants, list) else 0
        points += names * per_model
    return points


def check(raw: dict) -> None:
    """Refuse a spec whose trial count is past search.max_trials, counting before anything is built."""
    search = _mapping(raw.get("search"))
    samples = search.get("num_samples", 1)
    samples = samples if isinstance(samples, int) and not isinstance(samples, bool) and samples >= 1 else 1
    seeds = search.get("seeds", 1)
    if isinstance(seeds, int) and not isinstance(seeds, bool) and seeds >= 1:
        limits.seed_count(seeds, search)  # a seed count alone past the limit: its own message
    seeds = len(seeds) if isinstance(seeds, list) else seeds if isinstance(seeds, int) and seeds >= 1 else 1
    algorithm = search.get("algorithm", "grid")
    points = grid_points(raw)
    count = points * samples * (seeds if algorithm == "grid" else 1)
    limit = limits.max_trials(search)
    if count > limit:
        detail = f"{points:,} grid points x num_samples {samples:,} x {seeds} seeds"
        raise limits.too_many(count, detail, limit)

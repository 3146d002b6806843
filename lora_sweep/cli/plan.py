"""The --dry-run plan: studies, trials per study, resources and trainable parameters, without starting Ray.

Parameter counts come from the model's config alone (weights on PyTorch's meta device): no download, no memory.
"""

from __future__ import annotations

from collections import Counter

import torch
from transformers import AutoModelForSequenceClassification

from lora_sweep.cluster import ray_ports
from lora_sweep.spec import space
from lora_sweep.spec.redact import redact
from lora_sweep.spec.spec import SweepSpec
from lora_sweep.trial import lora, models
from lora_sweep.trial.tasks import get_task
from lora_sweep.trial.train import configure_method


def parameter_counts(values: dict, configs: dict) -> lora.ParamCounts | str:
    """Counts for one trial's model and method, or why they are unavailable; configs memoises per model."""
    cfg, _ = space.trial_config(values)
    key = (cfg.model, get_task(cfg.task).num_labels)
    if key not in configs:
        try:
            configs[key] = models.plan_config(cfg.model, key[1])
        except (OSError, ValueError) as err:
            configs[key] = f"n/a ({str(err).splitlines()[0][:60]})"
    if isinstance(configs[key], str):
        return configs[key]
    with torch.device("meta"):
        model = AutoModelForSequenceClassification.from_config(configs[key])
    heads = configure_method(model, cfg)
    return lora.count_parameters(model, heads)


def study_memory(spec: SweepSpec) -> dict:
    """study -> its trials' memory estimate (cluster/memory.py) at the study's largest batch and max_length, or
    None where the model's config cannot be read here."""
    from lora_sweep.cluster import memory

    configs, counted, largest, out = {}, {}, {}, {}
    for arm in space.arms(spec):
        study = space.study_name(arm.base())
        cfg, _ = space.trial_config({**arm.base(), "study": study})
        batch, length = (max(cfg.batch_size, _high(arm, "batch_size")), max(cfg.max_length, _high(arm, "max_length")))
        previous = largest.get(study, (0, 0))
        largest[study] = (max(previous[0], batch), max(previous[1], length))
        if study not in counted:
            counted[study] = (cfg, parameter_counts({**arm.base(), "study": study}, configs))
    for study, (cfg, counts) in counted.items():
        config = configs.get((cfg.model, get_task(cfg.task).num_labels))
        if isinstance(counts, str) or isinstance(config, str) or config is None:
            out[study] = None
            continue
        batch, length = largest[study]
        out[study] = memory.estimate(config, counts.total, counts.trainable, batch, length, len(spec.seeds))
    return out


def _high(arm, key: str) -> int:
    """The largest value a sampled (distribution) setting can draw, 0 when the arm does not sample it."""
    setting = arm.sampled.get(key)
    if setting is None:
        return 0
    values = [v for v in (*setting.values, setting.high) if isinstance(v, (int, float))]
    return int(max(values)) if values else 0


def trials_per_study(spec: SweepSpec) -> Counter:
    """Tune trials (configurations) per study, as the sweep will create them."""
    if spec.algorithm == "grid":
        return Counter(t["study"] for t in space.grid_trials(spec))
    return Counter(space.study_name(a.base()) for a in space.arms(spec) for _ in range(spec.num_samples))


def study_counts(spec: SweepSpec):
    """(study, its first arm, parameter counts or the reason they are unavailable), once per study."""
    seen, configs = set(), {}
    for arm in space.arms(spec):
        study = space.study_name(arm.base())
        if study not in seen:
            seen.add(study)
            yield study, arm, parameter_counts({**arm.base(), "study": study}, configs)


def plan_lines(spec: SweepSpec) -> list[str]:
    per_study = trials_per_study(spec)
    n, seeds = sum(per_study.values()), len(spec.seeds)
    lines = [
        f"sweep {spec.name}: {n} trials (configurations) x {seeds} seeds = {n * seeds} trainings "
        f"in {len(per_study)} studies, "
        f"search {spec.algorithm}, scheduler {spec.scheduler['type'] if spec.scheduler else 'none'}, "
        f"seeds {list(spec.seeds)}, storage {redact(spec.storage)}, Ray {spec.address or 'local (127.0.0.1)'}"
    ]
    exposed = ray_ports.exposure_line(spec)
    if exposed:
        lines.append(exposed)
    if spec.scheduler:
        s = spec.scheduler
        lines.append(
            "Fair ASHA per study, over configurations (median over seeds): "
            f"max_epochs {s['max_epochs']}, grace_period {s['grace_period']}, "
            f"reduction_factor {s['reduction_factor']}"
        )
    searched = space.searched_settings(spec)
    if searched:
        lines.append("searched: " + "; ".join(f"{k} {space.describe_searched(v)}" for k, v in searched.items()))
    header = f"{'study':<42} {'trials':>6} {'cpu':>4} {'gpu':>4} {'LoRA-only':>11} {'trainable':>12} {'total':>13}"
    lines.append(header + f" {'memory':>9}")
    estimates = study_memory(spec)
    for study, arm, counts in study_counts(spec):
        if isinstance(counts, str):
            numbers = f"{counts:>38}"
        else:
            numbers = f"{counts.lora:>11,} {counts.trainable:>12,} {counts.total:>13,}"
        need = estimates.get(study)
        numbers += f" {need.total / 2**30:>5.1f} GiB" if need else f" {'n/a':>9}"
        lines.append(f"{study:<42} {per_study[study]:>6} {arm.variant.cpu:>4g} {arm.variant.gpu:>4g} {numbers}")
    lines.append("memory: a trial's estimate (weights and AdamW state per seed, gradients, activations at the largest")
    lines.append(
        "  batch and max_length, 1 GiB overhead); --dry-run warns, a run refuses what this machine cannot hold"
    )
    return lines

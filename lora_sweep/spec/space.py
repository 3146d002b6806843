"""SweepSpec -> trial configurations: an explicit grid (Ray's variant generator) or an Optuna define-by-run space.

Both start from "arms": one per experiment x variant x combination of grid values. A Tune trial is one
configuration: every setting but the seed, with all the spec's seeds trained inside it (lora_sweep.trial.seeds), so
seeds are replicates that early stopping never sets against each other. A study (the unit that ASHA races
within) is model/task/method plus the rank for LoRA. Trial dicts are flat TrialConfig fields plus the labels
in LABEL_KEYS ("seeds": the list of seeds); no Ray import here.
"""

from __future__ import annotations

import itertools
import math
import random
import re
from dataclasses import dataclass

from lora_sweep.spec.spec import Experiment, Setting, SweepSpec, Variant
from lora_sweep.trial.config import TrialConfig

LABEL_KEYS = ("study", "cpu", "gpu", "seeds")
OPTUNA_KEY = "optuna"  # Optuna's own parameter names land under this config key; the values are in the config


@dataclass(frozen=True)
class Arm:
    """One experiment x variant x grid point; sampled settings are drawn per trial."""

    index: int
    experiment: Experiment
    variant: Variant
    fixed: dict  # setting -> value (fixed and grid settings)
    sampled: dict  # setting -> Setting (choice and distributions)

    def base(self) -> dict:
        return {
            "model": self.experiment.model,
            "task": self.experiment.task,
            "method": self.variant.method,
            **self.fixed,
            "cpu": self.variant.cpu,
            "gpu": self.variant.gpu,
        }


def trial_config(values: dict) -> tuple[TrialConfig, dict]:
    """A trial's flat dict (nested under "trial" in grid sweeps) -> (TrialConfig, labels such as study)."""
    values = dict(values.get("trial", values))
    values.pop(OPTUNA_KEY, None)
    labels = {k: values.pop(k) for k in LABEL_KEYS if k in values}
    if labels.get("seeds") and "seed" not in values:
        values["seed"] = labels["seeds"][0]  # the config of the first seed; lora_sweep.trial.seeds trains each
    return TrialConfig.from_dict(values), labels


def study_name(values: dict) -> str:
    """model/task/method, plus -r<rank>[-targets] for LoRA: early stopping competes only inside one study."""
    method = values["method"]
    suffix = ""
    if method == "lora":
        suffix = f"-r{values.get('r', 8)}"
        targets = values.get("target_modules")
        if targets:  # explicit targets (paper Table 6 compares them) make their own study
            suffix += "-" + (targets if isinstance(targets, str) else "+".join(targets))
    return f"{values['model']}/{values['task']}/{method}{suffix}{_start_suffix(values)}"


def _start_suffix(values: dict) -> str:
    """What else changes a result and so makes its own study (warm and cold starts must not race or merge):
    `-from-<adapter folder>` for a warm start (init_adapter), `@<revision>`, `-data@<revision>`, `-dseed<n>` for a
    data seed other than 0. Empty for the defaults, so the usual studies keep their names."""
    parts = []
    adapter = values.get("init_adapter")
    if adapter:
        parts.append("-from-" + str(adapter).rstrip("/").rsplit("/", 1)[-1])
    if values.get("revision"):
        parts.append(f"@{values['revision']}")
    if values.get("data_revision"):
        parts.append(f"-data@{values['data_revision']}")
    if values.get("data_seed") not in (None, 0, "0"):
        parts.append(f"-dseed{values['data_seed']}")
    return "".join(parts)


def study_slug(study: str) -> str:
    """`minilm/sst2/lora-r8` -> `minilm-sst2-lora-r8`: a study as part of a folder name (a model given as a path or
    hub id keeps its last part; runs of characters other than letters, digits and `_.+-` become one `-`)."""
    parts = study.split("/")
    model = "/".join(parts[:-2]).rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"[^A-Za-z0-9_.+-]+", "-", "-".join([model, *parts[-2:]])).strip("-")


def arms(spec: SweepSpec) -> list[Arm]:
    result = []
    for experiment in spec.experiments:
        for variant in experiment.variants:
            fixed = {k: s.values[0] for k, s in variant.settings.items() if s.kind == "fixed"}
            grid = {k: s.values for k, s in variant.settings.items() if s.kind == "grid"}
            sampled = {k: s for k, s in variant.settings.items() if s.kind not in ("fixed", "grid")}
            for combo in itertools.product(*grid.values()):
                values = {**fixed, **dict(zip(grid, combo, strict=True))}
                result.append(Arm(len(result), experiment, variant, values, sampled))
    return result


def sample_value(setting: Setting, rng: random.Random):
    if setting.kind == "choice":
        return rng.choice(setting.values)
    if setting.kind == "uniform":
        return rng.uniform(setting.low, setting.high)
    if setting.kind == "loguniform":
        return math.exp(rng.uniform(math.log(setting.low), math.log(setting.high)))
    if setting.kind == "randint":  # high exclusive, as in Ray's tune.randint
        return rng.randrange(int(setting.low), int(setting.high))
    raise ValueError(f"cannot sample a {setting.kind} setting")


def _finish(values: dict) -> dict:
    values["study"] = study_name(values)
    return values


def grid_trials(spec: SweepSpec) -> list[dict]:
    """Every arm x num_samples draws of its sampled settings, each a configuration that trains every seed;
    seeded, so the same spec gives the same list."""
    rng = random.Random(spec.sampler_seed)
    trials = []
    for arm in arms(spec):
        for _ in range(spec.num_samples):
            drawn = {k: sample_value(s, rng) for k, s in arm.sampled.items()}
            trials.append(_finish({**arm.base(), **drawn, "seeds": list(spec.seeds)}))
    return trials


class OptunaSpace:
    """A define-by-run space for OptunaSearch (a class, not a closure: Ray pickles the searcher's state).

    Optuna trial n runs arm n mod (number of arms), so every arm gets num_samples trials. Sampled settings are
    named per arm ("optuna/a3/learning_rate"; Ray nests them under config["optuna"], which trials ignore):
    each arm gets its own TPE model, and conditional settings (rank, alpha only for LoRA) appear only where
    they apply.
    """

    def __init__(self, spec: SweepSpec):
        self.arms = arms(spec)
        self.seeds = list(spec.seeds)

    def __call__(self, trial) -> dict:
        arm = self.arms[trial.number % len(self.arms)]
        drawn = {k: _suggest(trial, f"{OPTUNA_KEY}/a{arm.index}/{k}", s) for k, s in arm.sampled.items()}
        return _finish({**arm.base(), **drawn, "seeds": self.seeds})


def optuna_space(spec: SweepSpec) -> OptunaSpace:
    return OptunaSpace(spec)


def _suggest(trial, name: str, setting: Setting):
    if setting.kind == "choice":
        return trial.suggest_categorical(name, list(setting.values))
    if setting.kind in ("uniform", "loguniform"):
        return trial.suggest_float(name, setting.low, setting.high, log=setting.kind == "loguniform")
    if setting.kind == "randint":
        return trial.suggest_int(name, int(setting.low), int(setting.high) - 1)
    raise ValueError(f"cannot suggest a {setting.kind} setting")


def planned_trials(spec: SweepSpec) -> int:
    """Tune trials, i.e. configurations; each trains len(spec.seeds) seeds."""
    return len(arms(spec)) * spec.num_samples


def _merge(a: dict | None, b: dict) -> dict:
    """One setting's searched values over several studies. Where studies search it differently (a grid for full
    fine-tuning, a loguniform range for LoRA) the result is {"type": "mixed", "parts": [each kind, merged]}."""
    if a is None:
        return b
    parts = a["parts"] if a["type"] == "mixed" else [a]
    for i, part in enumerate(parts):
        if part["type"] == b["type"]:
            if "values" in b:
                merged = list(part["values"])
                merged += [v for v in b["values"] if v not in merged]  # values may be lists (target_modules)
                parts[i] = {**part, "values": merged}
            else:
                parts[i] = {**part, "low": min(part["low"], b["low"]), "high": max(part["high"], b["high"])}
            break
    else:
        parts = [*parts, b]
    return parts[0] if len(parts) == 1 else {"type": "mixed", "parts": parts}


def describe_searched(searched: dict) -> str:
    """`[5e-05, 0.0001] (grid)`, `[1e-05, 0.001] (loguniform)`, joined with ` + ` for a mixed setting."""
    if searched["type"] == "mixed":
        return " + ".join(describe_searched(part) for part in searched["parts"])
    values = searched.get("values", [searched.get("low"), searched.get("high")])
    return f"{values} ({searched['type']})"


def searched_by_study(spec: SweepSpec) -> dict:
    """Study -> setting -> its searched values or range (for the analysis' edge-of-range check)."""
    out: dict = {}
    merged: set = set()  # (study, key, setting): arms of one variant share its settings, each merged once
    for arm in arms(spec):
        name = study_name(arm.base())
        study = out.setdefault(name, {})
        for key, setting in arm.variant.settings.items():
            if setting.searched and key != "r" and (name, key, id(setting)) not in merged:
                merged.add((name, key, id(setting)))
                study[key] = _merge(study.get(key), setting.describe())
        if len(spec.seeds) > 1:
            study["seed"] = {"type": "grid", "values": list(spec.seeds)}
    return out


def searched_settings(spec: SweepSpec) -> dict:
    """Setting -> searched values or range, merged over every study."""
    out: dict = {}
    merged: set = set()  # (key, setting): each Setting once, however many arms share it
    for arm in arms(spec):
        for key, setting in arm.variant.settings.items():
            if setting.searched and (key, id(setting)) not in merged:
                merged.add((key, id(setting)))
                out[key] = _merge(out.get(key), setting.describe())
    if len(spec.seeds) > 1:
        out["seed"] = {"type": "grid", "values": list(spec.seeds)}
    return out

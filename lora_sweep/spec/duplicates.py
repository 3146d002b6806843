"""The same configuration listed twice is refused, as a seed listed twice is: identical trials would race each
other for the same results rows and study (and Fair ASHA would compare a configuration with itself).

Names are compared as the trials will see them: tasks canonical (`sst2` and `SST-2` are one task), local model
folders resolved (spec.local_model); a variant by its method, settings (the train section merged in) and
resources. Two experiments of one model and task with other settings (say, another max_train_samples) are fine.
"""

from __future__ import annotations

from lora_sweep.spec.errors import SpecError


def _shape(variant) -> tuple:
    settings = sorted((key, repr(setting.describe())) for key, setting in variant.settings.items())
    return (variant.method, variant.cpu, variant.gpu, repr(settings))


def check(experiments) -> None:
    """experiments: the parsed Experiment tuple (one per model and task of each entry), in spec order."""
    seen: dict = {}  # (model, task, variant shape) -> (experiment index, variant index)
    for index, e in enumerate(experiments):
        for j, variant in enumerate(e.variants):
            key = (e.model, e.task, _shape(variant))
            if key not in seen:
                seen[key] = (index, j)
                continue
            first, k = seen[key]
            if first == index:
                raise SpecError(
                    f"experiment {e.model}/{e.task}: variants[{j}] repeats variants[{k}] ({variant.method}, same "
                    "settings); identical trials would race each other: list each variant once"
                )
            raise SpecError(
                f"experiments: {e.model}/{e.task} is listed twice with the same settings (a model or task named "
                "twice, e.g. sst2 and SST-2); identical trials would race each other: list each once"
            )

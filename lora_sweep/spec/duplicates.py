"""The same configuration listed twice is refused, as a seed listed twice is: identical trials would race each
other for the same results rows and study (and Fair ASHA would compare a configuration with itself).

Names are compared as the trials will see them: tasks canonical (`sst2` and `SST-2` are one task), local model
folders resolved (spec.local_model), variants by method, settings and resources.
"""

from __future__ import annotations

from lora_sweep.spec.errors import SpecError


def check(experiments) -> None:
    """experiments: the parsed Experiment tuple, one per (model, task), in spec order."""
    seen: dict = {}
    for index, e in enumerate(experiments):
        key = (e.model, e.task)
        if key in seen:
            raise SpecError(
                f"experiments: {e.model}/{e.task} is listed twice (a model or task named twice, e.g. sst2 and "
                "SST-2); identical trials would race each other: list each model and task once"
            )
        seen[key] = index
        variants: dict = {}
        for j, v in enumerate(e.variants):
            shape = (v.method, v.cpu, v.gpu, repr(sorted((k, repr(s.describe())) for k, s in v.settings.items())))
            if shape in variants:
                raise SpecError(
                    f"experiment {e.model}/{e.task}: variants[{j}] repeats variants[{variants[shape]}] "
                    f"({v.method}, same settings); identical trials would race each other: list each variant once"
                )
            variants[shape] = j

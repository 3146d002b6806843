"""What each trial will read or use, checked on the driver before Ray starts (the dry run warns where a file is
missing: its sweep may run later, or elsewhere).

A trial that cannot find its model's tokenizer, its warm-start adapter, its GLUE files or its device fails only
after Ray started and the results folder was written (exit 1, a row per failed trial). These are refused first,
one line each naming the experiment, the key and what is allowed:

- a `random:` model (random weights and no tokenizer: benchmarks only);
- an init_adapter that is not a folder holding adapter_config.json;
- GLUE data: the task's files in glue_dir or $GLUE_DIR, when either is set (the driver tokenizes for every trial);
- max_length: long enough for the task's special tokens and a token of each sentence;
- device cuda / cuda:N: a GPU the trial can see (resources.gpu >= 1) and, on this machine, that many GPUs.
"""

from __future__ import annotations

from pathlib import Path

from lora_sweep.spec.errors import SpecError
from lora_sweep.spec.spec import SweepSpec, Variant
from lora_sweep.trial.config import ConfigError, TrialConfig
from lora_sweep.trial.data import glue_files, local_glue_dir
from lora_sweep.trial.models import RANDOM_PREFIX
from lora_sweep.trial.tasks import get_task


def check(spec: SweepSpec) -> None:
    """What is wrong whatever the machine: a random: model, a GPU device without a GPU resource, a max_length
    too short for the task. Raises SpecError (the dry run and the run alike)."""
    for e in spec.experiments:
        where = f"experiment {e.model}/{e.task}"
        if e.model.startswith(RANDOM_PREFIX):
            raise SpecError(
                f"{where}: model '{e.model}' has random weights and no tokenizer (benchmarks only); allowed in a "
                "sweep: a hub id, a local folder with config.json, or minilm"
            )
        for j, variant in enumerate(e.variants):
            at = f"{where}, variants[{j}] ({variant.method})"
            for device in _strings(variant, "device"):
                _check_device(device, variant, at)
            for length in _values(variant, "max_length"):  # the shortest length depends on the task (config.py)
                try:
                    TrialConfig(task=e.task, method=variant.method, max_length=length)
                except ConfigError as err:
                    raise SpecError(f"{at}: {err}") from None


def check_present(spec: SweepSpec, local: bool) -> None:
    """What must be there when the sweep runs: init_adapter folders, the GLUE files, and (local: Ray runs on this
    machine) a GPU for a cuda device. A run refuses (SpecError); a dry run, whose sweep may run later or
    elsewhere (after the sweep that writes the adapter; where the data are), warns."""
    checked: set = set()
    for e in spec.experiments:
        for j, variant in enumerate(e.variants):
            at = f"experiment {e.model}/{e.task}, variants[{j}] ({variant.method})"
            for folder in _strings(variant, "init_adapter"):
                _check_adapter(folder, at)
            for glue_dir in _strings(variant, "glue_dir") or [None]:
                if (e.task, glue_dir) not in checked:
                    checked.add((e.task, glue_dir))
                    check_glue(e.task, glue_dir, at)
            if local and any(d.startswith("cuda") for d in _strings(variant, "device")):
                _check_local_gpu(at)


def _values(variant: Variant, key: str) -> list:
    setting = variant.settings.get(key)
    if setting is None:
        return []
    return [v for v in (*setting.values, setting.low) if isinstance(v, int) and not isinstance(v, bool)]


def _strings(variant: Variant, key: str) -> list[str]:
    setting = variant.settings.get(key)
    return [v for v in setting.values if isinstance(v, str)] if setting else []


def _check_adapter(folder: str, where: str) -> None:
    if not (Path(folder) / "adapter_config.json").is_file():
        what = "no such folder" if not Path(folder).exists() else "no adapter_config.json in it"
        raise SpecError(
            f"{where}: init_adapter {folder}: {what}; must be a saved adapter folder (lora-sweep train "
            "--save-adapter DIR, or an adapters/ folder of a finished sweep)"
        )


def check_glue(task_name: str, glue_dir: str | None, where: str) -> None:
    task = get_task(task_name)
    local = local_glue_dir(glue_dir)
    if local is None:  # the hub: reached by the driver when it tokenizes, before any trial
        return
    folder, source = local
    for _, file_name in glue_files(task):
        path = Path(folder) / task.dir_name / file_name
        if not path.is_file():
            raise SpecError(
                f"{where}: {source}={folder} has no {task.dir_name}/{file_name}; must be a folder in the GLUE "
                "layout (<folder>/<Task>/train.tsv and its dev file)"
            )


def _check_device(device: str, variant: Variant, where: str) -> None:
    if not device.startswith("cuda"):
        return
    if variant.gpu <= 0:
        raise SpecError(
            f"{where}: device {device} but resources.gpu is {variant.gpu:g}: Ray hides every GPU from such a "
            "trial; set resources.gpu >= 1, or device auto or cpu"
        )
    index = int(device.split(":")[1]) if ":" in device else 0
    if index >= variant.gpu:  # Ray shows a trial only its own GPUs, numbered from 0
        raise SpecError(
            f"{where}: device {device} but a trial sees only its resources.gpu = {variant.gpu:g} GPU(s), numbered "
            "from 0; use cuda (or cuda:0)"
        )


def _check_local_gpu(where: str) -> None:
    import torch  # only when a GPU is asked for: importing torch takes seconds

    if torch.cuda.device_count() == 0:
        raise SpecError(
            f"{where}: device cuda but this machine has no GPU that torch can use; allowed: auto, cpu, or give "
            "ray.address (--address) of a cluster with GPUs"
        )

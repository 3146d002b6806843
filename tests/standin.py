"""Test helpers around the stand-in trial (lora_sweep/standin.py): a spec for it and its CLI as a process."""

from __future__ import annotations

import subprocess
import sys

import yaml


def spec_file(path, learning_rates, epochs, seeds, scheduler=None, tasks=("sst2",)):
    """A grid spec for the stand-in: one LoRA study per task, learning rates x seeds."""
    spec = {
        "name": "standin",
        "experiments": [{"model": "minilm", "task": task} for task in tasks],
        "variants": [{"method": "lora", "r": 4, "learning_rate": {"grid": learning_rates}}],
        "train": {"epochs": epochs, "batch_size": 8},
        "search": {"algorithm": "grid", "max_concurrent": 1, "seeds": seeds},
        "scheduler": scheduler,
        "resources": {"cpu": 1},
        "max_failures": 0,
    }
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _env(epoch_s: float) -> dict:
    from tests.sweep_support import REPO, cli_env

    return {**cli_env(REPO), "STANDIN_EPOCH_S": str(epoch_s)}


def cli(args, epoch_s, log=None, timeout=300):
    """`python -m benchmarks.standin ARGS` from the repository: a finished process, or a running one writing to log."""
    from tests.sweep_support import REPO

    cmd = [sys.executable, "-m", "benchmarks.standin", *map(str, args)]
    if log is None:
        return subprocess.run(cmd, cwd=REPO, env=_env(epoch_s), capture_output=True, text=True, timeout=timeout)
    return subprocess.Popen(cmd, cwd=REPO, env=_env(epoch_s), stdout=log, stderr=subprocess.STDOUT)

"""A stand-in trial for measuring and testing the sweep machinery without training.

It runs through the real trial path (lora_sweep.trial.run_trial's seeds and checkpoints) with a made-up epoch in
place of training: each seed's dev accuracy is a deterministic function of the configuration's learning rate,
the seed and the epoch, and each epoch takes STANDIN_EPOCH_S seconds (default 0.05).

    python -m tests.standin SPEC [lora_sweep.run arguments]   # the real CLI, with the stand-in trainable

Accuracy = quality(learning_rate) + epoch gain + seed noise: QUALITY below gives each learning rate its level, and
the seed noise (+-0.05) is larger than the gap between the two best learning rates (0.02), so seeds raced
against each other would stop the best configuration's own seeds.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time

import yaml

QUALITY = {1e-4: 0.80, 3e-4: 0.82, 1e-3: 0.60}  # learning rate -> level; others 0.5
SEED_NOISE = (0.05, -0.05, 0.0, 0.03, -0.03)


def accuracy(learning_rate: float, seed: int, epoch: int) -> float:
    level = next((v for lr, v in QUALITY.items() if math.isclose(lr, learning_rate)), 0.5)
    return level + 0.01 * epoch + SEED_NOISE[seed % len(SEED_NOISE)]


def standin_epochs(cfg, prepared=None, state_hook=None):
    """train_epochs' protocol (yield a row per epoch, save state through the hook) without a model."""
    saved = state_hook.restore() if state_hook else None
    start = saved["epoch"] + 1 if saved else 1
    best, best_epoch = (saved["best"], saved["best_epoch"]) if saved else (None, None)
    for epoch in range(start, cfg.epochs + 1):
        time.sleep(float(os.environ.get("STANDIN_EPOCH_S", "0.05")))
        score = accuracy(cfg.learning_rate, cfg.seed, epoch)
        if best is None or score > best:
            best, best_epoch = score, epoch
        if state_hook:
            state_hook.save({"epoch": epoch, "best": best, "best_epoch": best_epoch})
        yield {"epoch": epoch, "eval_accuracy": score, "eval_loss": 1 - score, "train_loss": 1 - score}


def standin_trial(config: dict, prepared: dict | None = None, sources: dict | None = None) -> None:
    """lora_sweep.trial.run_trial with the stand-in epochs in place of training."""
    from lora_sweep import trial

    trial.run_trial(config, prepared, epochs_fn=standin_epochs)


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
    """`python -m tests.standin ARGS` from the repository: a finished process, or a running one writing to log."""
    from tests.sweep_support import REPO

    cmd = [sys.executable, "-m", "tests.standin", *map(str, args)]
    if log is None:
        return subprocess.run(cmd, cwd=REPO, env=_env(epoch_s), capture_output=True, text=True, timeout=timeout)
    return subprocess.Popen(cmd, cwd=REPO, env=_env(epoch_s), stdout=log, stderr=subprocess.STDOUT)


def main(argv: list[str]) -> int:
    from lora_sweep import run, sweep

    # Ray names trial folders after the trainable: run_trial_*, as in a real sweep (results_folder.WRITTEN).
    standin_trial.__name__ = "run_trial"
    sweep.run_trial = standin_trial
    sweep.prepare_shared_data = lambda configs, log=print: {}
    return run.main(argv)


if __name__ == "__main__":
    from lora_sweep import run

    run._exit(main(sys.argv[1:]))  # as `python -m lora_sweep.run` exits

"""A stand-in trial for measuring and testing the sweep machinery without training.

It runs through the real trial path (sweep/trial_body.run_trial's seeds and checkpoints) with a made-up epoch
in place of training: each seed's dev accuracy is a deterministic function of the configuration's learning rate,
the seed and the epoch, and each epoch takes STANDIN_EPOCH_S seconds (default 0.05).

    python -m benchmarks.standin SPEC [lora_sweep.run arguments]   # the real CLI, with the stand-in trainable

STANDIN_EPOCH_S sets the seconds per epoch; STANDIN_CPUS the logical CPUs of the local Ray instance (default:
the machine's), so that a sweep of thousands of trials runs many at once on one machine.

Accuracy = quality(learning_rate) + epoch gain + seed noise: QUALITY below gives each learning rate its level, and
the seed noise (+-0.05) is larger than the gap between the two best learning rates (0.02), so seeds raced
against each other would stop the best configuration's own seeds.
"""

from __future__ import annotations

import math
import os
import sys
import time

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


def standin_trial(config: dict, prepared: dict | None = None, results=None, kept_methods=("lora",)) -> None:
    """lora_sweep.sweep.trial_body.run_trial with the stand-in epochs in place of training."""
    from lora_sweep.sweep import trial_body as trial

    trial.run_trial(config, prepared, epochs_fn=standin_epochs)


def main(argv: list[str]) -> int:
    from lora_sweep.cli import run
    from lora_sweep.cluster import trial_inputs
    from lora_sweep.sweep import driver as sweep

    sweep.run_trial = standin_trial
    sweep.prepare_shared_data = lambda configs, log=print: {}
    trial_inputs.check_glue = lambda *args: None  # the stand-in reads no GLUE data
    cpus = os.environ.get("STANDIN_CPUS")
    if cpus:
        init = sweep.ray.init
        sweep.ray.init = lambda *args, **kwargs: init(*args, **({"num_cpus": int(cpus)} | kwargs))
    code = run.main(argv)
    if os.environ.get("LORA_SWEEP_DRIVER_STATS"):  # benchmarks.scale reads the driver's own cost
        from benchmarks.driver_stats import print_stats

        print_stats()
    return code


if __name__ == "__main__":
    from lora_sweep.cli.exit import exit_now

    exit_now(main(sys.argv[1:]))  # as `lora-sweep run` exits

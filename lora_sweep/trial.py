"""The Ray side of one trial: flat Ray config -> TrialConfig -> train_and_evaluate with Ray's report and checkpoints.

Inside a trial only ray.tune.report / get_checkpoint / Checkpoint are used (ray.train.* fails in Tune since 2.51).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import math
import os
import sys
import tempfile

import ray
import torch
from ray import tune

from lora_sweep import provenance
from lora_sweep.space import trial_config
from lora_sweep.tasks import get_task
from lora_sweep.train import TrialData, data_key, prepare_data, train_and_evaluate

STATE_FILE = "trial_state.pt"
FINISHED_KEYS = ("epoch", "best", "best_epoch")  # what the last epoch's checkpoint holds
SCORE = "score"  # every trial reports its task's primary metric under one name, for ASHA and Optuna


class RayStateHook:
    """Checkpoints the trainable state each epoch through tune.report; restores it on resume or retry.

    After the last epoch nothing is left to train: that checkpoint is only a marker (epoch and best score, no
    weights; for full fine-tuning the weights and two Adam moments would be the largest write of the trial).
    A sweep killed before Ray recorded the trial as finished resumes it from the marker, which ends at once.
    """

    def __init__(self, last_epoch: int):
        self._pending: dict | None = None
        self._last_epoch = last_epoch

    def save(self, state: dict) -> None:
        if state["epoch"] >= self._last_epoch:
            state = {k: state[k] for k in FINISHED_KEYS}
        self._pending = state

    def restore(self) -> dict | None:
        checkpoint = tune.get_checkpoint()
        if checkpoint is None:
            return None
        with checkpoint.as_directory() as folder:
            return torch.load(os.path.join(folder, STATE_FILE), weights_only=False)

    def report(self, metrics: dict) -> None:
        if self._pending is None:
            tune.report(metrics)
            return
        with tempfile.TemporaryDirectory(prefix="lora_sweep_ckpt_") as folder:
            torch.save(self._pending, os.path.join(folder, STATE_FILE))
            self._pending = None
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))


def run_trial(config: dict, prepared: dict | None = None, sources: dict | None = None) -> None:
    """The Tune trainable. `prepared` maps data_key(cfg) -> TrialData, shared through Ray's object store;
    `sources` maps the same keys to that data's provenance (provenance.data_provenance, on the driver)."""
    cfg, labels = trial_config(config)
    metric = "eval_" + get_task(cfg.task).primary_metric
    node = ray.get_runtime_context().get_node_id()
    hook = RayStateHook(last_epoch=cfg.epochs)
    data: TrialData | None = (prepared or {}).get(data_key(cfg))
    used: dict = {}  # provenance.PROVENANCE_KEYS: found at the first report, once the model has loaded

    def report(row: dict) -> None:
        score = row.get(metric)
        # A diverged trial reports no metric: -inf ranks it last for ASHA and Optuna without a fake score.
        row = {
            **row,
            SCORE: score if score is not None and math.isfinite(score) else -math.inf,
            "study": labels.get("study", ""),
            "node": node,
        }
        if not used:
            used.update(provenance.trial_provenance(cfg, (sources or {}).get(data_key(cfg)) if data else None))
        hook.report({**row, **used})

    try:
        train_and_evaluate(cfg, report, prepared=data or prepare_data(cfg), state_hook=hook)
    finally:
        release_memory()


def release_memory() -> None:
    """Hand this trial's memory back before the worker runs the next one (reuse_actors)."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)  # glibc keeps freed heap otherwise

"""The Ray side of one trial: flat Ray config -> TrialConfig -> train_and_evaluate with Ray's report and checkpoints.

Inside a trial only ray.tune.report / get_checkpoint / Checkpoint are used (ray.train.* fails in Tune since 2.51).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import math
import os
import pickle
import sys
import tempfile

import ray
import torch
from ray import tune
from safetensors.torch import load_file, save_file

from lora_sweep import scratch
from lora_sweep.space import trial_config
from lora_sweep.tasks import get_task
from lora_sweep.train import TrialData, data_key, prepare_data, train_and_evaluate

STATE_FILE = "trial_state.pt"  # epoch, best, optimizer and scheduler state: loaded with weights_only=True
WEIGHTS_FILE = "trainable_state.safetensors"  # the trainable weights (LoRA and head, or all for full)
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
            return load_checkpoint(folder)

    def report(self, metrics: dict) -> None:
        if self._pending is None:
            tune.report(metrics)
            return
        with tempfile.TemporaryDirectory(prefix=scratch.prefix()) as folder:
            write_checkpoint(self._pending, folder)
            self._pending = None
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))


class CheckpointRefused(RuntimeError):
    """A checkpoint file holds more than tensors and plain values: loading it could run code."""


def write_checkpoint(state: dict, folder: str) -> None:
    """The weights as safetensors, the rest (numbers, optimizer and scheduler state) as a weights-only torch file."""
    state = dict(state)
    weights = state.pop("model", None)
    if weights is not None:
        save_file({k: v.detach().contiguous() for k, v in weights.items()}, os.path.join(folder, WEIGHTS_FILE))
    torch.save(state, os.path.join(folder, STATE_FILE))


def load_checkpoint(folder: str) -> dict:
    """Read write_checkpoint's files without running any code they might carry (weights_only=True)."""
    path = os.path.join(folder, STATE_FILE)
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as err:
        reason = next((line for line in str(err).splitlines() if "GLOBAL" in line or "Unsupported" in line), "")
        raise CheckpointRefused(
            f"checkpoint {path} refused: it holds pickled objects beyond weights and numbers, which could run "
            f"code; resume only results folders you or your cluster wrote ({reason.strip()[:160]})"
        ) from None
    weights = os.path.join(folder, WEIGHTS_FILE)
    if os.path.exists(weights):
        state["model"] = load_file(weights)
    return state


def run_trial(config: dict, prepared: dict | None = None) -> None:
    """The Tune trainable. `prepared` maps data_key(cfg) -> TrialData, shared through Ray's object store."""
    scratch.remove_stale()  # scratch checkpoint folders of killed trials
    cfg, labels = trial_config(config)
    metric = "eval_" + get_task(cfg.task).primary_metric
    node = ray.get_runtime_context().get_node_id()
    hook = RayStateHook(last_epoch=cfg.epochs)

    def report(row: dict) -> None:
        score = row.get(metric)
        # A diverged trial reports no metric: -inf ranks it last for ASHA and Optuna without a fake score.
        row = {
            **row,
            SCORE: score if score is not None and math.isfinite(score) else -math.inf,
            "study": labels.get("study", ""),
            "node": node,
        }
        hook.report(row)

    data: TrialData | None = (prepared or {}).get(data_key(cfg))
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

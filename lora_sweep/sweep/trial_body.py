"""The Ray side of one trial: flat Ray config -> TrialConfig -> train_and_evaluate with Ray's report and checkpoints.

Inside a trial only ray.tune.report / get_checkpoint / Checkpoint are used (ray.train.* fails in Tune since 2.51).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import pickle
import sys
import tempfile
from dataclasses import dataclass

import ray
import torch
from ray import tune
from safetensors.torch import load_file, save_file

from lora_sweep.results import adapters
from lora_sweep.spec.space import trial_config
from lora_sweep.sweep import progress_board, scratch
from lora_sweep.trial.progress import EpochProgress
from lora_sweep.trial.seeds import train_seeds
from lora_sweep.trial.train import TrialData, data_key, prepare_data

SEED_FOLDER = "seed_{}"  # one folder per seed in a trial's checkpoint
STATE_FILE = "trial_state.pt"  # epoch, best, optimizer and scheduler state: loaded with weights_only=True
WEIGHTS_FILE = "trainable_state.safetensors"  # the trainable weights (LoRA and head, or all for full)
FINISHED_KEYS = ("epoch", "best", "best_epoch")  # what the last epoch's checkpoint holds


class SeedStates:
    """Checkpoints the trainable state of every seed of a trial each epoch, in one Ray checkpoint.

    After the last epoch nothing is left to train: that seed's file is only a marker (epoch and best score, no
    weights; for full fine-tuning the weights and two Adam moments would be the largest write of the trial).
    A sweep killed before Ray recorded the trial as finished resumes it from the marker, which ends at once.
    Weights are safetensors and the rest loads with weights_only=True: a results folder cannot run code on resume.
    """

    def __init__(self, seeds: list[int], last_epoch: int, results=None, kept_methods=("lora",)):
        self._last_epoch = last_epoch
        self.results = results  # the sweep's results folder or URI: each seed's best adapter goes under it
        self.kept_methods = kept_methods  # methods whose best weights are kept (adapters.kept_methods)
        self._pending: dict[int, dict] = {}
        self._restored: dict[int, dict] = {}
        self.progress: EpochProgress | None = None  # shared by the seeds' hooks (they train in turn)
        checkpoint = tune.get_checkpoint()
        if checkpoint is not None:
            with checkpoint.as_directory() as folder:
                for seed in seeds:
                    path = os.path.join(folder, SEED_FOLDER.format(seed))
                    if os.path.isdir(path):
                        self._restored[seed] = load_checkpoint(path)

    def hook(self, seed: int) -> _SeedHook:
        return _SeedHook(self, seed)

    def save(self, seed: int, state: dict) -> None:
        if state["epoch"] >= self._last_epoch:
            state = {k: state[k] for k in FINISHED_KEYS}
        self._pending[seed] = state

    def report(self, metrics: dict) -> None:
        if not self._pending:
            tune.report(metrics)
            return
        with tempfile.TemporaryDirectory(prefix=scratch.prefix()) as folder:
            for seed, state in self._pending.items():
                os.mkdir(os.path.join(folder, SEED_FOLDER.format(seed)))
                write_checkpoint(state, os.path.join(folder, SEED_FOLDER.format(seed)))
            self._pending = {}
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))


@dataclass
class _SeedHook:
    states: SeedStates
    seed: int

    def save(self, state: dict) -> None:
        self.states.save(self.seed, state)

    def restore(self) -> dict | None:
        return self.states._restored.get(self.seed)

    @property
    def progress(self) -> EpochProgress | None:
        return self.states.progress

    def keep_best(self, model, cfg, heads) -> None:
        """An epoch beat this seed's best: keep its weights (LoRA and head; lora_sweep/adapters.py)."""
        if self.states.results is not None and cfg.method in self.states.kept_methods:
            trial_id = tune.get_context().get_trial_id()
            adapters.save_best(model, cfg, heads, adapters.trial_location(self.states.results, trial_id, self.seed))


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


def share_data(prepared: dict) -> dict:
    """data_key -> ObjectRef of its TrialData: one object-store object per dataset, so a node fetches only the
    data its trials use, and every trial on that node maps the data's flat arrays zero-copy."""
    return {key: ray.put(value) for key, value in prepared.items()}


def shared_data(prepared: dict | None, key: tuple) -> TrialData | None:
    """The TrialData under `key` in run_trial's `prepared`, fetched from the object store when shared there."""
    data = (prepared or {}).get(key)
    return ray.get(data) if isinstance(data, ray.ObjectRef) else data


def run_trial(
    config: dict,
    prepared: dict | None = None,
    epochs_fn=None,
    results=None,
    kept_methods=("lora",),
) -> None:
    """The Tune trainable: one configuration, its seeds trained side by side (lora_sweep.trial.seeds).

    `prepared` maps data_key(cfg) -> TrialData or its ObjectRef (share_data). `epochs_fn` replaces
    train.train_epochs (lora_sweep/standin.py measures the sweep machinery with a stand-in that does not train).
    `results`: the sweep's results folder or URI, under which each seed's best LoRA adapter (and full model,
    when `kept_methods` names "full") is kept.
    """
    scratch.remove_stale()  # scratch checkpoint folders of killed trials
    cfg, labels = trial_config(config)
    seeds = list(labels.get("seeds") or [cfg.seed])
    node = ray.get_runtime_context().get_node_id()
    states = SeedStates(seeds, last_epoch=cfg.epochs, results=results, kept_methods=kept_methods)
    data = shared_data(prepared, data_key(cfg))

    def report(row: dict) -> None:  # the row says what the trial used (train.py); the sweep adds study and node
        states.report({**row, "study": labels.get("study", ""), "node": node})

    publish = progress_board.publisher(tune.get_context().get_trial_id())
    if publish is not None:  # steps within the epoch, for the status table's `in epoch` column
        states.progress = EpochProgress(lambda snap: publish(snap.short()), every_s=5.0, seeds=len(seeds))
    hooks = {s: states.hook(s) for s in seeds}
    try:
        if epochs_fn is not None:
            train_seeds(cfg, seeds, report, None, hooks, epochs_fn=epochs_fn)
            return
        train_seeds(cfg, seeds, report, data or prepare_data(cfg), hooks)
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

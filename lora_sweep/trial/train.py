"""train_and_evaluate(cfg, report): the one training function every trial runs. Never imports Ray.

Per epoch it trains (AdamW, linear warmup then linear decay), evaluates on the dev split and calls report(dict).
LoRA trains as a pack (pack_train.py): alone, a pack of one, so a seed packed with others ends exactly as it
would alone; full fine-tuning and the other methods train here, on a model of their own. A scheduler checkpoints
and resumes a trial through a TrialStateHook; tests pass list.append. The pieces are in steps.py.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator

import torch

from lora_sweep.trial import data, lora, precision, steps
from lora_sweep.trial.config import TrialConfig
from lora_sweep.trial.pack_train import train_pack
from lora_sweep.trial.progress import EpochProgress
from lora_sweep.trial.steps import (  # noqa: F401 - the pieces, also reached as train.X
    TrialData,
    TrialResult,
    TrialStateHook,
    _cpu_copy,
    _loss,
    _to_device,
    build_model,
    configure_method,
    data_key,
    epoch_seed,
    evaluate,
    init_trainable,
    linear_warmup_decay,
    make_optimizer,
    peak_memory_mb,
    pick_device,
    prepare_data,
    reset_peak_memory,
    save_trained_state,
    train_batch_indices,
    trial_counts,
    warm_start,
    warmup_steps,
)


def train_and_evaluate(
    cfg: TrialConfig,
    report: Callable[[dict], object],
    prepared: TrialData | None = None,
    state_hook: TrialStateHook | None = None,
    progress: EpochProgress | None = None,
) -> TrialResult:
    """Train for cfg.epochs, evaluate after each, report each epoch; stop early on a NaN/inf loss."""
    steps.reset_peak_memory(steps.pick_device(cfg.device))
    epochs = train_epochs(cfg, prepared, state_hook, progress)
    while True:
        try:
            report(next(epochs))
        except StopIteration as done:
            return done.value


def train_epochs(
    cfg: TrialConfig,
    prepared: TrialData | None = None,
    state_hook: TrialStateHook | None = None,
    progress: EpochProgress | None = None,
) -> Generator[dict, None, TrialResult]:
    """The trial body, one epoch per step: yields each epoch's row and returns the TrialResult.

    A caller can step several of these in turn (the seeds of one configuration, lora_sweep.trial.seeds).
    """
    if cfg.method == "lora":  # a pack of one: the code a pack of seeds runs (pack_train.py)
        epochs = train_pack([cfg], prepared, [state_hook], progress)
        while True:
            try:
                yield next(epochs)[0]
            except StopIteration as done:
                return done.value[0]
    device = steps.pick_device(cfg.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    saved = state_hook.restore() if state_hook else None
    if saved and "model" not in saved:
        # A hook may keep only epoch and best after the last epoch: the trial finished before, nothing is left
        # to train, and its weights (and any --save-adapter output) were not kept.
        return TrialResult("completed", saved["epoch"], saved["best"], saved["best_epoch"])
    trial_data = prepared or steps.prepare_data(cfg)
    task = trial_data.task
    model, heads, warm_start_note = steps.build_model(cfg, task.num_labels)
    used = precision.resolve(cfg.precision, device, model_type=model.config.model_type)
    counts = steps.trial_counts(model, cfg, heads, warm_start_note, trial_data)
    model.to(device)
    optimizer = steps.make_optimizer(model, cfg, device)
    steps_per_epoch = math.ceil(len(trial_data.train.labels) / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    scheduler = steps.linear_warmup_decay(optimizer, steps.warmup_steps(cfg.warmup_ratio, total_steps), total_steps)
    metric_key = f"eval_{task.primary_metric}"
    start_epoch, best, best_epoch = 1, None, None
    if saved:
        lora.load_trainable_state_dict(model, saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        start_epoch, best, best_epoch = saved["epoch"] + 1, saved["best"], saved["best_epoch"]
    trainable = [p for p in model.parameters() if p.requires_grad]
    progress = progress or getattr(state_hook, "progress", None)  # steps within the epoch (progress.py)

    for epoch in range(start_epoch, cfg.epochs + 1):
        if progress is not None:
            progress.start(epoch, steps_per_epoch)
        model.train()
        # Dropout draws from the global RNG: seed it per epoch, so a trial resumed at epoch k trains exactly
        # like one that ran through (the batch order is seeded per epoch too).
        torch.manual_seed(steps.epoch_seed(cfg, epoch))
        started, cpu_started = time.perf_counter(), time.process_time()
        loss_sum, seen = torch.zeros((), device=device), 0
        for indices in steps.train_batch_indices(cfg, trial_data.train, epoch):
            batch = steps._to_device(data.collate(trial_data.train, indices, trial_data.pad_token_id), device)
            y = batch.pop("labels")
            with precision.autocast(device, used):
                loss = steps._loss(model(**batch).logits, y, task)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, cfg.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            # Accumulate on the device: a .item() per step would sync CUDA every step.
            loss_sum += loss.detach() * len(y)
            seen += len(y)
            if progress is not None:
                progress.step(len(y))
        train_loss = loss_sum.item() / seen
        epoch_time, cpu_time = time.perf_counter() - started, time.process_time() - cpu_started
        if not math.isfinite(train_loss):
            reason = f"diverged: train loss {train_loss} in epoch {epoch} (lr {cfg.learning_rate})"
            yield {"epoch": epoch, "train_loss": train_loss, "diverged": True, "reason": reason, **counts}
            return TrialResult("diverged", epoch, best, best_epoch, reason)
        metrics = steps.evaluate(model, trial_data.dev, task, cfg, trial_data.pad_token_id, device)
        if best is None or metrics[metric_key] > best:
            best, best_epoch = metrics[metric_key], epoch
            keep_best = getattr(state_hook, "keep_best", None)
            if keep_best is not None:  # a sweep keeps each seed's best weights for its adapters (adapters.py)
                keep_best(model, cfg, heads)
        row = {
            "epoch": epoch,
            **metrics,
            "train_loss": train_loss,
            "lr": scheduler.get_last_lr()[0],
            **counts,
            "epoch_time_s": epoch_time,
            # Process CPU seconds beside the wall seconds: a gap between them is time lost to other work.
            "cpu_time_s": cpu_time,
            "train_samples_per_s": seen / epoch_time,
            "peak_memory_mb": steps.peak_memory_mb(device),
            "diverged": False,
            "precision": used,
        }
        if state_hook:
            state_hook.save(
                {
                    "epoch": epoch,
                    "model": lora.trainable_state_dict(model),
                    # A copy: state_dict() shares the live moment tensors, which the next step changes.
                    "optimizer": steps._cpu_copy(optimizer.state_dict()),
                    "scheduler": scheduler.state_dict(),
                    "best": best,
                    "best_epoch": best_epoch,
                }
            )
        yield row
    saved_bytes = steps.save_trained_state(model, cfg, heads) if cfg.save_adapter else None
    return TrialResult("completed", cfg.epochs, best, best_epoch, saved_bytes=saved_bytes)

"""train_pack(cfgs, ...): LoRA trainings on one frozen model (pack.py), one epoch per step. Never imports Ray.

Every LoRA trial runs here, alone as a pack of one (train.train_epochs), or with the other seeds of its
configuration (seeds.py). Each member is what a trial alone is: its own hook (checkpoints and resume), rows,
divergence, best epoch, kept best weights and saved adapter; a member that diverges leaves the pack and the
others go on. The members of one pack share the data, the batch size and the precision.
"""

from __future__ import annotations

import math
import time
from collections.abc import Generator
from dataclasses import dataclass, field

import torch

from lora_sweep.trial import data, lora, precision
from lora_sweep.trial import steps as train
from lora_sweep.trial.config import TrialConfig
from lora_sweep.trial.pack import Pack, Slot, packable, padding_share, stack_batches
from lora_sweep.trial.progress import EpochProgress
from lora_sweep.trial.steps import TrialData, TrialResult, TrialStateHook


@dataclass
class _Member:
    index: int  # in the Pack
    cfg: TrialConfig
    hook: TrialStateHook | None
    counts: dict
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    params: list[torch.Tensor]
    epoch: int  # the next epoch to train
    best: float | None = None
    best_epoch: int | None = None
    batches: list = field(default_factory=list)
    loss_sum: torch.Tensor | None = None
    seen: int = 0


def train_pack(
    cfgs: list[TrialConfig],
    prepared: TrialData | None = None,
    hooks: list[TrialStateHook | None] | None = None,
    progress: EpochProgress | None = None,
) -> Generator[dict[int, dict], None, dict[int, TrialResult]]:
    """Train cfgs[i] for i in a pack, one epoch of all at a time: yields {i: row} per epoch (the members that
    trained it) and returns {i: TrialResult}. progress (else the first hook's): steps within each epoch."""
    hooks = hooks or [None] * len(cfgs)
    progress = progress or getattr(hooks[0], "progress", None)
    device = train.pick_device(cfgs[0].device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    results: dict[int, TrialResult] = {}
    saved = [hook.restore() if hook else None for hook in hooks]
    for i, state in enumerate(saved):
        if state and "model" not in state:  # finished before: nothing left to train (train.train_epochs)
            results[i] = TrialResult("completed", state["epoch"], state["best"], state["best_epoch"])
    live = [i for i in range(len(cfgs)) if i not in results]
    if not live:
        return results
    trial_data = prepared or train.prepare_data(cfgs[live[0]])
    task = trial_data.task
    model, heads, note = train.build_model(cfgs[live[0]], task.num_labels)
    used = precision.resolve(cfgs[0].precision, device, model_type=model.config.model_type)
    pack = Pack(model, heads)
    if len(live) > 1 and not packable(model):
        raise ValueError(f"pack: {model.config.model_type} models cannot be packed (their dropout is not per row)")
    notes = {live[0]: note}
    slots = {live[0]: 0}
    for i in live[1:]:
        cfg = cfgs[i]
        slots[i] = pack.add_member(cfg.r, cfg.alpha, cfg.dropout)
        with pack.view(slots[i]) as view:
            train.init_trainable(view, cfg, heads)
            notes[i] = train.warm_start(view, cfg, heads)
    if packable(model):
        pack.member_dropouts()
    pack.to(device)
    members: dict[int, _Member] = {}
    steps_per_epoch = math.ceil(len(trial_data.train.labels) / cfgs[live[0]].batch_size)
    for i in live:
        cfg = cfgs[i]
        with pack.view(slots[i]) as view:
            counts = train.trial_counts(view, cfg, heads, notes[i], trial_data)
            optimizer = train.make_optimizer(view, cfg, device)
            total = steps_per_epoch * cfg.epochs
            scheduler = train.linear_warmup_decay(optimizer, train.warmup_steps(cfg.warmup_ratio, total), total)
            member = _Member(slots[i], cfg, hooks[i], counts, optimizer, scheduler, [], epoch=1)
            member.params = [p for p in view.parameters() if p.requires_grad]
            if saved[i]:
                lora.load_trainable_state_dict(view, saved[i]["model"])
                optimizer.load_state_dict(saved[i]["optimizer"])
                scheduler.load_state_dict(saved[i]["scheduler"])
                member.epoch, member.best, member.best_epoch = (
                    saved[i]["epoch"] + 1,
                    saved[i]["best"],
                    saved[i]["best_epoch"],
                )
        if member.epoch > cfg.epochs:
            results[i] = TrialResult("completed", cfg.epochs, member.best, member.best_epoch)
        else:
            members[i] = member
    while members:
        wall, cpu, padding = _train_epoch(pack, members, trial_data, device, used, progress)
        out, size = {}, len(members)
        for i, member in list(members.items()):
            out[i], result = _finish_epoch(pack, member, trial_data, device, used, heads, wall, cpu)
            out[i].update(precision=used, pack_size=size, stack_padding=padding)
            member.epoch += 1
            if result is not None:
                results[i] = result
                del members[i]
        yield out
    return results


def _train_epoch(pack: Pack, members: dict[int, _Member], trial_data: TrialData, device, used: str, progress=None):
    """One epoch of every member, stacked step by step; returns (wall s, CPU s, share of stacked padding)."""
    split, pad_id = trial_data.train, trial_data.pad_token_id
    for member in members.values():
        seed = train.epoch_seed(member.cfg, member.epoch)
        # Each member's batches and dropout masks are seeded per epoch, as a trial alone (resume at epoch k).
        pack.members[member.index].generator = torch.Generator(device).manual_seed(seed)
        member.batches = train.train_batch_indices(member.cfg, split, member.epoch)
        member.loss_sum, member.seen = torch.zeros((), device=device), 0
    # A model whose dropout is not per member (a pack of one: pack.packable) draws from the global RNG.
    torch.manual_seed(train.epoch_seed(next(iter(members.values())).cfg, next(iter(members.values())).epoch))
    order = list(members.values())
    steps = {len(m.batches) for m in order}
    if len(steps) != 1:
        raise ValueError(f"pack: members have different step counts per epoch {sorted(steps)}")
    pack.model.train()
    padded, positions = 0.0, 0
    started, cpu_started = time.perf_counter(), time.process_time()
    n_steps = steps.pop()
    if progress is not None:
        progress.start(order[0].epoch, n_steps)
    for step in range(n_steps):
        batches = [data.collate(split, m.batches[step], pad_id) for m in order]
        stacked, spans = stack_batches(batches, pad_id)
        stacked = train._to_device(stacked, device)
        labels = [train._to_device({"y": b["labels"]}, device)["y"] for b in batches]
        stack = [Slot(m.index, s, e, length) for m, (s, e, length) in zip(order, spans, strict=True)]
        share = padding_share(spans)
        padded, positions = padded + share * spans[-1][1], positions + spans[-1][1]
        with pack.packed(stack) as model, precision.autocast(device, used):
            logits = model(**stacked).logits
        losses = [train._loss(logits[s.start : s.end], y, trial_data.task) for s, y in zip(stack, labels, strict=True)]
        # Disjoint parameters, frozen base: the sum's gradient is each member's own loss gradient.
        torch.stack(losses).sum().backward()
        for member, loss, y in zip(order, losses, labels, strict=True):
            torch.nn.utils.clip_grad_norm_(member.params, member.cfg.max_grad_norm)
            member.optimizer.step()
            member.scheduler.step()
            member.optimizer.zero_grad(set_to_none=True)
            member.loss_sum += loss.detach() * len(y)
            member.seen += len(y)
            if progress is not None:  # each member's step counts, as the seeds of a trial alone would
                progress.step(len(y))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return wall, cpu, (padded / positions if positions else 0.0)


def _finish_epoch(pack: Pack, member: _Member, trial_data: TrialData, device, used, heads, wall: float, cpu: float):
    """A member's row for the epoch just trained, its checkpoint, and its TrialResult when it is done."""
    cfg, epoch = member.cfg, member.epoch
    train_loss = member.loss_sum.item() / member.seen
    if not math.isfinite(train_loss):
        reason = f"diverged: train loss {train_loss} in epoch {epoch} (lr {cfg.learning_rate})"
        row = {"epoch": epoch, "train_loss": train_loss, "diverged": True, "reason": reason, **member.counts}
        return row, TrialResult("diverged", epoch, member.best, member.best_epoch, reason)
    with pack.view(member.index) as view:
        metrics = train.evaluate(view, trial_data.dev, trial_data.task, cfg, trial_data.pad_token_id, device)
        metric_key = f"eval_{trial_data.task.primary_metric}"
        if member.best is None or metrics[metric_key] > member.best:
            member.best, member.best_epoch = metrics[metric_key], epoch
            keep_best = getattr(member.hook, "keep_best", None)
            if keep_best is not None:
                keep_best(view, cfg, heads)
        row = {
            "epoch": epoch,
            **metrics,
            "train_loss": train_loss,
            "lr": member.scheduler.get_last_lr()[0],
            **member.counts,
            "epoch_time_s": wall,
            "cpu_time_s": cpu,
            "train_samples_per_s": member.seen / wall,
            "peak_memory_mb": train.peak_memory_mb(device),
            "diverged": False,
        }
        if member.hook:
            member.hook.save(
                {
                    "epoch": epoch,
                    "model": lora.trainable_state_dict(view),
                    "optimizer": train._cpu_copy(member.optimizer.state_dict()),
                    "scheduler": member.scheduler.state_dict(),
                    "best": member.best,
                    "best_epoch": member.best_epoch,
                }
            )
        if epoch < cfg.epochs:
            return row, None
        saved_bytes = train.save_trained_state(view, cfg, heads) if cfg.save_adapter else None
    return row, TrialResult("completed", cfg.epochs, member.best, member.best_epoch, saved_bytes=saved_bytes)

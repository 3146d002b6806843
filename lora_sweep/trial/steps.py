"""The pieces every training loop here is made of (train.py's loop for one model, pack_train.py's for a pack of
LoRA adapters): data, model building, optimizer and schedule, batches, evaluation, memory, saving. Never imports Ray.
"""

from __future__ import annotations

import contextlib
import math
import resource
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from lora_sweep.trial import data, fingerprints, lora, models, precision
from lora_sweep.trial.atomic import atomic_write
from lora_sweep.trial.config import TrialConfig
from lora_sweep.trial.metrics import compute_metrics, majority_score
from lora_sweep.trial.tasks import GlueTask, get_task


class TrialStateHook(Protocol):
    """Where a trial's trainable state goes each epoch, and where a resumed trial finds it."""

    def save(self, state: dict) -> None: ...

    def restore(self) -> dict | None: ...


@dataclass(frozen=True)
class TrialData:
    """Tokenized train and dev splits: prepared once and shared by every trial that uses them."""

    task: GlueTask
    train: data.TokenizedSplit
    dev: data.TokenizedSplit
    pad_token_id: int
    source: dict = field(default_factory=dict)  # data_source, data_fingerprint of what was read (fingerprints.py)


@dataclass(frozen=True)
class TrialResult:
    status: str  # "completed" or "diverged"
    epochs_run: int
    best_metric: float | None
    best_epoch: int | None
    reason: str = ""
    saved_bytes: int | None = None  # what --save-adapter wrote to disk (None: nothing saved)


def data_key(cfg: TrialConfig) -> tuple:
    """Trials with equal keys can share one TrialData."""
    return (
        cfg.model,
        cfg.task,
        cfg.max_length,
        cfg.max_train_samples,
        cfg.max_eval_samples,
        cfg.data_seed,
        cfg.glue_dir,
        cfg.revision,
        cfg.data_revision,
    )


def prepare_data(cfg: TrialConfig) -> TrialData:
    task = get_task(cfg.task)
    splits = data.load_glue(task, cfg.glue_dir, revision=cfg.data_revision)
    train = data.subsample(splits["train"], cfg.max_train_samples, cfg.data_seed)
    dev = data.subsample(splits["validation"], cfg.max_eval_samples, cfg.data_seed)
    tokenizer = models.load_tokenizer(cfg.model, revision=cfg.revision)
    tokenized = data.tokenize_splits(
        {"train": train, "validation": dev}, tokenizer, task, cfg.max_length, cfg.cache_dir
    )
    source = fingerprints.data_info(cfg)
    return TrialData(task, tokenized["train"], tokenized["validation"], tokenizer.pad_token_id, source)


def pick_device(requested: str) -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def build_model(cfg: TrialConfig, num_labels: int) -> tuple[torch.nn.Module, tuple[str, ...], str]:
    """Load the model, set what trains for cfg.method and warm-start it from cfg.init_adapter; return it with
    its head module names and what it started from (warm_start_note)."""
    # The frozen weights do not depend on the seed (a random-weight model draws them from data_seed), so the
    # seeds of a configuration can share one model (pack.py); the seed draws the new head and LoRA's A.
    model = models.load_model(cfg.model, num_labels, seed=cfg.data_seed, revision=cfg.revision)
    heads = configure_method(model, cfg)
    init_trainable(model, cfg, heads)
    return model, heads, warm_start(model, cfg, heads)


def init_trainable(model: torch.nn.Module, cfg: TrialConfig, heads: tuple[str, ...]) -> None:
    """The seed's start: the new head weights, then LoRA's A matrices, from one generator seeded by cfg.seed."""
    generator = torch.Generator().manual_seed(cfg.seed)
    models.init_head(model, heads, generator)
    lora.init_lora_A(model, generator)


def trial_counts(model: torch.nn.Module, cfg: TrialConfig, heads, warm_start_note: str, trial_data: TrialData) -> dict:
    """What every epoch row of a trial repeats: parameter counts, its start, what it used, the dev set's size."""
    counts = lora.count_parameters(model, heads).as_dict()
    counts["warm_start"] = warm_start_note
    counts.update(fingerprints.used(cfg, trial_data.source))  # what this trial used: host, weights, data
    # What the dev scores are out of: its size, and the majority-class score (a run near it learned nothing).
    counts["dev_examples"] = len(trial_data.dev.labels)
    counts["majority_score"] = majority_score(trial_data.task, trial_data.dev.labels)
    # Size of what a trial must store (LoRA + head, or every weight): the tensors' bytes, as saved in fp32.
    counts["adapter_bytes"] = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    return counts


def warm_start(model: torch.nn.Module, cfg: TrialConfig, heads: tuple[str, ...]) -> str:
    """Load cfg.init_adapter strictly (lora.load_adapter); return the note a trial's rows carry ("" when cold)."""
    if not cfg.init_adapter:
        return ""
    targets = cfg.target_modules or models.default_targets(model.config.model_type)
    loaded, skipped = lora.load_adapter(model, cfg.init_adapter, targets, heads)
    # Head tensors not taken from the adapter: another shape (MNLI's 3 labels), or absent from it.
    fresh = [n for n, _ in model.named_parameters() if lora.in_head(n, heads) and n not in set(loaded)]
    if not fresh:
        return f"{cfg.init_adapter} (LoRA and head)"
    absent = [n for n in fresh if n not in skipped]
    print(
        f"warm start from {cfg.init_adapter}: LoRA loaded; head tensors not loaded (start as the model has them): "
        + "; ".join(
            part
            for part in (
                f"another shape (another label count): {', '.join(skipped)}" if skipped else "",
                f"not in the adapter: {', '.join(absent)}" if absent else "",
            )
            if part
        ),
        file=sys.stderr,
    )
    return f"{cfg.init_adapter} (LoRA; head skipped: {', '.join(fresh)})"


def configure_method(model: torch.nn.Module, cfg: TrialConfig) -> tuple[str, ...]:
    """Inject LoRA or freeze what cfg.method does not train; return the head module names (trained always)."""
    heads = models.head_modules(model.config.model_type)
    if cfg.method == "lora":
        targets = cfg.target_modules or models.default_targets(model.config.model_type)
        lora.inject_lora(model, cfg.r, cfg.alpha, cfg.dropout, targets, head_modules=heads)
    elif cfg.method in ("head", "bitfit"):
        for name, p in model.named_parameters():
            # BitFit (Ben Zaken et al. 2022) trains the bias terms only, plus the head.
            p.requires_grad_(cfg.method == "bitfit" and name.endswith(".bias"))
        lora.set_head_trainable(model, heads)
    return heads


def make_optimizer(model: torch.nn.Module, cfg: TrialConfig, device: torch.device) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            # No weight decay on biases and LayerNorm weights (the BERT recipe).
            (no_decay if p.ndim < 2 else decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.learning_rate, fused=device.type == "cuda")


def linear_warmup_decay(optimizer: torch.optim.Optimizer, warmup: int, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warmup to the learning rate, then linear decay to 0: transformers' get_linear_schedule_with_warmup,
    written out because importing that one also imports transformers.trainer_utils and PEFT (2.4 s per process,
    paid by every Ray worker)."""

    def factor(step: int) -> float:
        if step < warmup:
            return step / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def warmup_steps(ratio: float, total: int) -> int:
    """Warmup steps as transformers' TrainingArguments.get_warmup_steps takes them: rounded up (3 of 35 at 0.06)."""
    return math.ceil(ratio * total)


def epoch_seed(cfg: TrialConfig, epoch: int) -> int:
    return cfg.seed * 100_003 + epoch


def train_batch_indices(cfg: TrialConfig, split: data.TokenizedSplit, epoch: int) -> list[np.ndarray]:
    """One epoch's training batches: seeded per epoch (a trial resumed at epoch k sees the batches it would
    have seen), length-grouped when cfg.group_by_length."""
    return data.batch_indices(
        split.lengths,
        cfg.batch_size,
        shuffle=True,
        seed=epoch_seed(cfg, epoch),
        sort_by_length=cfg.group_by_length,
        group_batches=data.length_group_batches(len(split.labels), cfg.batch_size),
    )


def reset_peak_memory(device: torch.device) -> None:
    """Start this trial's peak afresh: a Ray worker runs trial after trial (reuse_actors), and a process-wide
    peak would carry the largest earlier trial into every later one."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    with contextlib.suppress(OSError):  # Linux: "5" resets the resident-set high-water mark (ru_maxrss too)
        Path("/proc/self/clear_refs").write_text("5")


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def _cpu_copy(value):
    """A deep copy with every tensor cloned to the CPU (a checkpoint that later steps cannot change)."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: _cpu_copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cpu_copy(v) for v in value)
    return value


def _to_device(batch: dict, device: torch.device) -> dict:
    if device.type != "cuda":
        return batch  # already on the CPU
    # From pinned (page-locked) memory the copy runs asynchronously: the CPU collates the next batch meanwhile.
    return {k: v.pin_memory().to(device, non_blocking=True) for k, v in batch.items()}


def _loss(logits: torch.Tensor, labels: torch.Tensor, task: GlueTask) -> torch.Tensor:
    if task.is_regression:
        return F.mse_loss(logits.squeeze(-1).float(), labels.float())
    return F.cross_entropy(logits.float(), labels)


def evaluate(
    model, split: data.TokenizedSplit, task: GlueTask, cfg: TrialConfig, pad_id: int, device: torch.device
) -> dict[str, float]:
    """Dev metrics as eval_<name>, plus eval_loss; batches sorted by length to minimise padding."""
    model.eval()
    outputs, labels, loss_sum = [], [], 0.0
    used = precision.resolve(cfg.precision, device, model_type=getattr(model.config, "model_type", None))
    with torch.inference_mode(), precision.autocast(device, used):
        for batch in data.make_batches(split, cfg.eval_batch_size, pad_id, shuffle=False, seed=0, sort_by_length=True):
            batch = _to_device(batch, device)
            y = batch.pop("labels")
            logits = model(**batch).logits
            loss_sum += _loss(logits, y, task).item() * len(y)
            outputs.append(logits.float().cpu().numpy())
            labels.append(y.cpu().numpy())
    metrics = compute_metrics(task, np.concatenate(outputs), np.concatenate(labels))
    result = {f"eval_{k}": v for k, v in metrics.items()}
    result["eval_loss"] = loss_sum / len(split.labels)
    return result


def save_trained_state(model: torch.nn.Module, cfg: TrialConfig, heads: tuple[str, ...]) -> int:
    """Write what training changed to cfg.save_adapter; return its size in bytes.

    LoRA: PEFT's adapter format (LoRA + head). Other methods: the trainable tensors as safetensors.
    """
    out = Path(cfg.save_adapter)
    if cfg.method == "lora":
        targets = cfg.target_modules or models.default_targets(model.config.model_type)
        lora.save_adapter(model, out, targets, heads, base_model_name_or_path=cfg.model)  # as the user named it
    else:
        state = {k: v.contiguous() for k, v in lora.trainable_state_dict(model).items()}
        atomic_write(out / "trainable_state.safetensors", lambda tmp: save_file(state, tmp))
    return sum(f.stat().st_size for f in out.iterdir() if f.is_file())

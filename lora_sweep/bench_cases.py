"""The benchmark cases of issue 5: each returns {"name", "ratio", "target", "met", "detail"}.

Every ratio is measured side by side in one process: the sides alternate within each repeat (the order rotates
between repeats) and the ratio is the median of the per-repeat ratios, with their min and max as the spread.
Peak memory is a process-wide number, so each side's memory is read in a fresh subprocess (memory_worker).
Cases 1, 2 and 4 import only lora and models (no `datasets`), so they run on bare GPU images too.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModelForSequenceClassification

from lora_sweep import lora, models

REPO_ROOT = Path(__file__).resolve().parents[1]

# Tiny architectures built from configs, for tests and --tiny runs of the benchmark code paths.
_TINY = dict(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
TINY_CONFIGS = {
    "bert": dict(_TINY, max_position_embeddings=64),
    "roberta": dict(_TINY, max_position_embeddings=66, pad_token_id=1, type_vocab_size=1),
    "deberta-v2": dict(
        _TINY,
        max_position_embeddings=64,
        relative_attention=True,
        position_buckets=16,
        pos_att_type=["p2c", "c2p"],
        position_biased_input=False,
        type_vocab_size=0,
    ),
}
TINY_PREFIX = "tiny:"


@dataclass(frozen=True)
class Settings:
    """Sizes and repeat counts of one benchmark run (see bench.make_settings for the presets)."""

    device: str = "cpu"
    models: tuple[str, ...] = ("random:roberta-base",)
    batch_size: int = 8  # cases 1, 2, 4
    seq_len: int = 128
    repeats: int = 6  # side-by-side repeats for cases 1, 2, 4
    steps: int = 1  # steps (or forwards) timed per side per repeat (a CPU step takes seconds)
    warmup: int = 1
    memory_steps: int = 3  # training steps in each memory subprocess
    r: int = 8
    alpha: float = 16.0
    lr: float = 1e-5  # cases 1, 2: only the step time matters
    trial_model: str = "minilm"  # cases 3, 5
    trial_samples: int = 4000
    trial_repeats: int = 3
    trial_eval_samples: int | None = None  # None: the whole dev split
    trial_max_length: int = 128
    padding_eval_samples: int | None = None  # case 5; None: all 872 SST-2 dev sentences
    padding_repeats: int = 3
    glue_dir: str | None = None
    sweep_train_samples: int = 1000  # cases 6, 7: the smoke sweep's SST-2 part at its own sizes (0: not run)
    sweep_eval_samples: int = 400
    sweep_epochs: int = 3


# ---------------------------------------------------------------------------------------------- measuring


def is_met(ratio: float | None, target: str | None) -> bool | None:
    """Compare a ratio with a target written "<= 0.70" or ">= 1.0"; None when either is missing."""
    if ratio is None or target is None:
        return None
    op, _, value = target.strip().partition(" ")
    if op == "<=":
        return ratio <= float(value)
    if op == ">=":
        return ratio >= float(value)
    raise ValueError(f"target must look like '<= 0.70' or '>= 1.0', got {target!r}")


def spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def make_result(name: str, ratios: list[float] | None, target: str | None, detail: dict) -> dict:
    """A case's result: ratio is the median of the per-repeat ratios; the spread goes into detail."""
    ratio = statistics.median(ratios) if ratios else None
    detail = {"status": "ok", **detail}
    if ratios:
        detail.update(ratio_min=min(ratios), ratio_max=max(ratios), ratio_values=ratios)
    return {"name": name, "ratio": ratio, "target": target, "met": is_met(ratio, target), "detail": detail}


def not_run(name: str, why: str, target: str | None = None, **detail) -> dict:
    return {
        "name": name,
        "ratio": None,
        "target": target,
        "met": None,
        "detail": {"status": f"not run: {why}", **detail},
    }


def synchronizer(device: torch.device) -> Callable[[], None]:
    return torch.cuda.synchronize if device.type == "cuda" else lambda: None


def interleave(
    sides: dict[str, Callable[[], object]], repeats: int, steps: int, warmup: int, sync: Callable[[], None]
) -> dict[str, list[float]]:
    """Seconds per call of each side, one value per repeat; the order of the sides rotates every repeat."""
    names = list(sides)
    for name in names:
        for _ in range(warmup):
            sides[name]()
    sync()
    times: dict[str, list[float]] = {n: [] for n in names}
    for rep in range(repeats):
        k = rep % len(names)
        for name in names[k:] + names[:k]:
            sync()
            started = time.perf_counter()
            for _ in range(steps):
                sides[name]()
            sync()
            times[name].append((time.perf_counter() - started) / steps)
    return times


def paired_ratios(times: dict[str, list[float]], num: str, den: str) -> list[float]:
    return [a / b for a, b in zip(times[num], times[den], strict=True)]


def autocast(device: torch.device):
    # As train.py: bf16 autocast on CUDA, float32 on CPU.
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# ---------------------------------------------------------------------------------------------- models


def model_type(name: str) -> str:
    if name.startswith(TINY_PREFIX):
        return name.removeprefix(TINY_PREFIX)
    return models.load_config(name).model_type


def build_model(name: str, device: torch.device, seed: int = 0) -> torch.nn.Module:
    """A 2-label classifier: "tiny:<arch>", "random:<published shape>" (initialised on the device) or a name
    models.load_model knows."""
    torch.manual_seed(seed)
    if name.startswith(TINY_PREFIX):
        config = AutoConfig.for_model(model_type(name), num_labels=2, **TINY_CONFIGS[model_type(name)])
    elif name.startswith(models.RANDOM_PREFIX):
        config = models.load_config(name, num_labels=2)
    else:
        return models.load_model(name, 2, seed=seed).to(device)
    with torch.device(device):  # random init on the GPU: seconds instead of a minute for DeBERTa-v2-xlarge
        return AutoModelForSequenceClassification.from_config(config)


def add_lora(model: torch.nn.Module, name: str, s: Settings) -> torch.nn.Module:
    mtype = model_type(name)
    lora.inject_lora(model, s.r, s.alpha, 0.0, models.default_targets(mtype), models.head_modules(mtype))
    return model


def add_peft_lora(model: torch.nn.Module, name: str, s: Settings) -> torch.nn.Module:
    import peft

    mtype = model_type(name)
    heads = [h for h in models.head_modules(mtype) if hasattr(model, h)]
    config = peft.LoraConfig(
        task_type="SEQ_CLS",
        r=s.r,
        lora_alpha=s.alpha,
        lora_dropout=0.0,
        target_modules=list(models.default_targets(mtype)),
        modules_to_save=heads,
    )
    return peft.get_peft_model(model, config)


def random_batch(model: torch.nn.Module, s: Settings, device: torch.device, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    vocab = model.config.vocab_size
    ids = torch.randint(5, vocab - 1, (s.batch_size, s.seq_len), generator=g)
    labels = torch.randint(0, 2, (s.batch_size,), generator=g)
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
    return {k: v.to(device) for k, v in batch.items()}


def adamw(model: torch.nn.Module, lr: float, device: torch.device, weight_decay: float = 0.01) -> torch.optim.Optimizer:
    """The parameter groups of train.make_optimizer (no decay on biases and norms); kept here so that cases
    1, 2 and 4 import no `datasets` (absent on bare GPU images)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, fused=device.type == "cuda")


def train_step_fn(model: torch.nn.Module, batch: dict, s: Settings, device: torch.device) -> Callable[[], None]:
    """One step as train_and_evaluate takes it: forward, loss, backward, clip to 1.0, AdamW, zero_grad."""
    model.train()
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    labels = batch["labels"]
    optimizer = adamw(model, s.lr, device)
    trainable = [p for p in model.parameters() if p.requires_grad]

    def step() -> None:
        with autocast(device):
            logits = model(**inputs).logits
        F.cross_entropy(logits.float(), labels).backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def trainable_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ---------------------------------------------------------------------------------------------- memory


def memory_worker(spec: dict) -> dict:
    """Run in a fresh process: build one side, take a few training steps, return its peak memory in MiB."""
    s = Settings(**{k: tuple(v) if k == "models" else v for k, v in spec["settings"].items()})
    device = torch.device(s.device)
    model = build_model(spec["model"], device)
    if spec["method"] == "lora":
        add_lora(model, spec["model"], s)
    after_build = _current_memory_mb(device)
    step = train_step_fn(model, random_batch(model, s, device), s, device)
    for _ in range(s.memory_steps):
        step()
    synchronizer(device)()
    if device.type == "cuda":
        peak, kind = torch.cuda.max_memory_allocated(device) / 2**20, "torch.cuda.max_memory_allocated"
    else:
        scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: KiB on Linux, bytes on macOS
        peak, kind = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20, "peak RSS (ru_maxrss)"
    return {"peak_mb": peak, "after_build_mb": after_build, "kind": kind, "steps": s.memory_steps}


def _current_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device) / 2**20
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure_memory(model_name: str, method: str, s: Settings) -> dict:
    """Peak memory of one side, from `python -m lora_sweep.bench --memory-worker` in a fresh process."""
    spec = json.dumps({"model": model_name, "method": method, "settings": s.__dict__})
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run(
        [sys.executable, "-m", "lora_sweep.bench", "--memory-worker", spec],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"memory worker ({method}) failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------- cases


def case_train_step(model_name: str, s: Settings, memory: bool = True) -> dict:
    """Case 1: our LoRA training step against full fine-tuning of the same model, batch and length."""
    device = torch.device(s.device)
    name = f"1. train step LoRA/full [{model_name}]"
    mem = {m: measure_memory(model_name, m, s) for m in ("lora", "full")} if memory else {}
    full = build_model(model_name, device)
    ours = add_lora(copy.deepcopy(full), model_name, s)
    batch = random_batch(full, s, device)
    sides = {"lora": train_step_fn(ours, batch, s, device), "full": train_step_fn(full, batch, s, device)}
    times = interleave(sides, s.repeats, s.steps, s.warmup, synchronizer(device))
    detail = {
        "case": 1,
        "model": model_name,
        "step_s": {k: spread(v) for k, v in times.items()},
        "trainable_params": {"lora": trainable_count(ours), "full": trainable_count(full)},
        "batch_size": s.batch_size,
        "seq_len": s.seq_len,
    }
    summary = f"lora {spread(times['lora'])['median']:.3f} s, full {spread(times['full'])['median']:.3f} s/step"
    if mem:
        detail["memory"] = mem
        detail["memory_ratio"] = mem["lora"]["peak_mb"] / mem["full"]["peak_mb"]
        summary += f"; peak mem lora {mem['lora']['peak_mb']:.0f} MiB, full {mem['full']['peak_mb']:.0f} MiB"
    detail["summary"] = summary
    return make_result(name, paired_ratios(times, "lora", "full"), "<= 0.70", detail)


def case_ours_vs_peft(model_name: str, s: Settings) -> dict:
    """Case 2: our LoRA layer against PEFT's (same r, alpha, targets, dropout 0): training step time."""
    device = torch.device(s.device)
    base = build_model(model_name, device)
    ours = add_lora(copy.deepcopy(base), model_name, s)
    theirs = add_peft_lora(base, model_name, s)
    batch = random_batch(ours, s, device)
    sides = {"ours": train_step_fn(ours, batch, s, device), "peft": train_step_fn(theirs, batch, s, device)}
    times = interleave(sides, s.repeats, s.steps, s.warmup, synchronizer(device))
    detail = {
        "case": 2,
        "model": model_name,
        "step_s": {k: spread(v) for k, v in times.items()},
        "trainable_params": {"ours": trainable_count(ours), "peft": trainable_count(theirs)},
        "summary": f"ours {spread(times['ours'])['median']:.3f} s, peft {spread(times['peft'])['median']:.3f} s/step",
    }
    return make_result(
        f"2. LoRA step ours/PEFT [{model_name}]", paired_ratios(times, "ours", "peft"), "<= 1.00", detail
    )


def case_merged_inference(model_name: str, s: Settings) -> dict:
    """Case 4: inference latency after merge_lora (and unmerged) against the base model without LoRA."""
    device = torch.device(s.device)
    base = build_model(model_name, device).eval()
    unmerged = add_lora(copy.deepcopy(base), model_name, s).eval()
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():  # a non-zero B, so that merging changes the weights as after training
        for _, layer in lora.lora_layers(unmerged):
            layer.lora_B.weight.copy_(torch.randn(layer.lora_B.weight.shape, generator=g) * 0.01)
    merged = copy.deepcopy(unmerged)
    lora.merge_lora(merged)
    inputs = {k: v for k, v in random_batch(base, s, device).items() if k != "labels"}

    def forward(model):
        def run():
            with torch.inference_mode(), autocast(device):
                return model(**inputs).logits

        return run

    sides = {"base": forward(base), "merged": forward(merged), "unmerged": forward(unmerged)}
    times = interleave(sides, s.repeats, s.steps, s.warmup, synchronizer(device))
    diff = (sides["merged"]().float() - sides["unmerged"]().float()).abs().max().item()
    unmerged_ratios = paired_ratios(times, "unmerged", "base")
    detail = {
        "case": 4,
        "model": model_name,
        "forward_s": {k: spread(v) for k, v in times.items()},
        "unmerged_over_base": spread(unmerged_ratios),
        "max_abs_logit_diff_merged_vs_unmerged": diff,
        "batch_size": s.batch_size,
        "seq_len": s.seq_len,
        "summary": f"unmerged/base {statistics.median(unmerged_ratios):.3f} "
        f"({min(unmerged_ratios):.3f}-{max(unmerged_ratios):.3f}); merged vs unmerged logits differ {diff:.1e}",
    }
    return make_result(
        f"4. inference merged/base [{model_name}]", paired_ratios(times, "merged", "base"), "<= 1.02", detail
    )


def _trial_config(s: Settings, train_samples: int, eval_samples: int | None):
    from lora_sweep.config import TrialConfig

    return TrialConfig(
        model=s.trial_model,
        task="sst2",
        method="lora",
        r=s.r,
        alpha=s.alpha,
        dropout=0.0,
        learning_rate=1e-3,
        epochs=1,
        batch_size=32,
        eval_batch_size=128,
        max_length=s.trial_max_length,
        weight_decay=0.01,
        warmup_ratio=0.06,
        seed=0,
        max_train_samples=train_samples,
        max_eval_samples=eval_samples,
        glue_dir=s.glue_dir,
        device=s.device,
    )


def case_trial_vs_trainer(s: Settings) -> dict:
    """Case 3: one epoch of train_and_evaluate against transformers.Trainer + PEFT at the same settings."""
    from lora_sweep import train

    cfg = _trial_config(s, s.trial_samples, s.trial_eval_samples)
    prepared = train.prepare_data(cfg)  # tokenized once, outside the timings, for both sides
    runs: dict[str, list[dict]] = {"ours": [], "trainer": []}
    sides = {"ours": lambda: _run_ours(cfg, prepared), "trainer": lambda: _run_trainer(cfg, prepared, s)}
    for rep in range(s.trial_repeats):
        for side in ("ours", "trainer") if rep % 2 == 0 else ("trainer", "ours"):
            runs[side].append(sides[side]())
            free_memory()
    for run in runs["ours"] + runs["trainer"]:
        # The whole trial: model built, one epoch trained, dev evaluated (what a sweep pays per trial).
        run["trial_samples_per_s"] = len(prepared.train) * cfg.epochs / run["wall_s"]

    def ratio(key: str) -> list[float]:
        return [o[key] / t[key] for o, t in zip(runs["ours"], runs["trainer"], strict=True)]

    acc = {k: [r["dev_accuracy"] for r in v] for k, v in runs.items()}
    sps = {k: spread([r["trial_samples_per_s"] for r in v]) for k, v in runs.items()}
    loop, per_token = ratio("samples_per_s"), ratio("tokens_per_s")
    detail = {
        "case": 3,
        "model": s.trial_model,
        "train_samples": len(prepared.train),
        "dev_samples": len(prepared.dev),
        "group_by_length": cfg.group_by_length,
        "trial_samples_per_s": sps,
        "train_loop_ratio": spread(loop),
        "tokens_per_s_ratio": spread(per_token),
        "dev_accuracy": acc,
        "runs": runs,
        "summary": f"whole trial ours {sps['ours']['median']:.1f}, Trainer {sps['trainer']['median']:.1f} "
        f"samples/s; train loop only {statistics.median(loop):.2f}, padded tokens/s {statistics.median(per_token):.2f}"
        f"; dev acc ours {statistics.median(acc['ours']):.3f}, Trainer {statistics.median(acc['trainer']):.3f}",
    }
    return make_result("3. trial throughput ours/Trainer+PEFT [sst2]", ratio("trial_samples_per_s"), ">= 1.0", detail)


def _run_ours(cfg, prepared) -> dict:
    from lora_sweep import data, train

    rows: list[dict] = []
    started = time.perf_counter()
    train.train_and_evaluate(cfg, rows.append, prepared=prepared)
    row = rows[-1]
    # The padded tokens of the epoch's batches (train_and_evaluate's shuffle seed for epoch 1): random batches
    # differ in padding between the two sides, so tokens/s is the like-for-like speed.
    lengths = prepared.train.lengths
    batches = data.batch_indices(
        lengths,
        cfg.batch_size,
        True,
        cfg.seed * 100_003 + 1,
        cfg.group_by_length,
        data.length_group_batches(len(lengths), cfg.batch_size),
    )
    tokens = int(sum(len(b) * lengths[b].max() for b in batches))
    return {
        "samples_per_s": row["train_samples_per_s"],
        "padded_tokens": tokens,
        "tokens_per_s": tokens / row["epoch_time_s"],
        "epoch_s": row["epoch_time_s"],
        "wall_s": time.perf_counter() - started,
        "dev_accuracy": row["eval_accuracy"],
    }


def _run_trainer(cfg, prepared, s: Settings) -> dict:
    """Hugging Face's way: Trainer + PEFT, DataCollatorWithPadding, the same lr, schedule, decay and epochs."""
    import datasets
    import numpy as np
    from transformers import DataCollatorWithPadding, Trainer, TrainerCallback, TrainingArguments

    started = time.perf_counter()
    model = add_peft_lora(models.load_model(cfg.model, prepared.task.num_labels, seed=cfg.seed), cfg.model, s)
    tokenizer = models.load_tokenizer(cfg.model)
    epoch_times: list[float] = []

    class EpochTimer(TrainerCallback):  # the epoch loop only, as train_and_evaluate times it
        def on_epoch_begin(self, args, state, control, **kwargs):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, args, state, control, **kwargs):
            epoch_times.append(time.perf_counter() - self.t0)

    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out,
            per_device_train_batch_size=cfg.batch_size,
            per_device_eval_batch_size=cfg.eval_batch_size,
            learning_rate=cfg.learning_rate,
            num_train_epochs=cfg.epochs,
            warmup_steps=cfg.warmup_ratio,  # transformers 5: a float in [0, 1) is a ratio of the total steps
            lr_scheduler_type="linear",
            weight_decay=cfg.weight_decay,
            max_grad_norm=cfg.max_grad_norm,
            eval_strategy="no",
            save_strategy="no",
            logging_strategy="no",
            report_to="none",
            disable_tqdm=True,
            use_cpu=s.device == "cpu",
            bf16=s.device.startswith("cuda"),
            seed=cfg.seed,
            # Trainer's group_by_length (train and eval batches), as our group_by_length; "random" otherwise.
            train_sampling_strategy="group_by_length" if cfg.group_by_length else "random",
            include_num_input_tokens_seen="all",  # padded tokens, for tokens/s
        )
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=_hf_dataset(prepared.train, datasets),
            data_collator=DataCollatorWithPadding(tokenizer),
            callbacks=[EpochTimer()],
        )
        output = trainer.train()
        predictions = trainer.predict(_hf_dataset(prepared.dev, datasets))
    logits = predictions.predictions[0] if isinstance(predictions.predictions, tuple) else predictions.predictions
    accuracy = float((np.argmax(logits, axis=-1) == predictions.label_ids).mean())
    return {
        "samples_per_s": len(prepared.train) * cfg.epochs / sum(epoch_times),
        "padded_tokens": int(trainer.state.num_input_tokens_seen),
        "tokens_per_s": int(trainer.state.num_input_tokens_seen) / sum(epoch_times),
        "epoch_s": sum(epoch_times),
        "trainer_train_samples_per_second": output.metrics.get("train_samples_per_second"),
        "wall_s": time.perf_counter() - started,
        "dev_accuracy": accuracy,
    }


def _hf_dataset(split, datasets):
    columns = {
        "input_ids": split.input_ids,
        "attention_mask": [[1] * len(ids) for ids in split.input_ids],
        "labels": split.labels.tolist(),
        "length": split.lengths.tolist(),  # read by Trainer's length-grouped sampler
    }
    if split.token_type_ids is not None:
        columns["token_type_ids"] = split.token_type_ids
    return datasets.Dataset.from_dict(columns)


def case_dynamic_padding(s: Settings) -> dict:
    """Case 5: evaluating SST-2 dev with dynamic padding (as evaluate does) against padding to max_length."""
    from lora_sweep import data, train

    cfg = _trial_config(s, 64, s.padding_eval_samples)
    prepared = train.prepare_data(cfg)
    device = torch.device(s.device)
    model = models.load_model(cfg.model, prepared.task.num_labels, seed=0).to(device).eval()
    dev, pad = prepared.dev, prepared.pad_token_id
    predictions: dict[str, torch.Tensor] = {}

    def evaluate(name: str, sort: bool, pad_to: int | None):
        def run():
            preds = torch.empty(len(dev), dtype=torch.long)
            for idx in data.batch_indices(dev.lengths, cfg.eval_batch_size, False, 0, sort_by_length=sort):
                batch = data.collate(dev, idx, pad, pad_to)
                batch.pop("labels")
                with torch.inference_mode(), autocast(device):
                    logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
                preds[torch.as_tensor(idx)] = logits.argmax(-1).cpu()
            predictions[name] = preds

        return run

    sides = {
        "dynamic": evaluate("dynamic", True, None),  # what train.evaluate does: sorted by length, padded per batch
        "padded": evaluate("padded", False, cfg.max_length),
        "dynamic_unsorted": evaluate("dynamic_unsorted", False, None),
    }
    times = interleave(sides, s.padding_repeats, 1, 1 if s.padding_repeats > 1 else 0, synchronizer(device))
    labels = torch.as_tensor(dev.labels)
    acc = {k: (v == labels).float().mean().item() for k, v in predictions.items()}
    unsorted = paired_ratios(times, "padded", "dynamic_unsorted")
    sps = {k: spread([len(dev) / t for t in v]) for k, v in times.items()}
    detail = {
        "case": 5,
        "model": s.trial_model,
        "dev_samples": len(dev),
        "mean_tokens": float(dev.lengths.mean()),
        "max_length": cfg.max_length,
        "samples_per_s": sps,
        "dynamic_unsorted_over_padded": spread(unsorted),
        "accuracy": acc,
        "summary": f"dynamic {sps['dynamic']['median']:.0f}, padded {sps['padded']['median']:.0f} samples/s; "
        f"unsorted dynamic/padded {statistics.median(unsorted):.2f}; mean length {dev.lengths.mean():.1f} tokens",
    }
    # Throughput ratio dynamic/padded = padded time / dynamic time.
    return make_result(
        "5. eval throughput dynamic/padded [sst2]", paired_ratios(times, "padded", "dynamic"), None, detail
    )

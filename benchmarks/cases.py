"""Benchmark cases 1, 2 and 4 (model steps) and the measuring helpers every case uses. Each case returns
{"name", "ratio", "target", "met", "detail"}; cases 3 and 5 are in bench_trial.py, 6 and 7 in bench_sweep.py.

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
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModelForSequenceClassification

from lora_sweep.trial import lora, models

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
    repeats: int = 20  # side-by-side repeats for cases 1, 2, 4 (each alternates the sides: drift cancels)
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
    pack_samples: int = 512  # cases 8, 10: SST-2 sentences each member trains on
    pack_repeats: int = 2  # cases 8, 10: side-by-side repeats
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
    heads = lora.present_heads(model, models.head_modules(mtype))  # the whole head, as our LoRA trains it
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
    """Peak memory of one side, from `python -m benchmarks.bench --memory-worker` in a fresh process."""
    spec = json.dumps({"model": model_name, "method": method, "settings": s.__dict__})
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench", "--memory-worker", spec],
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

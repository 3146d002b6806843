"""A trial's memory, estimated from its model's config before anything loads, against the memory it will have.

Estimate (bytes, fp32 training as lora_sweep does it):

- per seed (a trial keeps each seed's model and optimizer while its seeds train in turn, trial/seeds.py):
  weights 4 x all parameters, AdamW's two moments 8 x trainable parameters;
- once: gradients 4 x trainable, and the activations kept for the backward pass, per layer
  68 s b h + 10 a s^2 b bytes (Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer
  Models", Sec. 4.1: 34 s b h + 5 a s^2 b at 16 bits), s the max_length, b the batch size, h the hidden size,
  a the attention heads. LoRA does not shrink them: gradients flow through the frozen layers to the lower ones.

It is an estimate (the allocator, the tokenizer and Python add a few hundred MB): what cannot fit is refused, with
the numbers; what fits is shown in the plan.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

GIB = 2**30
OVERHEAD = 1 * GIB  # torch, transformers, tokenizers, the data: what a trial holds besides the model


@dataclass(frozen=True)
class Estimate:
    weights: int
    optimizer: int
    gradients: int
    activations: int

    @property
    def total(self) -> int:
        return self.weights + self.optimizer + self.gradients + self.activations + OVERHEAD

    def describe(self) -> str:
        parts = ("weights", "optimizer", "gradients", "activations")
        return ", ".join(f"{p} {getattr(self, p) / GIB:.1f}" for p in parts) + f", overhead {OVERHEAD / GIB:.1f} GiB"


def estimate(config, total_params: int, trainable: int, batch: int, length: int, seeds: int) -> Estimate:
    """config: the model's transformers config (hidden_size, num_hidden_layers, num_attention_heads)."""
    hidden = getattr(config, "hidden_size", 0) or 0
    layers = getattr(config, "num_hidden_layers", 0) or 0
    heads = getattr(config, "num_attention_heads", 1) or 1
    per_layer = 68 * length * batch * hidden + 10 * heads * length * length * batch
    return Estimate(
        weights=4 * total_params * seeds,
        optimizer=8 * trainable * seeds,
        gradients=4 * trainable,
        activations=per_layer * layers,
    )


def machine_bytes() -> int | None:
    """This machine's physical memory, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def gpu_bytes() -> int | None:
    """The smallest GPU's memory on this machine, or None without one."""
    import torch

    if not torch.cuda.is_available():
        return None
    return min(torch.cuda.get_device_properties(i).total_memory for i in range(torch.cuda.device_count()))


def refusal(study: str, need: Estimate, have: int, where: str) -> str | None:
    """The one-line reason a trial of `study` cannot fit in `have` bytes of `where`, or None when it fits."""
    if need.total <= have:
        return None
    return (
        f"study {study}: a trial needs about {need.total / GIB:.1f} GiB ({need.describe()}) but {where} has "
        f"{have / GIB:.1f} GiB; lower train.batch_size or max_length, use fewer seeds per trial, a smaller model, "
        "or a machine with more memory"
    )

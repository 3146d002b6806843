"""Tiny sequence-classification models built from configs (no download), one per architecture we default."""

from __future__ import annotations

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification

from lora_sweep.bench_cases import TINY_CONFIGS

# The benchmark's tiny shapes (bench --tiny uses the same): one table of tiny architectures.
CONFIGS = TINY_CONFIGS
ARCHS = tuple(CONFIGS)


def tiny_model(arch: str, num_labels: int = 2, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    config = AutoConfig.for_model(arch, num_labels=num_labels, **CONFIGS[arch])
    return AutoModelForSequenceClassification.from_config(config).eval()


def tiny_batch(seed: int = 1, batch: int = 3, length: int = 10) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, 100, (batch, length), generator=g)
    mask = torch.ones_like(ids)
    mask[0, -3:] = 0  # one padded row, so masking is exercised
    return {"input_ids": ids, "attention_mask": mask}


def save_tiny_config(arch: str, directory, **overrides) -> str:
    """A local model folder holding only config.json (enough for a dry run's checks): no weights, no tokenizer."""
    config = AutoConfig.for_model(arch, num_labels=2, **{**CONFIGS[arch], **overrides})
    config.save_pretrained(directory)
    return str(directory)

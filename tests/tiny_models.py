"""Tiny sequence-classification models built from configs (no download), one per architecture we default."""

from __future__ import annotations

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification

from benchmarks.cases import TINY_CONFIGS

# The benchmark's tiny shapes (bench --tiny uses the same), and a DistilBERT (its own head: pre_classifier).
CONFIGS = {
    **TINY_CONFIGS,
    "distilbert": dict(
        vocab_size=120,
        hidden_size=32,  # DistilBertConfig maps hidden_size, num_hidden_layers, num_attention_heads to its names
        num_hidden_layers=2,
        num_attention_heads=4,
        hidden_dim=64,
        max_position_embeddings=64,
    ),
}
ARCHS = tuple(CONFIGS)


def tiny_model(arch: str, num_labels: int = 2, seed: int = 0, **overrides) -> torch.nn.Module:
    torch.manual_seed(seed)
    config = AutoConfig.for_model(arch, num_labels=num_labels, **{**CONFIGS[arch], **overrides})
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

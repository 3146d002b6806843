"""Tiny sequence-classification models built from configs (no download), one per architecture we default."""

from __future__ import annotations

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification

SMALL = dict(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
CONFIGS = {
    "roberta": dict(SMALL, max_position_embeddings=66, pad_token_id=1, type_vocab_size=1),
    "bert": dict(SMALL, max_position_embeddings=64),
    "deberta-v2": dict(
        SMALL,
        max_position_embeddings=64,
        relative_attention=True,
        position_buckets=16,
        pos_att_type=["p2c", "c2p"],
        position_biased_input=False,
        type_vocab_size=0,
    ),
}
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

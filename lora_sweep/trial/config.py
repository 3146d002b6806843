"""The typed, validated trial configuration. Every error message about a setting lives here.

Raw dicts (from YAML, Ray's flat trial configs or the command line) become a frozen TrialConfig once, through
TrialConfig.from_dict; nothing downstream handles raw dicts.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field, fields, replace

from lora_sweep.trial.tasks import TASKS, get_task

PRECISIONS = ("auto", "fp32", "bf16")  # as precision.PRECISIONS; config.py stays free of torch

METHODS = ("full", "lora", "head", "bitfit")
LORA_ONLY = ("r", "alpha", "dropout", "target_modules", "init_adapter")
MIN_LENGTH, MIN_LENGTH_PAIR = 4, 8  # shortest max_length: special tokens plus a token per sentence
FOLDER_KEYS = ("init_adapter", "glue_dir", "cache_dir", "save_adapter")  # settings naming a folder

# Default learning rates per method when a config gives none. LoRA: paper Table 9 (RoBERTa-base, 4e-4 to 5e-4);
# full fine-tuning: the usual 1e-5..5e-5 range for BERT-style models; head-only and BitFit train few weights
# and take larger steps (BitFit, Ben Zaken et al. 2022, uses 1e-4..1e-3).
DEFAULT_LR = {"full": 5e-5, "lora": 5e-4, "head": 1e-3, "bitfit": 1e-3}


class ConfigError(ValueError):
    """A bad setting: the message is one line naming the key and what is allowed."""


def suggest(key: str, allowed) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


@dataclass(frozen=True)
class TrialConfig:
    """Everything one trial needs. LoRA-only fields are ignored (and None) for other methods."""

    model: str = "minilm"
    task: str = "sst2"
    method: str = "lora"
    r: int | None = 8
    alpha: float | None = 16.0
    dropout: float | None = 0.0
    target_modules: tuple[str, ...] | None = None  # None: the architecture's default (models.DEFAULT_TARGETS)
    init_adapter: str | None = None  # warm start from a saved PEFT-format adapter (paper Sec. 5.2: from MNLI)
    learning_rate: float | None = None  # None: DEFAULT_LR[method]
    epochs: int = 3
    batch_size: int = 32
    # Training batches of similar lengths, sorted within random groups of up to 50 batches (as Hugging Face's
    # group_by_length): far less padding on short-sentence tasks; false: plain random batches.
    group_by_length: bool = True
    eval_batch_size: int = 128
    max_length: int = 128
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06  # paper Table 9
    max_grad_norm: float = 1.0
    seed: int = 0
    data_seed: int = 0  # fixes the training subsample, so seeds vary training only, not the data
    max_train_samples: int | None = None
    max_eval_samples: int | None = None
    glue_dir: str | None = None  # None: $GLUE_DIR, else the hub
    # Hub revisions (branch, tag or commit) of the model and of the dataset (nyu-mll/glue); None: the default
    # branch. A local folder or GLUE_DIR has none: its content hash is recorded instead (provenance.py).
    revision: str | None = None
    data_revision: str | None = None
    cache_dir: str | None = None  # tokenized-data cache shared by trials
    device: str = "auto"
    # auto: bf16 autocast (float32 master weights) where the chip has native bf16, else fp32 (precision.py).
    precision: str = "auto"
    # Largest number of LoRA trainings (the seeds of one configuration) trained together on one frozen model
    # (pack.py); 1: each seed alone. Other methods are never packed. Default 1 until a quiet machine shows
    # packing pays (docs/performance.md, "Packing and precision": so far measured only on a saturated one).
    pack: int = 1
    save_adapter: str | None = None  # folder for the trained state at the end (PEFT format for LoRA)
    extra: dict = field(default_factory=dict, compare=False, repr=False)  # sweep labels, not used in training

    def __post_init__(self):
        self._validate()
        # Canonical task name ("SST-2" -> "sst2"), so that equal tasks give equal data keys and table rows.
        object.__setattr__(self, "task", _canonical_task(self.task))
        if self.method != "lora":
            for key in LORA_ONLY:
                object.__setattr__(self, key, None)
        if isinstance(self.target_modules, str):
            object.__setattr__(self, "target_modules", tuple(t.strip() for t in self.target_modules.split(",")))
        elif isinstance(self.target_modules, list):
            object.__setattr__(self, "target_modules", tuple(self.target_modules))
        if self.learning_rate is None:
            object.__setattr__(self, "learning_rate", DEFAULT_LR[self.method])

    def _validate(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(
                f"method: unknown '{self.method}'; allowed: {', '.join(METHODS)}{suggest(self.method, METHODS)}"
            )
        if self.method == "lora":
            _check(_is_int(self.r) and self.r >= 1, "r", self.r, "an integer >= 1")
            _check(_is_num(self.alpha) and self.alpha > 0, "alpha", self.alpha, "a number > 0")
            _check(_is_num(self.dropout) and 0 <= self.dropout < 1, "dropout", self.dropout, "a number in [0, 1)")
            _check(
                self.target_modules is None or _is_target_list(self.target_modules),
                "target_modules",
                self.target_modules,
                "null (the architecture's default) or module-name suffixes, e.g. query,value (none empty)",
            )
        if self.learning_rate is not None:
            _check(
                _is_num(self.learning_rate) and self.learning_rate > 0,
                "learning_rate",
                self.learning_rate,
                "a number > 0",
            )
        for key in ("epochs", "batch_size", "eval_batch_size", "max_length"):
            value = getattr(self, key)
            _check(_is_int(value) and value >= 1, key, value, "an integer >= 1")
        for key in ("revision", "data_revision"):
            value = getattr(self, key)
            _check(
                value is None or (isinstance(value, str) and value.strip() == value and value != ""),
                key,
                value,
                "a non-empty hub revision (branch, tag or commit; quote it in YAML) or null",
            )
        _check(isinstance(self.group_by_length, bool), "group_by_length", self.group_by_length, "true or false")
        if _is_int(self.max_length) and self.max_length >= 1:
            # The tokenizer adds [CLS] and a [SEP] per sentence (RoBERTa two between a pair) and ignores a max_length
            # below those: each sentence keeps at least a token past them, or the setting does nothing.
            pair = len(_task_or_none(self.task).text_columns) > 1 if _task_or_none(self.task) else False
            least = MIN_LENGTH_PAIR if pair else MIN_LENGTH
            _check(
                self.max_length >= least,
                "max_length",
                self.max_length,
                f"an integer >= {least} for {'sentence pairs' if pair else 'single sentences'} (special tokens "
                "take the rest)",
            )
        for key in ("max_train_samples", "max_eval_samples"):
            value = getattr(self, key)
            _check(value is None or (_is_int(value) and value >= 1), key, value, "an integer >= 1 or null")
        _check(
            _is_num(self.weight_decay) and self.weight_decay >= 0, "weight_decay", self.weight_decay, "a number >= 0"
        )
        _check(
            _is_num(self.warmup_ratio) and 0 <= self.warmup_ratio < 1,
            "warmup_ratio",
            self.warmup_ratio,
            "a number in [0, 1)",
        )
        _check(
            _is_num(self.max_grad_norm) and self.max_grad_norm > 0, "max_grad_norm", self.max_grad_norm, "a number > 0"
        )
        _check(self.precision in PRECISIONS, "precision", self.precision, "auto, fp32 or bf16")
        _check(_is_int(self.pack) and self.pack >= 1, "pack", self.pack, "an integer >= 1 (1: no packing)")
        _check(
            isinstance(self.device, str) and re.fullmatch(r"auto|cpu|cuda(:[0-9]{1,3})?", self.device) is not None,
            "device",
            self.device,
            "auto, cpu, cuda or cuda:N (N a GPU index)",
        )
        for key in FOLDER_KEYS:  # a number or a list here would fail inside the trial, after Ray started
            value = getattr(self, key)
            _check(
                value is None or (isinstance(value, str) and value.strip() != "" and "\x00" not in value),
                key,
                value,
                "a folder path (a string) or null",
            )

    @classmethod
    def from_dict(cls, values: dict) -> TrialConfig:
        """Build from a flat dict; unknown keys are an error that suggests the nearest valid key."""
        names = {f.name for f in fields(cls)} - {"extra"}
        for key in values:
            if key not in names:
                raise ConfigError(f"unknown trial setting '{key}'{suggest(key, names)}")
        return cls(**values)

    def with_changes(self, **changes) -> TrialConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}


def _task_or_none(name):
    try:
        return get_task(name)
    except ValueError:  # reported by _canonical_task
        return None


def _canonical_task(name) -> str:
    try:
        return get_task(name).name
    except ValueError as err:
        raise ConfigError(f"task: {err}{suggest(str(name).lower(), TASKS)}") from None


def _is_num(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_target_list(value) -> bool:
    names = value.split(",") if isinstance(value, str) else value
    return isinstance(names, (list, tuple)) and len(names) > 0 and all(isinstance(n, str) and n.strip() for n in names)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check(ok: bool, key: str, value, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"{key}: got {value!r}; must be {allowed}")

"""The LoRA paper's reported GLUE dev scores (Hu et al., ICLR 2022, Table 2), as data.

Scores are percentages: accuracy, except MNLI (overall accuracy), CoLA (Matthews correlation) and
STS-B (Pearson correlation); each is the median over 5 seeds of the best epoch.
"""

from __future__ import annotations

# Column order of the paper's Table 2, as our canonical lower-case task names.
TASKS = ("mnli", "sst2", "mrpc", "cola", "qnli", "qqp", "rte", "stsb")

# (paper model, our method) -> scores in TASKS order.
_TABLE2: dict[tuple[str, str], tuple[float, ...]] = {
    ("RoBERTa-base", "full"): (87.6, 94.8, 90.2, 63.6, 92.8, 91.9, 78.7, 91.2),
    ("RoBERTa-base", "bitfit"): (85.0, 93.7, 92.7, 62.0, 91.8, 84.0, 81.5, 90.8),
    ("RoBERTa-base", "lora"): (87.5, 95.1, 89.7, 63.4, 93.3, 90.8, 86.6, 91.5),
    ("RoBERTa-large", "full"): (90.2, 96.4, 90.9, 68.0, 94.7, 92.2, 86.6, 92.4),
    ("RoBERTa-large", "lora"): (90.6, 96.2, 90.9, 68.2, 94.9, 91.6, 87.4, 92.6),
    ("DeBERTa-XXL", "full"): (91.8, 97.2, 92.0, 72.0, 96.0, 92.7, 93.9, 92.9),
    ("DeBERTa-XXL", "lora"): (91.9, 96.9, 92.6, 72.4, 96.0, 92.9, 94.9, 93.0),
}

# Trainable parameters the paper reports (Table 2 "# Trainable Parameters"; head excluded).
PAPER_PARAMS: dict[tuple[str, str], float] = {
    ("RoBERTa-base", "full"): 125e6,
    ("RoBERTa-base", "bitfit"): 0.1e6,
    ("RoBERTa-base", "lora"): 0.3e6,
    ("RoBERTa-large", "full"): 355e6,
    ("RoBERTa-large", "lora"): 0.8e6,
    ("DeBERTa-XXL", "full"): 1500e6,
    ("DeBERTa-XXL", "lora"): 4.7e6,
}

# LoRA rank behind the paper's numbers: r=8 on RoBERTa, r=16 on DeBERTa-XXL (Table 9).
PAPER_LORA_RANK = {"RoBERTa-base": 8, "RoBERTa-large": 8, "DeBERTa-XXL": 16}

_METHOD_LABEL = {"full": "FT", "bitfit": "BitFit", "lora": "LoRA"}

# Hub ids (without the organisation) -> the paper's model names. Anything else has no paper number:
# deberta-v2-xlarge is not the paper's XXL model, so it must not borrow its scores.
_MODEL_ALIASES = {
    "roberta-base": "RoBERTa-base",
    "roberta-large": "RoBERTa-large",
    "deberta-v2-xxlarge": "DeBERTa-XXL",
    "deberta-xxl": "DeBERTa-XXL",
}


def paper_model(model: str) -> str | None:
    """Our model name or hub id (e.g. 'FacebookAI/roberta-base') -> the paper's name, or None."""
    if not isinstance(model, str) or not model.strip():
        return None
    return _MODEL_ALIASES.get(model.strip().rstrip("/").rsplit("/", 1)[-1].lower())


def paper_score(model: str, task: str, method: str) -> float | None:
    """The paper's Table 2 score (percent) for (model, task, method), or None when it reports none."""
    name = paper_model(model)
    task = str(task).lower().replace("-", "")
    scores = _TABLE2.get((name, str(method).lower())) if name else None
    if scores is None or task not in TASKS:
        return None
    return scores[TASKS.index(task)]


def paper_label(model: str, method: str) -> str:
    """How the paper's number is labelled beside ours, e.g. 'paper LoRA (r=8)'; '' when none."""
    name = paper_model(model)
    method = str(method).lower()
    if name is None or (name, method) not in _TABLE2:
        return ""
    if method == "lora":
        return f"paper LoRA (r={PAPER_LORA_RANK[name]})"
    return f"paper {_METHOD_LABEL[method]}"


def paper_params(model: str, method: str) -> float | None:
    """Trainable parameters the paper reports for (model, method), head excluded, or None."""
    name = paper_model(model)
    return PAPER_PARAMS.get((name, str(method).lower())) if name else None

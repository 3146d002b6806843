"""What a dev score is out of: the dev set's size, what one example is worth, and the majority-class score.

lora_sweep records both per trial (dev_examples, majority_score: what always predicting the dev set's most
common label scores). Tables from before that fall back to the full GLUE dev sets' sizes (Wang et al. 2019,
Table 1) and, where counted here from the GLUE files, their majority-class scores; a dev subset
(max_eval_samples) is a random sample, so its majority-class score is unknown without the record.
"""

from __future__ import annotations

import math

import pandas as pd

# GLUE dev set sizes (MNLI: the matched set, which this project scores).
FULL_DEV = {"cola": 1043, "sst2": 872, "mrpc": 408, "stsb": 1500, "qqp": 40430, "mnli": 9815, "qnli": 5463,
            "rte": 277, "wnli": 71}  # fmt: skip
# Majority-class scores (%) of full dev sets: MRPC 279 of 408 paraphrases, SST-2 444 of 872 positive (counted from
# the GLUE files); CoLA's Matthews correlation of a constant prediction is 0 by definition.
FULL_DEV_MAJORITY = {"mrpc": 100 * 279 / 408, "sst2": 100 * 444 / 872, "cola": 0.0}
NOT_LEARNED = "not learned"


def _number(value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def dev_size(task: str, recorded, max_eval_samples) -> float:
    """The dev examples a score is out of: the recorded count, else the full dev set cut to max_eval_samples."""
    recorded, cap = _number(recorded), _number(max_eval_samples)
    if not math.isnan(recorded):
        return recorded
    full = FULL_DEV.get(str(task).lower())
    if full is None:
        return math.nan
    return float(min(full, cap)) if not math.isnan(cap) else float(full)


def majority(task: str, recorded, dev_examples) -> float:
    """The majority-class score (%): recorded, else the full dev set's when the score is out of all of it."""
    recorded = _number(recorded)
    if not math.isnan(recorded):
        return recorded
    task = str(task).lower()
    if task in FULL_DEV_MAJORITY and _number(dev_examples) == FULL_DEV.get(task):
        return FULL_DEV_MAJORITY[task]
    return math.nan


def learned(score, low, high, majority_score) -> str:
    """'not learned' when the score is within its seeds' spread (max - min; 0 for one seed) of the majority-class
    score, or below it; '' when it is clear of it or either number is unknown."""
    score, majority_score = _number(score), _number(majority_score)
    if math.isnan(score) or math.isnan(majority_score):
        return ""
    spread = _number(high) - _number(low)
    spread = 0.0 if math.isnan(spread) or not math.isfinite(spread) else spread
    return NOT_LEARNED if score - majority_score <= spread + 1e-9 else ""


def one_example(dev_examples) -> float:
    """What one dev example is worth in accuracy points (100 / n); NaN without a size."""
    n = _number(dev_examples)
    return 100.0 / n if n and not math.isnan(n) else math.nan


def describe_dev(task: str, rows: pd.DataFrame) -> str:
    """'dev 400 examples (1 = 0.25 points)' for a panel title, from a table's dev_examples column."""
    sizes = pd.to_numeric(rows.get("dev_examples", pd.Series(dtype=float)), errors="coerce").dropna().unique()
    if len(sizes) != 1:
        return "dev size unknown" if len(sizes) == 0 else "dev sizes " + ", ".join(f"{s:g}" for s in sorted(sizes))
    n = float(sizes[0])
    return f"dev {n:g} examples (1 = {one_example(n):.2g} points)"

"""The GLUE task table: columns, labels, metrics and dev split of each task (pure Python, no torch).

Column names and label orders follow the Hugging Face `nyu-mll/glue` dataset, so hub-loaded and
locally loaded data look the same to the rest of the project.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GlueTask:
    """One GLUE task; `label_names` is empty for the STS-B regression task."""

    name: str
    dir_name: str
    text_columns: tuple[str, ...]
    label_names: tuple[str, ...]
    metrics: tuple[str, ...]
    primary_metric: str
    dev_split: str = "validation"
    dev_file: str = "dev.tsv"

    @property
    def is_regression(self) -> bool:
        """True for STS-B, whose label is a similarity score rather than a class."""
        return not self.label_names

    @property
    def num_labels(self) -> int:
        """Size of the classifier head: 1 for regression, else the number of classes."""
        return 1 if self.is_regression else len(self.label_names)


_PAIR = ("sentence1", "sentence2")
_NLI2 = ("entailment", "not_entailment")

# Primary metrics are those of the LoRA paper's Table 2 (Hu et al. 2022, Section 5.1): Matthews correlation
# for CoLA, Pearson correlation for STS-B, accuracy elsewhere (also for MRPC and QQP, not F1).
TASKS: dict[str, GlueTask] = {
    t.name: t
    for t in (
        GlueTask(
            "cola",
            "CoLA",
            ("sentence",),
            ("unacceptable", "acceptable"),
            ("matthews_correlation", "accuracy"),
            "matthews_correlation",
        ),
        GlueTask("sst2", "SST-2", ("sentence",), ("negative", "positive"), ("accuracy",), "accuracy"),
        GlueTask("mrpc", "MRPC", _PAIR, ("not_equivalent", "equivalent"), ("accuracy", "f1"), "accuracy"),
        GlueTask(
            "qqp",
            "QQP",
            ("question1", "question2"),
            ("not_duplicate", "duplicate"),
            ("accuracy", "f1"),
            "accuracy",
        ),
        GlueTask("stsb", "STS-B", _PAIR, (), ("pearson", "spearmanr"), "pearson"),
        GlueTask(
            "mnli",
            "MNLI",
            ("premise", "hypothesis"),
            ("entailment", "neutral", "contradiction"),
            ("accuracy",),
            "accuracy",
            dev_split="validation_matched",
            dev_file="dev_matched.tsv",
        ),
        GlueTask("qnli", "QNLI", ("question", "sentence"), _NLI2, ("accuracy",), "accuracy"),
        GlueTask("rte", "RTE", _PAIR, _NLI2, ("accuracy",), "accuracy"),
        # WNLI's label order is reversed against RTE/QNLI: 1 means entailment in GLUE and in HF.
        GlueTask("wnli", "WNLI", _PAIR, ("not_entailment", "entailment"), ("accuracy",), "accuracy"),
    )
}


def _normalise(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def get_task(name: str) -> GlueTask:
    """Look a task up by any case/dash variant of its name ("SST-2", "sst2", "STS-B"); ValueError if unknown."""
    task = TASKS.get(_normalise(str(name)))
    if task is None:
        raise ValueError(f"unknown GLUE task {name!r}; choose one of: {', '.join(TASKS)}")
    return task

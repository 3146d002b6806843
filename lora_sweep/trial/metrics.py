"""GLUE metrics from model outputs (numpy and scipy only).

Degenerate inputs (a constant prediction or label vector) give 0.0 instead of NaN, so that a collapsed
trial ranks last in a sweep rather than poisoning the comparison.
"""

from __future__ import annotations

import warnings

import numpy as np

from lora_sweep.trial.tasks import GlueTask


def accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of predicted class ids equal to the labels."""
    return float(np.mean(pred == labels))


def f1_binary(pred: np.ndarray, labels: np.ndarray) -> float:
    """F1 of the positive class 1; 0.0 when there are no true or predicted positives."""
    tp = float(np.sum((pred == 1) & (labels == 1)))
    fp = float(np.sum((pred == 1) & (labels != 1)))
    fn = float(np.sum((pred != 1) & (labels == 1)))
    denom = 2 * tp + fp + fn
    return 2 * tp / denom if denom else 0.0


def matthews_correlation(pred: np.ndarray, labels: np.ndarray) -> float:
    """Multi-class Matthews correlation (Gorodkin's R_K, as sklearn); 0.0 when undefined."""
    classes, encoded = np.unique(np.concatenate([labels, pred]), return_inverse=True)
    k, n = len(classes), len(labels)
    confusion = np.zeros((k, k), dtype=np.float64)
    np.add.at(confusion, (encoded[:n], encoded[n:]), 1.0)
    t_sum, p_sum = confusion.sum(axis=1), confusion.sum(axis=0)
    correct, total = np.trace(confusion), confusion.sum()
    cov_yp = correct * total - t_sum @ p_sum
    cov_pp = total**2 - p_sum @ p_sum
    cov_yy = total**2 - t_sum @ t_sum
    if cov_pp == 0 or cov_yy == 0:
        return 0.0
    return float(cov_yp / np.sqrt(cov_yy * cov_pp))


def _correlation(fn, scores: np.ndarray, labels: np.ndarray) -> float:
    # A constant vector has no correlation; scipy would warn and return NaN.
    if np.ptp(scores) == 0 or np.ptp(labels) == 0:
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = float(fn(scores, labels)[0])
    return 0.0 if np.isnan(value) else value


def pearson(scores: np.ndarray, labels: np.ndarray) -> float:
    """Pearson correlation; 0.0 for constant inputs."""
    from scipy import stats  # here, not at the top: scipy.stats costs a second at every worker's start

    return _correlation(stats.pearsonr, scores, labels)


def spearmanr(scores: np.ndarray, labels: np.ndarray) -> float:
    """Spearman rank correlation; 0.0 for constant inputs."""
    from scipy import stats

    return _correlation(stats.spearmanr, scores, labels)


_METRICS = {
    "accuracy": accuracy,
    "f1": f1_binary,
    "matthews_correlation": matthews_correlation,
    "pearson": pearson,
    "spearmanr": spearmanr,
}


def _to_outputs(task: GlueTask, predictions: np.ndarray) -> np.ndarray:
    """Logits (n, num_labels) -> class ids; regression scores (n,) or (n, 1) -> float vector (n,)."""
    predictions = np.asarray(predictions)
    if task.is_regression:
        if predictions.ndim == 2 and predictions.shape[1] == 1:
            predictions = predictions[:, 0]
        if predictions.ndim != 1:
            raise ValueError(f"{task.name} predictions must have shape (n,) or (n, 1), got {predictions.shape}")
        return predictions.astype(np.float64)
    if predictions.ndim == 1 and np.issubdtype(predictions.dtype, np.integer):
        return predictions  # already class ids
    if predictions.ndim != 2 or predictions.shape[1] != task.num_labels:
        raise ValueError(
            f"{task.name} predictions must be logits of shape (n, {task.num_labels}), got {predictions.shape}"
        )
    return predictions.argmax(axis=1)


def compute_metrics(task: GlueTask, predictions: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Return {metric: float} for exactly `task.metrics`, from logits (or STS-B scores) and gold labels."""
    outputs = _to_outputs(task, predictions)
    labels = np.asarray(labels)
    labels = labels.astype(np.float64) if task.is_regression else labels.astype(np.int64)
    if labels.ndim != 1 or len(labels) != len(outputs):
        raise ValueError(f"got {len(outputs)} predictions for labels of shape {labels.shape}")
    if len(labels) == 0:
        raise ValueError(f"cannot compute {task.name} metrics on zero examples")
    return {name: float(_METRICS[name](outputs, labels)) for name in task.metrics}


def majority_score(task: GlueTask, labels: np.ndarray) -> float | None:
    """The primary metric of always predicting the dev set's most common label: the score below which (within
    the seed spread) a run has learned nothing. None for regression (STS-B: a constant has no correlation)."""
    labels = np.asarray(labels)
    if task.is_regression or len(labels) == 0:
        return None
    values, counts = np.unique(labels.astype(np.int64), return_counts=True)
    constant = np.full(len(labels), values[np.argmax(counts)], dtype=np.int64)
    return float(_METRICS[task.primary_metric](constant, labels.astype(np.int64)))

"""The GLUE task table and the metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lora_sweep.trial.metrics import compute_metrics
from lora_sweep.trial.tasks import TASKS, get_task


@pytest.mark.parametrize(
    "name, canonical",
    [
        ("SST-2", "sst2"),
        ("sst-2", "sst2"),
        ("sst2", "sst2"),
        ("STS-B", "stsb"),
        ("stsb", "stsb"),
        ("mnli", "mnli"),
        ("MNLI", "mnli"),
        ("CoLA", "cola"),
        ("QNLI", "qnli"),
        ("rte", "rte"),
        ("WNLI", "wnli"),
        ("qqp", "qqp"),
        ("Mrpc", "mrpc"),
    ],
)
def test_get_task_accepts_variants(name, canonical):
    assert get_task(name).name == canonical


def test_unknown_task_lists_choices():
    with pytest.raises(ValueError) as err:
        get_task("foo")
    assert str(err.value) == (
        "unknown GLUE task 'foo'; choose one of: cola, sst2, mrpc, qqp, stsb, mnli, qnli, rte, wnli"
    )


@pytest.mark.parametrize(
    "name, dir_name, text_columns, num_labels, primary, dev_file",
    [
        ("cola", "CoLA", ("sentence",), 2, "matthews_correlation", "dev.tsv"),
        ("sst2", "SST-2", ("sentence",), 2, "accuracy", "dev.tsv"),
        ("mrpc", "MRPC", ("sentence1", "sentence2"), 2, "accuracy", "dev.tsv"),
        ("qqp", "QQP", ("question1", "question2"), 2, "accuracy", "dev.tsv"),
        ("stsb", "STS-B", ("sentence1", "sentence2"), 1, "pearson", "dev.tsv"),
        ("mnli", "MNLI", ("premise", "hypothesis"), 3, "accuracy", "dev_matched.tsv"),
        ("qnli", "QNLI", ("question", "sentence"), 2, "accuracy", "dev.tsv"),
        ("rte", "RTE", ("sentence1", "sentence2"), 2, "accuracy", "dev.tsv"),
        ("wnli", "WNLI", ("sentence1", "sentence2"), 2, "accuracy", "dev.tsv"),
    ],
)
def test_task_table(name, dir_name, text_columns, num_labels, primary, dev_file):
    task = TASKS[name]
    assert (task.dir_name, task.text_columns, task.num_labels) == (dir_name, text_columns, num_labels)
    assert task.primary_metric == primary and primary in task.metrics
    assert task.dev_file == dev_file
    assert task.dev_split == ("validation_matched" if name == "mnli" else "validation")
    assert task.is_regression == (name == "stsb")


def test_label_orders_follow_hf_glue():
    assert TASKS["mnli"].label_names == ("entailment", "neutral", "contradiction")
    assert TASKS["rte"].label_names == TASKS["qnli"].label_names == ("entailment", "not_entailment")
    assert TASKS["wnli"].label_names == ("not_entailment", "entailment")
    assert TASKS["stsb"].label_names == ()
    assert TASKS["mrpc"].metrics == TASKS["qqp"].metrics == ("accuracy", "f1")
    assert TASKS["cola"].metrics == ("matthews_correlation", "accuracy")
    assert TASKS["stsb"].metrics == ("pearson", "spearmanr")


def _logits(pred_ids, num_labels=2):
    """Logits whose argmax is pred_ids."""
    return np.eye(num_labels)[np.asarray(pred_ids)] * 3.0 - 1.0


# labels [1,1,0,0,1], predictions [1,0,0,1,1]: tp=2, tn=1, fp=1, fn=1.
_Y = [1, 1, 0, 0, 1]
_P = [1, 0, 0, 1, 1]


def test_accuracy_and_f1_hand_computed():
    result = compute_metrics(get_task("mrpc"), _logits(_P), np.array(_Y))
    assert result == pytest.approx({"accuracy": 0.6, "f1": 4 / 6})
    assert list(result) == ["accuracy", "f1"]
    assert all(type(v) is float for v in result.values())


def test_mcc_hand_computed():
    # (tp*tn - fp*fn) / sqrt((tp+fp)(tp+fn)(tn+fp)(tn+fn)) = (2 - 1) / sqrt(3*3*2*2) = 1/6
    result = compute_metrics(get_task("cola"), _logits(_P), np.array(_Y))
    assert result == pytest.approx({"matthews_correlation": 1 / 6, "accuracy": 0.6})


def test_correlations_hand_computed():
    # x=[1,2,3], y=[1,2,4]: cov sum 3, |dx|=sqrt(2), |dy|=sqrt(42)/3 -> r = 9/sqrt(84); ranks agree -> 1.
    result = compute_metrics(get_task("stsb"), np.array([[1.0], [2.0], [3.0]]), np.array([1.0, 2.0, 4.0]))
    assert result == pytest.approx({"pearson": 9 / math.sqrt(84), "spearmanr": 1.0})
    flipped = compute_metrics(get_task("stsb"), np.array([3.0, 2.0, 1.0]), np.array([1.0, 2.0, 4.0]))
    assert flipped["spearmanr"] == pytest.approx(-1.0)


def test_multiclass_accuracy_uses_argmax():
    logits = np.array([[0.1, 0.5, 0.2], [2.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    assert compute_metrics(get_task("mnli"), logits, np.array([1, 0, 0, 2])) == {"accuracy": 0.5}


@pytest.mark.parametrize(
    "task, predictions, labels, expected",
    [
        ("cola", _logits([1, 1, 1, 1]), [0, 1, 1, 0], {"matthews_correlation": 0.0, "accuracy": 0.5}),
        ("cola", _logits([0, 1, 0, 1]), [1, 1, 1, 1], {"matthews_correlation": 0.0, "accuracy": 0.5}),
        ("mrpc", _logits([0, 0, 0]), [0, 0, 0], {"accuracy": 1.0, "f1": 0.0}),
        ("stsb", np.full(4, 2.5), [0.0, 1.0, 2.0, 3.0], {"pearson": 0.0, "spearmanr": 0.0}),
        ("stsb", np.array([0.0, 1.0, 2.0]), [3.0, 3.0, 3.0], {"pearson": 0.0, "spearmanr": 0.0}),
    ],
)
def test_degenerate_inputs_give_zero_not_nan(task, predictions, labels, expected):
    result = compute_metrics(get_task(task), predictions, np.array(labels))
    assert result == expected


@pytest.mark.parametrize(
    "task, predictions, labels",
    [
        ("mrpc", np.zeros((3, 3)), [0, 1, 0]),  # wrong number of logit columns
        ("mrpc", np.zeros((3, 2)), [0, 1]),  # length mismatch
        ("stsb", np.zeros((3, 2)), [0.0, 1.0, 2.0]),  # regression needs one score per example
        ("sst2", np.zeros((0, 2)), []),  # nothing to score
    ],
)
def test_bad_shapes_raise(task, predictions, labels):
    with pytest.raises(ValueError):
        compute_metrics(get_task(task), predictions, np.array(labels))


def test_metrics_agree_with_sklearn():
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=(200, 2)), rng.integers(0, 2, 200)
    pred = logits.argmax(1)
    cola = compute_metrics(get_task("cola"), logits, labels)
    assert cola["matthews_correlation"] == pytest.approx(skm.matthews_corrcoef(labels, pred))
    mrpc = compute_metrics(get_task("mrpc"), logits, labels)
    assert mrpc["f1"] == pytest.approx(skm.f1_score(labels, pred))
    assert mrpc["accuracy"] == pytest.approx(skm.accuracy_score(labels, pred))


def test_multiclass_mcc_agrees_with_sklearn():
    skm = pytest.importorskip("sklearn.metrics")
    from lora_sweep.trial.metrics import matthews_correlation

    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 300)
    pred = np.where(rng.random(300) < 0.6, labels, rng.integers(0, 3, 300))
    assert matthews_correlation(pred, labels) == pytest.approx(skm.matthews_corrcoef(labels, pred))


@pytest.mark.parametrize(
    ("task", "labels", "expected"),
    [("mrpc", [1, 1, 1, 0], 0.75), ("rte", [0, 1, 1, 1, 1], 0.8), ("cola", [1, 1, 0], 0.0), ("stsb", [0.5, 4.0], None)],
)
def test_majority_score_is_the_metric_of_always_predicting_the_common_label(task, labels, expected):
    from lora_sweep.trial.metrics import majority_score

    assert majority_score(get_task(task), np.array(labels)) == expected

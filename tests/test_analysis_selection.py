"""Which configuration wins: the issue's selection cases, each of which crowned the wrong one before.

Every variant below has 5-seed configurations around 80 and one rival that must not win: fewer seeds, diverged
seeds (with and without the score they kept from before diverging), a warm start with the cold start's settings,
an infinite score from outside data.
"""

import math

import pandas as pd
import pytest

from analysis.results import missing_notes, normalise_trials
from analysis.tables import incomplete_table, rank_vs_accuracy
from tests.data_analysis.synthetic import trial, trials_frame

SEEDS = range(5)


def _five(lr, scores, **extra) -> list[dict]:
    pairs = zip(SEEDS, scores, strict=True)
    return [trial(task="rte", learning_rate=lr, seed=s, best_metric=m / 100, **extra) for s, m in pairs]


def _base() -> list[dict]:
    return _five(1e-4, (79.0, 80.0, 80.0, 81.0, 82.0)) + _five(3e-4, (78.0, 79.0, 79.5, 80.0, 80.5))


def _lora(rows, planned=5) -> pd.Series:
    table = rank_vs_accuracy(normalise_trials(trials_frame(rows)), planned=planned)
    hit = table[table["method"] == "lora"]
    assert len(hit) == 1, table
    return hit.iloc[0]


def test_a_configuration_with_fewer_seeds_never_wins():
    rows = _base() + [trial(task="rte", learning_rate=5e-4, seed=0, best_metric=0.90)]  # one lucky seed
    row = _lora(rows)
    assert (row["score"], row["learning_rate"], row["n_seeds"]) == (80.0, pytest.approx(1e-4), 5)
    assert row["n_incomplete"] == 1
    apart = incomplete_table(trials_frame(rows), planned=5)
    assert apart[["learning_rate", "n_seeds", "planned_seeds"]].values.tolist() == [[5e-4, 1, 5]]


def test_planned_seeds_come_from_the_table_without_a_sweep_json():
    rows = _base() + [trial(task="rte", learning_rate=5e-4, seed=0, best_metric=0.90)]
    assert _lora(rows, planned=None)["score"] == 80.0


@pytest.mark.parametrize("kept", [math.nan, 0.86], ids=["no-score-kept", "best-before-diverging-kept"])
def test_diverged_seeds_count_as_minus_inf_as_in_the_race(kept):
    # 3 of 5 seeds diverged: the race's median is -inf, so this configuration ranks last, whatever its survivors
    # (84.5) or the scores its diverged seeds kept from before diverging (86.0) would make of it.
    rows = _base() + _five(5e-4, (84.0, 85.0, 0, 0, 0))
    for row in rows[-3:]:
        row.update(status="diverged", best_metric=kept)
    row = _lora(rows)
    assert (row["score"], row["learning_rate"], row["n_diverged"]) == (80.0, pytest.approx(1e-4), 0)


def test_a_configuration_with_one_diverged_seed_says_so():
    rows = _five(1e-4, (79.0, 80.0, 80.0, 81.0, 82.0))
    rows[-1].update(status="diverged", best_metric=0.95)
    row = _lora(rows)
    # Median of (79, 80, 80, 81, -inf) is 80; the spread reaches down to -inf, and n_diverged says why.
    assert (row["score"], row["n_diverged"], row["min"]) == (80.0, 1, -math.inf)


def test_warm_and_cold_starts_with_equal_settings_stay_apart_whatever_the_row_order():
    cold = _five(1e-4, (70.0, 71.0, 72.0, 71.0, 70.0))
    warm = _five(1e-4, (86.0, 87.0, 88.0, 87.0, 86.0), warm_start="/runs/adapters/roberta-base-mnli-lora-r8 (LoRA)")
    for rows in (cold + warm, warm + cold):
        table = rank_vs_accuracy(normalise_trials(trials_frame(rows)), planned=5)
        by_start = table.set_index("start")["score"].to_dict()
        assert by_start == {"pretrained": 71.0, "MNLI warm start": 87.0}
        assert table["n_seeds"].tolist() == [5, 5]


@pytest.mark.parametrize("value", [math.inf, -math.inf])
def test_a_non_finite_score_from_outside_data_is_never_the_winner(value):
    rows = _base() + _five(5e-4, (90.0, 90.0, 90.0, 90.0, 90.0))
    for row in rows[-3:]:
        row["best_metric"] = value
    row = _lora(rows)
    assert (row["score"], row["learning_rate"]) == (80.0, pytest.approx(1e-4))
    notes = missing_notes(normalise_trials(trials_frame(rows)), None)
    assert any("3 of 15 trials have a non-finite best_metric" in note for note in notes)

"""analysis.tables / analysis.results / analysis.paper on small synthetic result files."""

import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analysis import configs
from analysis.paper import paper_label, paper_score
from analysis.tables import (
    EDGE_FLAG,
    ResultsError,
    asha_budget,
    at_edge,
    build_tables,
    load_results,
    parameter_efficiency,
    rank_vs_accuracy,
    search_health,
    write_tables,
)
from analysis.writers import to_markdown
from tests.data_analysis.synthetic import epochs_frame, mrpc_rows, sweep_info, trial, trials_frame, write_results

REPO = Path(__file__).resolve().parents[1]


def _rank(rows, **kw) -> pd.DataFrame:
    return rank_vs_accuracy(trials_frame(rows), **kw)


def _row(table, method, r=None) -> pd.Series:
    hit = table[(table["method"] == method) & (table["r"].isna() if r is None else table["r"] == r)]
    assert len(hit) == 1, table
    return hit.iloc[0]


def test_score_is_median_over_seeds_with_min_and_max():
    rows = [trial(seed=s, best_metric=m) for s, m in [(0, 0.90), (1, 0.92), (2, 0.95)]]
    row = _row(_rank(rows), "lora", 8)
    assert row["score"] == pytest.approx(92.0)
    assert (row["min"], row["max"]) == (pytest.approx(90.0), pytest.approx(95.0))
    assert (row["n_seeds"], row["n_configs"], row["n_runs"]) == (3, 1, 3)


def test_single_seed_has_no_spread():
    row = _row(_rank([trial(seed=0, best_metric=0.9)]), "lora", 8)
    assert row["score"] == pytest.approx(90.0) and math.isnan(row["min"]) and math.isnan(row["max"])


def test_paper_statistic_on_the_mrpc_table_all_numbers_from_one_configuration():
    # Old rule (per seed the best over learning rates, then the median): LoRA 87.0 at 3e-4 (min 86, max 88,
    # best epoch 9), full 86.0. Paper: per configuration the median over seeds, then the best configuration.
    table = _rank(mrpc_rows())
    lora, full = _row(table, "lora", 8), _row(table, "full")
    assert lora["score"] == pytest.approx(85.0) and lora["learning_rate"] == pytest.approx(1e-4)
    assert (lora["min"], lora["max"], lora["n_seeds"]) == (pytest.approx(84.0), pytest.approx(86.0), 3)
    assert lora["best_epoch"] == 6  # median of the 1e-4 seeds' best epochs 4, 6, 7
    assert (lora["n_configs"], lora["n_runs"]) == (3, 9)
    assert full["score"] == pytest.approx(85.5) and full["learning_rate"] == pytest.approx(1e-5)
    assert (full["min"], full["max"], full["n_seeds"], full["best_epoch"]) == (85.0, 86.0, 3, 5)
    assert full["n_configs"] == 2


def test_rules_disagree_in_sign_and_tables_use_the_papers():
    # The MRPC table: LoRA 87.0 vs full 86.0 (+1.0) by the old rule, 85.0 vs 85.5 (-0.5) by the paper's.
    trials = trials_frame(mrpc_rows())
    assert _row(_rank(mrpc_rows()), "lora", 8)["gap_to_full"] == pytest.approx(-0.5)
    assert _row(parameter_efficiency(trials), "lora", 8)["score"] == pytest.approx(85.0)
    # Trying more learning rates must not raise a score: each LoRA lr's seeds have median 85 and one
    # lucky seed at 87, so every seed's best over lrs is 87 (old: LoRA 87 > full 86); the paper's: 85 < 86.
    lucky = {1e-4: (87.0, 85.0, 83.0), 3e-4: (83.0, 87.0, 85.0), 1e-3: (85.0, 83.0, 87.0)}
    rows = [trial(seed=s, learning_rate=lr, best_metric=m / 100) for lr, ms in lucky.items() for s, m in enumerate(ms)]
    rows += [trial(method="full", seed=s, best_metric=m / 100) for s, m in enumerate((85.5, 86.0, 86.5))]
    table = _rank(rows)
    assert _row(table, "lora", 8)["score"] == pytest.approx(85.0)
    assert _row(table, "lora", 8)["gap_to_full"] == pytest.approx(-1.0)


def test_one_row_per_seed_of_a_multi_seed_trial_gives_the_same_table():
    # A sweep that trains a configuration's seeds in one Tune trial writes several rows per trial_id.
    rows = mrpc_rows()
    for row in rows:
        row["trial_id"] = f"{row['method']}-{row['learning_rate']:g}"
    assert trials_frame(rows)["trial_id"].nunique() == 5
    pd.testing.assert_frame_equal(_rank(rows), _rank(mrpc_rows()))


def test_unfinished_configurations_are_not_ranked_stopped_ones_are():
    rows = [trial(seed=s, learning_rate=1e-4, best_metric=m) for s, m in enumerate((0.80, 0.81, 0.82))]
    # Stopped by ASHA at epoch 1: still a configuration, scored by what its seeds reached.
    rows += [trial(seed=s, learning_rate=3e-4, best_metric=m, status="early_stopped", epochs_run=1, best_epoch=1)
             for s, m in enumerate((0.83, 0.84, 0.85))]  # fmt: skip
    # A seed still running (or failed): its configuration's median is not known yet.
    for lr, status in ((1e-3, "running"), (2e-3, "error"), (3e-3, "interrupted")):
        rows += [trial(seed=s, learning_rate=lr, best_metric=0.95) for s in (0, 1)]
        rows.append(trial(seed=2, learning_rate=lr, best_metric=0.99, status=status))
    row = _row(_rank(rows), "lora", 8)
    assert row["score"] == pytest.approx(84.0) and row["learning_rate"] == pytest.approx(3e-4)
    assert (row["best_epoch"], row["n_seeds"], row["n_configs"], row["n_runs"]) == (1, 3, 2, 15)


def test_a_seed_written_twice_counts_once():
    rows = [trial(seed=s, best_metric=m) for s, m in enumerate((0.80, 0.82, 0.84))]
    rows.append(trial(seed=2, best_metric=0.99, epochs_run=1, status="early_stopped"))  # an earlier, shorter run
    row = _row(_rank(rows), "lora", 8)
    assert (row["score"], row["n_seeds"], row["max"]) == (pytest.approx(82.0), 3, pytest.approx(84.0))


def test_gap_to_full_in_points():
    rows = [trial(method="full", best_metric=0.90), trial(r=8, best_metric=0.92)]
    rows.append(trial(method="head", best_metric=0.85))
    table = _rank(rows)
    assert _row(table, "full")["gap_to_full"] == pytest.approx(0.0)
    assert _row(table, "lora", 8)["gap_to_full"] == pytest.approx(2.0)
    assert _row(table, "head")["gap_to_full"] == pytest.approx(-5.0)


def test_gap_is_empty_without_full():
    assert math.isnan(_row(_rank([trial(r=8, best_metric=0.9)]), "lora", 8)["gap_to_full"])


def test_rows_ordered_full_lora_by_rank_head_bitfit_per_model_and_task():
    rows = [trial(method="head"), trial(r=16), trial(method="bitfit"), trial(method="full"), trial(r=4)]
    rows += [trial(task="mrpc", r=8), trial(task="mrpc", method="full")]
    table = _rank(rows)
    got = [(t, m, None if pd.isna(r) else int(r)) for t, m, r in table[["task", "method", "r"]].itertuples(index=False)]
    assert got == [
        ("sst2", "full", None), ("sst2", "lora", 4), ("sst2", "lora", 16), ("sst2", "head", None),
        ("sst2", "bitfit", None), ("mrpc", "full", None), ("mrpc", "lora", 8),
    ]  # fmt: skip


def test_paper_numbers_beside_roberta_base_not_minilm():
    rows = [trial(method="full"), trial(r=4), trial(method="head")]
    rows += [trial(model="minilm", method="full"), trial(model="minilm", r=8)]
    table = _rank(rows)
    base, mini = table[table.model == "roberta-base"], table[table.model == "minilm"]
    assert _row(base, "full")["paper"] == 94.8 and _row(base, "full")["paper_label"] == "paper FT*"
    # The paper's LoRA number is for r=8: shown on every rank, labelled with the paper's rank.
    assert _row(base, "lora", 4)["paper"] == 95.1
    assert _row(base, "lora", 4)["paper_label"] == "paper LoRA (r=8, Table 9)"
    assert math.isnan(_row(base, "head")["paper"]) and _row(base, "head")["paper_label"] == ""
    assert mini["paper"].isna().all() and (mini["paper_label"] == "").all()


@pytest.mark.parametrize(
    "model, task, method, expected",
    [
        ("roberta-base", "sst2", "lora", 95.1),
        ("FacebookAI/roberta-base", "rte", "full", 78.7),
        ("roberta-base", "mnli", "bitfit", 84.7),  # Table 2 (the * row from Ben Zaken et al.)
        ("roberta-large", "cola", "full", 68.0),
        ("microsoft/deberta-v2-xxlarge", "rte", "lora", 94.9),
        ("microsoft/deberta-v2-xxlarge", "stsb", "full", 92.9),
        ("microsoft/deberta-v2-xlarge", "sst2", "lora", None),
        ("minilm", "sst2", "full", None),
        ("roberta-base", "sst2", "head", None),
        ("roberta-base", "wnli", "full", None),
        ("roberta-large", "sst2", "bitfit", None),
    ],
)
def test_paper_score_lookup(model, task, method, expected):
    assert paper_score(model, task, method) == expected


def test_paper_lora_label_names_the_papers_rank():
    # Table 10 states r=8 for DeBERTa-XXL (Table 2's 4.7M also fits r=16 alone: the table, not the count, decides).
    assert paper_label("microsoft/deberta-v2-xxlarge", "lora") == "paper LoRA (r=8, Table 10)"
    assert paper_label("roberta-large", "lora") == "paper LoRA (r=8, Table 9)"
    assert paper_label("minilm", "lora") == ""


def test_parameter_efficiency_counts_and_ratios():
    rows = [trial(r=8, best_metric=0.9, adapter_bytes=4_000_000.0, epoch_time_s=12.0, peak_memory_mb=800.0)]
    rows.append(trial(method="full", best_metric=0.91))
    table = parameter_efficiency(trials_frame(rows))
    lora = _row(table, "lora", 8)
    # The paper's count leaves the classification head out: LoRA r=8 on RoBERTa-base is its "0.3M".
    assert lora["params_no_head"] == 2 * 8 * 768 * 2 * 12 == 294_912
    assert lora["trainable_params"] == 294_912 + 592_130
    assert lora["percent_params_no_head"] == pytest.approx(100 * 294_912 / (124_645_632 + 294_912))
    assert lora["adapter_mb"] == pytest.approx(4.0) and lora["epoch_time_s"] == 12.0
    # The gap to full beside the parameter fraction (no score-per-parameter ratio that rewards learning nothing).
    assert lora["gap_to_full"] == pytest.approx(-1.0) and "score_per_m_params" not in table
    assert _row(table, "full")["params_no_head"] == 124_645_632 - 592_130


def _health(rows, searched) -> pd.DataFrame:
    return search_health(trials_frame(rows), sweep_info(searched))


def test_grid_edge_flagged_only_at_min_or_max():
    grid = {"learning_rate": {"type": "grid", "values": [1e-4, 5e-4, 1e-3]}}
    scores = {1e-4: 0.80, 5e-4: 0.85, 1e-3: 0.90}  # r=8 peaks at the top of the grid
    rows = [trial(r=8, learning_rate=lr, best_metric=m) for lr, m in scores.items()]
    rows += [trial(r=4, learning_rate=lr, best_metric=0.95 - abs(lr - 5e-4)) for lr in scores]
    table = _health(rows, grid).set_index("study")
    assert table.loc["roberta-base/sst2/lora-r8", "best_value"] == pytest.approx(1e-3)
    assert table.loc["roberta-base/sst2/lora-r8", "flag"] == EDGE_FLAG
    assert table.loc["roberta-base/sst2/lora-r4", "best_value"] == pytest.approx(5e-4)
    assert table.loc["roberta-base/sst2/lora-r4", "flag"] == ""


def test_search_health_judges_the_best_configuration_by_its_median():
    grid = {"learning_rate": {"type": "grid", "values": [1e-4, 3e-4, 1e-3]}}
    row = _health(mrpc_rows(), grid).set_index("study").loc["roberta-base/mrpc/lora-r8"]
    # Old: the best single trial (88.0 at 3e-4, mid-grid). The best median (85.0) is at 1e-4: the grid's edge,
    # but it beats its neighbour (3e-4: 83.0) by 2.0, no more than its seeds' spread (84-86): no flag.
    assert row["best_value"] == pytest.approx(1e-4) and row["best_score"] == pytest.approx(85.0)
    assert (row["neighbour_score"], row["spread"]) == (pytest.approx(83.0), pytest.approx(2.0))
    assert row["flag"] == ""


def test_an_edge_is_flagged_when_it_beats_its_neighbour_by_more_than_the_spread():
    grid = {"learning_rate": {"type": "grid", "values": [1e-4, 3e-4]}}
    rows = [trial(learning_rate=1e-4, seed=s, best_metric=m) for s, m in enumerate((0.84, 0.85, 0.86))]
    rows += [trial(learning_rate=3e-4, seed=s, best_metric=m) for s, m in enumerate((0.80, 0.81, 0.82))]
    assert _health(rows, grid).iloc[0]["flag"] == EDGE_FLAG  # 85 vs 81: 4 points > spread 2
    rows[0]["best_metric"] = 0.78  # spread 78-86 = 8 > 4: noise
    assert _health(rows, grid).iloc[0]["flag"] == ""


def test_loguniform_edge_in_log_space():
    spec = {"learning_rate": {"type": "loguniform", "low": 1e-5, "high": 1e-2}}
    rows = [trial(learning_rate=lr, best_metric=m) for lr, m in [(1.2e-5, 0.9), (1e-3, 0.8)]]
    row = _health(rows, spec).iloc[0]
    assert row["best_value"] == pytest.approx(1.2e-5) and bool(row["at_edge"]) and row["flag"] == EDGE_FLAG


@pytest.mark.parametrize(
    "value, spec, expected",
    [
        (1.2e-5, {"type": "loguniform", "low": 1e-5, "high": 1e-2}, True),  # 2.6% of the log range
        (1e-4, {"type": "loguniform", "low": 1e-5, "high": 1e-2}, False),
        (9e-3, {"type": "loguniform", "low": 1e-5, "high": 1e-2}, True),
        (5e-3, {"type": "loguniform", "low": 1e-5, "high": 1e-2}, False),  # 90%: linear scale would flag
        (0.02, {"type": "uniform", "low": 0.0, "high": 0.5}, True),
        (0.25, {"type": "uniform", "low": 0.0, "high": 0.5}, False),
        (10, {"type": "randint", "low": 1, "high": 11}, True),  # Ray's randint excludes high
        (16, {"type": "choice", "values": [8, 16, 32]}, False),
        (32, {"type": "choice", "values": [8, 16, 32]}, True),
        ("query,value", {"type": "choice", "values": ["query,value", "query,key,value"]}, None),
        (8, {"type": "grid", "values": [8]}, None),
    ],
)
def test_at_edge(value, spec, expected):
    assert at_edge(value, spec) is expected


def test_seed_and_unvaried_settings_are_not_judged():
    spec = {"seed": {"type": "grid", "values": [0, 1]}, "alpha": {"type": "grid", "values": [8, 16]}}
    rows = [trial(seed=s, best_metric=0.9 + s / 100) for s in (0, 1)]  # alpha 16 in every trial
    assert _health(rows, spec).empty


def test_asha_budget_ratio():
    rows = [trial(epochs=10, epochs_run=n, status=s) for n, s in [(10, "completed"), (2, "early_stopped")]]
    rows += [trial(epochs=10, epochs_run=2, status="early_stopped"), trial(epochs=10, epochs_run=4, status="running")]
    table = asha_budget(trials_frame(rows), sweep_info()).set_index("study")
    total = table.loc["all"]
    assert (total["epochs_used"], total["epochs_budget"]) == (18, 40)
    assert total["ratio"] == pytest.approx(0.45) and total["early_stopped"] == 2
    assert asha_budget(trials_frame(rows), sweep_info(asha=False)).empty


def test_missing_data_gives_notes_and_tables(tmp_path):
    rows = [trial(r=8, best_metric=0.9), trial(r=8, seed=1, best_metric=0.92)]
    rows += [trial(r=8, seed=2, status="running", best_metric=math.nan, epochs_run=1)]
    rows += [trial(r=16, status="error", error="OOM", best_metric=math.nan, seed=s) for s in (0, 1)]
    write_results(tmp_path, trials_frame(rows), formats=("csv",))  # no epochs, no sweep.json
    results = load_results(tmp_path)
    notes = "\n".join(results.notes)
    assert "no sweep.json" in notes and "no epochs table" in notes
    assert "3 of 5 trials have no result yet (2 error, 1 running)" in notes
    assert "study roberta-base/sst2/lora-r16: no trial has a result (2 error)" in notes
    assert "2 configurations are not ranked: some of their seeds are running" in notes
    tables = build_tables(results)
    failed = _row(tables["rank_vs_accuracy"], "lora", 16)
    assert math.isnan(failed["score"]) and failed["n_runs"] == 2 and failed["n_seeds"] == 0
    # Seed 2 of r=8's only configuration is still running: no median yet, so no score.
    running = _row(tables["rank_vs_accuracy"], "lora", 8)
    assert math.isnan(running["score"]) and running["n_configs"] == 0 and running["n_runs"] == 3
    assert tables["search_health"].empty and tables["asha_budget"].empty
    names = sorted(p.name for p in write_tables(results, tables))
    stems = ("rank_vs_accuracy", "incomplete_configurations", "parameter_efficiency", "search_health")
    want = [f"{s}.{e}" for s in stems for e in ("md", "csv")] + ["paper_table.md", "paper_table.tex", "paper_table.csv"]
    assert names == sorted(want)


def test_parquet_preferred_and_unreadable_parquet_falls_back_to_csv(tmp_path):
    write_results(tmp_path, trials_frame([trial(best_metric=0.5)]), formats=("csv",))
    write_results(tmp_path, trials_frame([trial(best_metric=0.9)]), formats=("parquet",))
    assert load_results(tmp_path).trials["best_metric"].tolist() == [0.9]
    (tmp_path / "trials.parquet").write_bytes(b"PAR1 half written")
    results = load_results(tmp_path)
    assert results.trials["best_metric"].tolist() == [0.5]
    assert any("trials.parquet is unreadable" in n for n in results.notes)


def test_no_trials_table_is_an_error(tmp_path):
    with pytest.raises(ResultsError, match="no trials.parquet or trials.csv"):
        load_results(tmp_path)


def test_planned_trials_not_started_are_noted(tmp_path):
    trials = trials_frame([trial(best_metric=0.9)])
    write_results(tmp_path, trials, epochs_frame(trials), sweep_info(planned=24))
    assert "23 of 24 planned trials have not started (not in the trials table)" in load_results(tmp_path).notes


def test_written_tables_are_pipe_markdown_and_csv(tmp_path):
    trials = trials_frame([trial(method="full", best_metric=0.9), trial(r=8, best_metric=0.9234)])
    write_results(tmp_path, trials, epochs_frame(trials), sweep_info())
    write_tables(load_results(tmp_path))
    lines = (tmp_path / "rank_vs_accuracy.md").read_text().splitlines()
    assert lines[2].startswith("| model | task | method | r |") and set(lines[3]) <= set("|-: ")
    assert "| 92.3 |" in lines[5] and "| +2.3 |" in lines[5] and "paper LoRA (r=8, Table 9)" in lines[5]
    csv = pd.read_csv(tmp_path / "rank_vs_accuracy.csv")
    assert csv["score"].tolist() == pytest.approx([90.0, 92.34])
    assert not list(tmp_path.glob(".*.tmp")), "temp files left behind"
    assert to_markdown(pd.DataFrame()) == "(no rows)\n"


def test_analysis_imports_neither_torch_nor_ray():
    code = (
        "import sys, analysis.tables, analysis.report, analysis.figures\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'torch', 'ray', 'lora_sweep'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _reference_configurations(trials, mode, searched, planned):
    """The statistic written as a loop over configurations (the definition, before it was vectorised): a failed
    seed (diverged, or a non-finite score) counts as the worst score, as lora_sweep/seeds.py counts it."""
    ided = configs.with_config_ids(trials, searched)
    worst = -math.inf if mode == "max" else math.inf
    rows = []
    for config, group in ided.groupby("config", sort=True):
        finished = not group["status"].isin(configs.NOT_FINISHED).any()
        seeds = group.assign(_run=group["epochs_run"].fillna(-1)).sort_values("_run", kind="stable")
        seeds = seeds.drop_duplicates(subset="seed", keep="last")
        values, failed = [], 0
        for row in seeds.itertuples() if finished else ():
            if row.status == "diverged" or (not pd.isna(row.best_metric) and not math.isfinite(row.best_metric)):
                values.append(worst)
                failed += 1
            elif not pd.isna(row.best_metric):
                values.append(row.best_metric * 100)
        good = (
            seeds[(seeds["status"] != "diverged") & seeds["best_metric"].map(math.isfinite)] if finished else seeds[:0]
        )
        n, series = len(values), pd.Series(values, dtype=float)
        rows.append({
            "config": config, "score": series.median() if n else math.nan,
            "min": series.min() if n > 1 else math.nan, "max": series.max() if n > 1 else math.nan, "n_seeds": n,
            "n_diverged": failed, "best_epoch": good["best_epoch"].median() if len(good) else math.nan,
            "n_runs": len(group), "finished": finished, "complete": n >= planned,
            "ranked": finished and n >= planned and n > 0,
        })  # fmt: skip
    return pd.DataFrame(rows)


@pytest.mark.parametrize("mode", ["max", "min"])
def test_grouped_statistic_equals_the_loop_over_configurations(tmp_path, mode):
    from tests.data_analysis.scale import large_sweep

    trials = pd.read_parquet(large_sweep(tmp_path, 400, seeds=3) / "trials.parquet")
    # A re-run seed (written twice), a running seed, a seed without a score.
    trials = pd.concat([trials, trials.iloc[:4].assign(epochs_run=0, best_metric=0.1)], ignore_index=True)
    trials.loc[7, "status"], trials.loc[11, "best_metric"] = "running", math.nan
    # Diverged seeds (one keeping the score it had before diverging), an infinite score from outside data.
    trials.loc[[20, 33], "status"], trials.loc[45, "best_metric"] = "diverged", math.inf
    got = configs.configurations(trials, mode, ["learning_rate"], planned=3)
    want = _reference_configurations(trials, mode, ["learning_rate"], 3)
    assert want["n_diverged"].sum() == 3 and (~want["complete"]).sum() >= 1
    pd.testing.assert_frame_equal(got[want.columns].reset_index(drop=True), want, check_dtype=False)

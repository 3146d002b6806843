"""`python -m analysis.report` on several inputs, a trials file and --out; the paper-style table in every folder."""

import pandas as pd

from analysis.paper_table import PARAMS
from analysis.report import main
from tests.data_analysis.synthetic import epochs_frame, sweep_info, trial, trials_frame, write_results


def _sweep(directory, lora_score):
    rows = [trial(method="full", seed=s, best_metric=0.90) for s in range(3)]
    rows += [trial(r=8, seed=s, best_metric=lora_score + s / 100) for s in range(3)]
    trials = trials_frame(rows)
    write_results(directory, trials, epochs_frame(trials), sweep_info())
    return directory


def test_two_sweeps_in_one_report_each_named_as_typed(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _sweep(tmp_path / "runs" / "a", 0.80)
    _sweep(tmp_path / "runs" / "b", 0.85)
    assert main(["runs/a", "runs/b/trials.csv", "--out", "cmp"]) == 0
    page = (tmp_path / "cmp" / "report.html").read_text()
    assert "runs/a vs runs/b/trials.csv" in page and str(tmp_path) not in page
    rank = pd.read_csv(tmp_path / "cmp" / "rank_vs_accuracy.csv")
    lora = rank[rank["method"] == "lora"].set_index("model")["score"].to_dict()
    assert lora == {"[runs/a] roberta-base": 81.0, "[runs/b/trials.csv] roberta-base": 86.0}
    # The paper's number is still found for each input's model, and nothing was written beside the inputs.
    assert rank["paper"].notna().all() and not (tmp_path / "runs" / "a" / "report.html").exists()
    paper = pd.read_csv(tmp_path / "cmp" / "paper_table.csv")
    assert set(paper["source"]) == {"ours", "paper"} and paper.loc[paper["source"] == "paper", PARAMS].max() == 125e6
    assert (tmp_path / "cmp" / "paper_table.tex").read_text().startswith("\\begin{tabular}")


def test_several_inputs_without_out_is_refused_and_nothing_written(tmp_path, capsys):
    a, b = _sweep(tmp_path / "a", 0.8), _sweep(tmp_path / "b", 0.8)
    assert main([str(a), str(b)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--out" in err[0]
    assert not (a / "report.html").exists() and not (b / "report.html").exists()

"""The benchmark's code paths at tiny sizes (tiny models from configs, a few steps, tiny data); not its timings."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from benchmarks import bench
from benchmarks import cases as bc

RESULT_KEYS = {"name", "ratio", "target", "met", "detail"}


@pytest.fixture
def tiny() -> bc.Settings:
    return bench.make_settings("tiny", "cpu", None)


@pytest.fixture
def tiny_glue(glue_dir) -> bc.Settings:
    return dataclasses.replace(
        bench.make_settings("tiny", "cpu", str(glue_dir)),
        trial_samples=32,
        trial_eval_samples=32,
        trial_max_length=16,
        padding_eval_samples=40,
        padding_repeats=2,
    )


def assert_well_formed(result: dict, target: str | None) -> None:
    assert set(result) == RESULT_KEYS
    assert result["detail"]["status"] == "ok"
    assert result["target"] == target
    assert isinstance(result["ratio"], float) and math.isfinite(result["ratio"]) and result["ratio"] > 0
    assert result["detail"]["ratio_min"] <= result["ratio"] <= result["detail"]["ratio_max"]
    assert result["met"] is bc.is_met(result["ratio"], target)
    json.dumps(result, allow_nan=False)  # plain JSON, no NaN


@pytest.mark.parametrize(
    ("ratio", "target", "met"),
    [
        (0.69, "<= 0.70", True),
        (0.70, "<= 0.70", True),
        (0.7001, "<= 0.70", False),
        (1.00, "<= 1.00", True),
        (1.01, "<= 1.00", False),
        (1.0, ">= 1.0", True),
        (1.5, ">= 1.0", True),
        (0.99, ">= 1.0", False),
        (None, "<= 0.70", None),
        (0.5, None, None),
    ],
)
def test_met_compares_ratio_with_target(ratio, target, met):
    assert bc.is_met(ratio, target) is met


def test_bad_target_is_an_error():
    with pytest.raises(ValueError, match="target must look like"):
        bc.is_met(1.0, "< 1")


def test_result_takes_the_median_ratio_and_reports_the_spread():
    result = bc.make_result("x", [0.9, 0.5, 0.6], "<= 0.70", {"case": 1})
    assert result["ratio"] == 0.6 and result["met"] is True
    assert (result["detail"]["ratio_min"], result["detail"]["ratio_max"]) == (0.5, 0.9)
    assert bc.make_result("y", [1.2, 0.8, 1.1], "<= 1.00", {})["met"] is False
    assert bc.make_result("z", [3.0], None, {})["met"] is None


def test_interleave_alternates_sides_and_times_every_repeat():
    calls = []
    sides = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    times = bc.interleave(sides, repeats=3, steps=2, warmup=1, sync=lambda: None)
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3}
    assert calls == ["a", "b"] + ["a", "a", "b", "b"] + ["b", "b", "a", "a"] + ["a", "a", "b", "b"]
    assert bc.paired_ratios({"a": [2.0, 3.0], "b": [1.0, 2.0]}, "a", "b") == [2.0, 1.5]


@pytest.mark.parametrize("arch", sorted(bc.TINY_CONFIGS))
def test_lora_and_peft_sides_train_the_same_parameters(arch, tiny):
    name = bc.TINY_PREFIX + arch
    ours = bc.add_lora(bc.build_model(name, bc.torch.device("cpu")), name, tiny)
    theirs = bc.add_peft_lora(bc.build_model(name, bc.torch.device("cpu")), name, tiny)
    assert bc.trainable_count(ours) == bc.trainable_count(theirs) > 0


def test_case_train_step_with_memory_subprocesses(tiny):
    result = bc.case_train_step("tiny:bert", tiny, memory=True)
    assert_well_formed(result, "<= 0.70")
    detail = result["detail"]
    assert detail["trainable_params"]["lora"] < detail["trainable_params"]["full"]
    for side in ("lora", "full"):
        assert detail["memory"][side]["peak_mb"] > 0 and detail["memory"][side]["steps"] == tiny.memory_steps
        assert len(detail["step_s"]) == 2 and detail["step_s"][side]["n"] == tiny.repeats


def test_case_ours_vs_peft(tiny):
    result = bc.case_ours_vs_peft("tiny:roberta", tiny)
    assert_well_formed(result, "<= 1.00")
    assert result["detail"]["trainable_params"]["ours"] == result["detail"]["trainable_params"]["peft"]


def test_case_merged_inference_matches_unmerged(tiny):
    result = bc.case_merged_inference("tiny:deberta-v2", tiny)
    assert_well_formed(result, "<= 1.02")
    assert result["detail"]["max_abs_logit_diff_merged_vs_unmerged"] < 1e-4
    assert set(result["detail"]["forward_s"]) == {"base", "merged", "unmerged"}


def test_case_trial_vs_trainer(tiny_glue):
    from benchmarks.trial import case_trial_vs_trainer

    result = case_trial_vs_trainer(tiny_glue)
    assert_well_formed(result, ">= 1.0")
    detail = result["detail"]
    assert detail["train_samples"] == 32 and detail["dev_samples"] == 32 and detail["group_by_length"] is True
    for side in ("ours", "trainer"):
        assert 0 <= detail["dev_accuracy"][side][0] <= 1 and detail["trial_samples_per_s"][side]["median"] > 0
        run = detail["runs"][side][0]
        # The headline is the whole trial (model, training, evaluation): slower than the training loop alone.
        assert 0 < run["trial_samples_per_s"] < run["samples_per_s"] and run["padded_tokens"] >= 32
    ours, trainer = detail["runs"]["ours"][0], detail["runs"]["trainer"][0]
    assert detail["train_loop_ratio"]["median"] == pytest.approx(ours["samples_per_s"] / trainer["samples_per_s"])


def test_case_dynamic_padding_reports_only(tiny_glue):
    from benchmarks.trial import case_dynamic_padding

    result = case_dynamic_padding(tiny_glue)
    assert_well_formed(result, None)
    assert result["met"] is None and result["detail"]["dev_samples"] == 40
    acc = result["detail"]["accuracy"]
    assert acc["dynamic"] == acc["padded"] == acc["dynamic_unsorted"]  # padding must not change predictions


def test_sweep_cases_reduce_the_smoke_spec_to_its_sst2_part():
    from benchmarks import sweep as bench_sweep
    from lora_sweep.spec import space
    from lora_sweep.spec.spec import load_spec

    spec = load_spec(bench_sweep.SMOKE, tuple(bench_sweep.reduced_overrides(64, 32, 2)[1::2]))
    trials = space.grid_trials(spec)
    assert len(trials) == 8 and {t["task"] for t in trials} == {"sst2"}
    assert {t["max_train_samples"] for t in trials} == {64} and {t["epochs"] for t in trials} == {2}
    assert spec.scheduler["max_epochs"] == 2


def test_best_variant_per_study_is_the_best_learning_rate():
    import pandas as pd

    from benchmarks.sweep import _best_lr

    trials = pd.DataFrame({"study": ["a", "a", "b"], "best_metric": [0.7, 0.8, None], "learning_rate": [1, 2, 3]})
    assert _best_lr(trials) == {"a": 2}


def test_stopping_floor():
    from benchmarks.sweep import stopping_floor

    assert stopping_floor([2, 2], epochs=3, grace_period=1) == pytest.approx(4 / 6)  # the smoke spec's shape
    assert stopping_floor([3], epochs=3, grace_period=1) == pytest.approx(5 / 9)
    assert stopping_floor([1, 4], epochs=2, grace_period=2) == 1.0  # grace = epochs: nothing can stop early


@pytest.mark.slow
def test_sweep_cases_at_tiny_size(glue_dir):
    """Cases 6 and 7 end to end on 16 sentences: two real Ray sweeps and the back-to-back run."""
    from benchmarks.sweep import cases_sweep

    overhead, saved = cases_sweep(str(glue_dir), train_samples=16, eval_samples=16, epochs=2)
    assert_well_formed(overhead, "<= 1.15")
    assert_well_formed(saved, "<= 0.6")
    assert overhead["detail"]["trials"] == 8 and overhead["detail"]["back_to_back_s"] > 0
    d = saved["detail"]
    assert d["trial_epochs_grid"] == 16 and 8 <= d["trial_epochs_asha"] <= 16
    assert d["floor"] == pytest.approx(6 / 8) and set(d["same_best_variant"]) == {
        "minilm/sst2/full",
        "minilm/sst2/lora-r4",
        "minilm/sst2/lora-r8",
        "minilm/sst2/lora-r16",
    }


def test_tiny_preset_runs_no_sweeps():
    from benchmarks.bench import make_settings, run_case

    s = make_settings("tiny", "cpu", None)
    assert run_case(7, None, s)["detail"]["status"] == "not run: this preset runs no sweeps"


def test_a_failing_case_becomes_an_error_row(tiny, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(bc, "case_ours_vs_peft", broken)
    (result,) = bench.run_all([2], tiny, log=lambda m: None)
    assert result["detail"]["status"] == "error: RuntimeError: boom" and result["met"] is None


def test_cli_tiny_run_writes_the_documented_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    argv = ["--tiny", "--device", "cpu", "--cases", "1,2,4,7", "--models", "tiny:bert,tiny:roberta"]
    assert bench.main([*argv, "--no-memory", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert {"machine", "versions", "settings", "cases"} <= set(report)
    assert {"cpu", "cpu_cores", "torch_threads", "gpu"} <= set(report["machine"])
    assert {"python", "torch", "transformers", "peft"} <= set(report["versions"])
    assert report["settings"]["mode"] == "tiny" and report["settings"]["models"] == ["tiny:bert", "tiny:roberta"]
    cases = report["cases"]
    assert [c["detail"]["case"] for c in cases] == [1, 1, 2, 2, 4, 4, 7]
    for c in cases:
        assert set(c) == RESULT_KEYS
        assert c["met"] is bc.is_met(c["ratio"], c["target"])
    assert all(c["detail"]["status"] == "ok" for c in cases[:6])
    assert cases[-1]["detail"]["status"].startswith("not run")
    table = capsys.readouterr().out
    assert "torch threads" in table and all(c["name"] in table for c in cases)


@pytest.mark.parametrize("text", ["", "0", "1,11", "a"])
def test_bad_case_list_is_rejected(text):
    with pytest.raises(SystemExit):
        bench.parse_args(["--cases", text])

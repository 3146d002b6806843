"""Spec -> trials: grid expansion, seeds, seeded sampling, study names and the Optuna define-by-run space."""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

import optuna
import pytest

from lora_sweep.spec import space
from lora_sweep.spec.spec import load_spec

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "sweeps" / "smoke.yaml"
LORA_ONLY = ("r", "alpha", "dropout", "target_modules")
SMOKE_STUDIES = {
    f"minilm/{task}/{method}" for task in ("sst2", "mrpc") for method in ("full", "lora-r4", "lora-r8", "lora-r16")
}

SAMPLED = """
name: sampled
experiments: [{model: minilm, task: sst2}]
variants:
  - method: full
    learning_rate: {loguniform: [1.0e-5, 1.0e-4]}
  - method: lora
    r: {grid: [4, 8]}
    alpha: {choice: [8, 16, 32]}
    dropout: {uniform: [0.0, 0.2]}
    learning_rate: {loguniform: [1.0e-4, 1.0e-2]}
    epochs: {randint: [1, 4]}
search: {algorithm: ALGORITHM, num_samples: 4, sampler_seed: 7}
"""


@pytest.fixture(autouse=True)
def quiet_optuna():
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def sampled_spec(tmp_path: Path, algorithm: str = "grid", *overrides: str):
    path = tmp_path / "sampled.yaml"
    path.write_text(SAMPLED.replace("ALGORITHM", algorithm), encoding="utf-8")
    return load_spec(path, overrides)


def without_seed(trial: dict) -> tuple:
    return tuple(sorted((k, str(v)) for k, v in trial.items() if k != "seed"))


def test_smoke_grid_expands_to_16_trials_in_8_studies():
    spec = load_spec(SMOKE)
    trials = space.grid_trials(spec)
    assert len(trials) == 16 == space.planned_trials(spec)
    per_study = Counter(t["study"] for t in trials)
    assert set(per_study) == SMOKE_STUDIES
    assert set(per_study.values()) == {2}  # two learning rates per study
    for trial in trials:
        if trial["method"] == "full":
            assert not set(LORA_ONLY) & set(trial), trial
            assert trial["learning_rate"] in (5e-5, 1e-4)
        else:
            assert trial["r"] in (4, 8, 16) and trial["study"].endswith(f"-r{trial['r']}")
            assert trial["alpha"] == 16 and trial["learning_rate"] in (1e-3, 2e-3)
        assert trial["seeds"] == [0] and (trial["cpu"], trial["gpu"]) == (2, 0)
        assert trial["epochs"] == 3 and trial["max_train_samples"] == {"sst2": 1000, "mrpc": 200}[trial["task"]]
    assert len({without_seed(t) for t in trials}) == 16  # no duplicates


@pytest.mark.parametrize(("seeds", "expected"), [("3", [0, 1, 2]), ("[7, 11]", [7, 11])])
def test_each_configuration_is_one_trial_that_trains_every_seed(seeds, expected):
    """Seeds are replicates inside a trial (lora_sweep.trial.seeds), never trials of their own that ASHA could race."""
    spec = load_spec(SMOKE, (f"search.seeds={seeds}",))
    trials = space.grid_trials(spec)
    assert len(trials) == 16 == space.planned_trials(spec)
    assert all(t["seeds"] == expected and "seed" not in t for t in trials)
    cfg, labels = space.trial_config({"trial": trials[0]})
    assert labels["seeds"] == expected and cfg.seed == expected[0]
    assert space.searched_settings(spec)["seed"] == {"type": "grid", "values": expected}


def test_sampled_settings_stay_in_bounds_and_follow_the_sampler_seed(tmp_path):
    spec = sampled_spec(tmp_path)
    trials = space.grid_trials(spec)
    assert len(trials) == 3 * 4  # (full + lora r4 + lora r8) x num_samples
    for trial in trials:
        if trial["method"] == "full":
            assert 1e-5 <= trial["learning_rate"] <= 1e-4
            assert not set(LORA_ONLY) & set(trial)
        else:
            assert 1e-4 <= trial["learning_rate"] <= 1e-2
            assert trial["alpha"] in (8, 16, 32)
            assert 0.0 <= trial["dropout"] <= 0.2
            assert trial["epochs"] in (1, 2, 3) and isinstance(trial["epochs"], int)  # randint: high exclusive
    assert len({t["learning_rate"] for t in trials}) == len(trials)  # drawn per trial
    assert trials == space.grid_trials(sampled_spec(tmp_path))
    other = space.grid_trials(sampled_spec(tmp_path, "grid", "search.sampler_seed=8"))
    assert [t["learning_rate"] for t in other] != [t["learning_rate"] for t in trials]


def test_sampled_draws_are_shared_across_seeds(tmp_path):
    """With seeds, every drawn configuration trains every seed (seed effects are not confounded with draws)."""
    trials = space.grid_trials(sampled_spec(tmp_path, "grid", "search.seeds=2"))
    assert len(trials) == 12 and all(t["seeds"] == [0, 1] for t in trials)


@pytest.mark.parametrize(
    ("values", "study"),
    [
        ({"model": "m", "task": "sst2", "method": "full"}, "m/sst2/full"),
        ({"model": "m", "task": "sst2", "method": "lora", "r": 4}, "m/sst2/lora-r4"),
        ({"model": "m", "task": "sst2", "method": "lora"}, "m/sst2/lora-r8"),  # TrialConfig's default rank
        (
            {"model": "m", "task": "rte", "method": "lora", "r": 16, "target_modules": ["query", "value"]},
            "m/rte/lora-r16-query+value",
        ),
        (
            {"model": "m", "task": "rte", "method": "lora", "r": 2, "target_modules": "query,key"},
            "m/rte/lora-r2-query,key",
        ),
        ({"model": "m", "task": "cola", "method": "bitfit"}, "m/cola/bitfit"),
        # What changes a result makes its own study: a warm start never races (or merges with) a cold one.
        (
            {"model": "m", "task": "rte", "method": "lora", "r": 8, "init_adapter": "/a/b/mnli-r8/"},
            "m/rte/lora-r8-from-mnli-r8",
        ),
        ({"model": "m", "task": "rte", "method": "full", "revision": "v2", "data_seed": 3}, "m/rte/full@v2-dseed3"),
        (
            {"model": "m", "task": "rte", "method": "full", "data_revision": "abc", "data_seed": 0},
            "m/rte/full-data@abc",
        ),
    ],
)
def test_study_name(values, study):
    assert space.study_name(values) == study


def test_explicit_target_modules_make_their_own_study(tmp_path):
    path = tmp_path / "targets.yaml"
    path.write_text(
        "experiments: [{model: minilm, task: sst2}]\n"
        "variants:\n"
        "  - {method: lora, r: 8}\n"
        "  - {method: lora, r: 8, target_modules: {grid: [[query, value], [query, key, value]]}}\n",
        encoding="utf-8",
    )
    trials = space.grid_trials(load_spec(path))
    assert [t["study"] for t in trials] == [
        "minilm/sst2/lora-r8",
        "minilm/sst2/lora-r8-query+value",
        "minilm/sst2/lora-r8-query+key+value",
    ]


def param_settings(params: dict, arm_index: int) -> set[str]:
    """Optuna parameter names -> setting names, checking each is scoped to its arm ("a3.lr" or "optuna/a3/lr")."""
    names = set()
    for name in params:
        parts = re.split(r"[./]", name)
        assert f"a{arm_index}" in parts[:-1], f"{name} is not scoped to arm {arm_index}"
        names.add(parts[-1])
    return names


def drive_optuna(spec, seed: int, n: int) -> list[tuple[dict, dict]]:
    """Run the define-by-run space the way OptunaSearch does: ask, build the config, tell a score."""
    define = space.optuna_space(spec)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    runs = []
    for _ in range(n):
        trial = study.ask()
        config = define(trial)
        runs.append((config, dict(trial.params)))
        score = -abs(math.log10(config["learning_rate"]) + 3.5)  # any deterministic objective
        study.tell(trial, score)
    return runs


def test_optuna_space_is_seeded_and_conditional(tmp_path):
    spec = sampled_spec(tmp_path, "optuna")
    n = space.planned_trials(spec)
    assert n == 12  # 3 arms x num_samples 4
    runs = drive_optuna(spec, seed=3, n=n)
    assert runs == drive_optuna(spec, seed=3, n=n)
    assert [c["learning_rate"] for c, _ in drive_optuna(spec, seed=4, n=n)] != [c["learning_rate"] for c, _ in runs]

    arms = space.arms(spec)
    for number, (config, params) in enumerate(runs):
        arm = arms[number % len(arms)]
        settings = param_settings(params, arm.index)
        assert config["seeds"] == [0] and config["study"] == space.study_name(config)
        if config["method"] == "full":
            assert not set(LORA_ONLY) & set(config)
            assert settings == {"learning_rate"}
            assert 1e-5 <= config["learning_rate"] <= 1e-4
        else:
            assert config["r"] == arm.fixed["r"]  # grid settings are per arm, never sampled
            assert settings == {"alpha", "dropout", "learning_rate", "epochs"}
            assert config["alpha"] in (8, 16, 32) and config["alpha"] in params.values()
            assert 1 <= config["epochs"] <= 3 and 0.0 <= config["dropout"] <= 0.2
    # round-robin: every arm (study) gets num_samples trials
    assert Counter(c["study"] for c, _ in runs) == {
        "minilm/sst2/full": 4,
        "minilm/sst2/lora-r4": 4,
        "minilm/sst2/lora-r8": 4,
    }


def test_optuna_trials_train_every_seed(tmp_path):
    spec = sampled_spec(tmp_path, "optuna", "search.seeds=[5, 6]")
    assert [c["seeds"] for c, _ in drive_optuna(spec, seed=0, n=3)] == [[5, 6]] * 3


def test_searched_settings_for_smoke():
    spec = load_spec(SMOKE)
    assert space.searched_settings(spec) == {
        "learning_rate": {"type": "grid", "values": [5e-5, 1e-4, 1e-3, 2e-3]},
        "r": {"type": "grid", "values": [4, 8, 16]},
    }
    by_study = space.searched_by_study(spec)
    assert set(by_study) == SMOKE_STUDIES
    for study, settings in by_study.items():
        # rank names the study, so within a study only the learning rate is searched
        expected = [5e-5, 1e-4] if study.endswith("/full") else [1e-3, 2e-3]
        assert settings == {"learning_rate": {"type": "grid", "values": expected}}, study


def test_searched_ranges_merge_over_studies(tmp_path):
    spec = sampled_spec(tmp_path)
    searched = space.searched_settings(spec)
    assert searched["learning_rate"] == {"type": "loguniform", "low": 1e-5, "high": 1e-2}
    assert searched["alpha"] == {"type": "choice", "values": [8, 16, 32]}
    by_study = space.searched_by_study(spec)
    assert by_study["minilm/sst2/full"] == {"learning_rate": {"type": "loguniform", "low": 1e-5, "high": 1e-4}}
    assert by_study["minilm/sst2/lora-r4"]["learning_rate"] == {"type": "loguniform", "low": 1e-4, "high": 1e-2}
    assert "r" not in by_study["minilm/sst2/lora-r4"]


@pytest.mark.parametrize(
    ("study", "slug"),
    [
        ("minilm/sst2/lora-r8", "minilm-sst2-lora-r8"),
        ("FacebookAI/roberta-base/mrpc/full", "roberta-base-mrpc-full"),  # a hub id: its last part
        ("/models/tiny bert/sst2/lora-r4-query+value", "tiny-bert-sst2-lora-r4-query+value"),  # a path
        ("random:roberta-base/rte/full", "random-roberta-base-rte-full"),
        ("", ""),
    ],
)
def test_study_slug_names_trial_and_adapter_folders(study, slug):
    from lora_sweep.spec.space import study_slug

    assert study_slug(study) == slug


def test_a_setting_searched_differently_per_method_keeps_both_in_the_plan_and_sweep_json(tmp_path):
    """Full fine-tuning on a learning-rate grid, LoRA on a loguniform range: the merged description keeps both."""
    from lora_sweep.cli.plan import plan_lines

    path = tmp_path / "mixed.yaml"
    path.write_text(
        "name: mixed\nexperiments: [{model: 'random:minilm', task: sst2}]\n"
        "variants:\n  - {method: full, learning_rate: {grid: [5.0e-5, 1.0e-4]}}\n"
        "  - {method: lora, r: 8, learning_rate: {loguniform: [1.0e-4, 1.0e-2]}}\n"
        "search: {algorithm: optuna, num_samples: 2}\n",
        encoding="utf-8",
    )
    spec = load_spec(path)
    assert space.searched_settings(spec)["learning_rate"] == {
        "type": "mixed",
        "parts": [{"type": "grid", "values": [5e-5, 1e-4]}, {"type": "loguniform", "low": 1e-4, "high": 1e-2}],
    }
    searched = next(line for line in plan_lines(spec) if line.startswith("searched: "))
    assert "learning_rate [5e-05, 0.0001] (grid) + [0.0001, 0.01] (loguniform)" in searched, searched

"""Bad sweep specs exit 2 with one clear line before anything starts; good specs parse as documented.

Every bad case runs the real CLI entry point (`lora_sweep.run.main`, a few through `python -m lora_sweep.run`)
and checks: exit code 2, exactly one stderr line starting with "error:" that names the offending key and says
what is allowed, and that nothing was created under --storage.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

import lora_sweep.sweep
from lora_sweep.cli import run
from lora_sweep.spec import space
from lora_sweep.spec.spec import SpecError, load_spec, parse_yaml

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "sweeps" / "smoke.yaml"
MARKER = "HACKED"  # the file a !!python tag's command would create, if it ever ran


def spec(top: str = "", lora: str = "r: 8", full: str = "", task: str = "sst2", name: str = "bad") -> str:
    """A small valid spec (one LoRA and one full variant); the arguments splice in the part under test."""
    full_keys = f", {full}" if full else ""
    return (
        f"name: {name}\n"
        f"experiments:\n  - {{model: minilm, task: {task}}}\n"
        f"variants:\n  - {{method: lora, {lora}}}\n  - {{method: full{full_keys}}}\n"
        f"{top}"
    )


# (id, YAML text (None: no file), extra CLI arguments, fragment naming the key, fragment saying what is allowed)
BAD = [
    # malformed YAML: the line number is the "key"
    ("malformed_yaml", "name: x\nexperiments: [\n  - a: b\n", [], "line 3", "malformed YAML"),
    ("malformed_indent", "name: x\n  bad: indent\n", [], "line 2", "malformed YAML"),
    ("duplicate_key", spec("name: again\n"), [], "duplicate key 'name'", "line 7"),
    ("not_utf8", b"\xff\xfe\x00bad", [], "not UTF-8", "byte 0"),
    # unknown keys, each with the allowed keys (and the nearest one where there is one)
    ("unknown_top", spec("schedular: {type: asha}\n"), [], "schedular", "did you mean 'scheduler'"),
    ("unknown_top_allowed", spec("schedular: {type: asha}\n"), [], "schedular", "allowed: name, experiments"),
    ("unknown_train", spec("train: {epoch: 3}\n"), [], "train.epoch", "did you mean 'epochs'"),
    ("unknown_search", spec("search: {algo: grid}\n"), [], "search.algo", "allowed: algorithm, num_samples"),
    ("unknown_scheduler", spec("scheduler: {grace: 1}\n"), [], "scheduler.grace", "allowed: type, max_epochs"),
    ("unknown_variant", spec(lora="rank: 8"), [], "variants[0].rank", "allowed: method, resources, r"),
    ("unknown_resources", spec("resources: {gpus: 1}\n"), [], "resources.gpus", "did you mean 'gpu'"),
    ("unknown_variant_res", spec(lora="resources: {cpus: 1}"), [], "variants[0].resources.cpus", "allowed: cpu, gpu"),
    ("unknown_ray", spec("ray: {adress: auto}\n"), [], "ray.adress", "did you mean 'address'"),
    ("unknown_experiment", spec().replace("task: sst2}", "task: sst2, trian: {}}"), [], "trian", "allowed: model"),
    # wrong types
    ("epochs_word", spec("train: {epochs: three}\n"), [], "epochs", "got 'three'; must be an integer >= 1"),
    ("batch_size_float", spec("train: {batch_size: 1.5}\n"), [], "batch_size", "must be an integer >= 1"),
    ("lr_list", spec("train: {learning_rate: [1, 2]}\n"), [], "learning_rate", "must be a number > 0"),
    ("lr_nan", spec("train: {learning_rate: .nan}\n"), [], "learning_rate", "must be a number > 0"),
    ("keep_full_word", spec("keep_full_models: yes please\n"), [], "keep_full_models", "must be true or false"),
    ("r_bool", spec(lora="r: true"), [], "variants[0].r", "must be an integer >= 1"),
    ("train_list", spec("train: [1]\n"), [], "train", "must be a mapping"),
    ("variant_resources_int", spec(lora="resources: 5"), [], "variants[0].resources", "must be a mapping"),
    ("include_dashboard_word", spec("ray: {include_dashboard: maybe}\n"), [], "ray.include_dashboard", "must be"),
    ("address_int", spec("ray: {address: 5}\n"), [], "ray.address", "must be a cluster address"),
    # out of range
    ("r_zero", spec(lora="r: 0"), [], "variants[0].r", "got 0; must be an integer >= 1"),
    ("r_negative", spec(lora="r: -1"), [], "variants[0].r", "got -1; must be an integer >= 1"),
    ("alpha_zero", spec(lora="alpha: 0"), [], "variants[0].alpha", "must be a number > 0"),
    ("alpha_negative", spec(lora="alpha: -16"), [], "variants[0].alpha", "must be a number > 0"),
    ("lr_zero", spec("train: {learning_rate: 0}\n"), [], "learning_rate", "must be a number > 0"),
    ("lr_negative", spec(full="learning_rate: -1e-5"), [], "variants[1].learning_rate", "must be a number > 0"),
    ("dropout_one", spec(lora="dropout: 1.0"), [], "variants[0].dropout", "must be a number in [0, 1)"),
    ("dropout_negative", spec(lora="dropout: -0.1"), [], "variants[0].dropout", "must be a number in [0, 1)"),
    ("epochs_zero", spec("train: {epochs: 0}\n"), [], "epochs", "got 0; must be an integer >= 1"),
    ("batch_size_zero", spec("train: {batch_size: 0}\n"), [], "batch_size", "must be an integer >= 1"),
    ("max_length_zero", spec("train: {max_length: 0}\n"), [], "max_length", "must be an integer >= 1"),
    ("warmup_one", spec("train: {warmup_ratio: 1.0}\n"), [], "warmup_ratio", "must be a number in [0, 1)"),
    (
        "grace_above_epochs",
        spec("train: {epochs: 2}\nscheduler: {type: asha, grace_period: 3}\n"),
        [],
        "scheduler.grace_period",
        "must be <= max_epochs (2)",
    ),
    (
        "grace_above_max_epochs",
        spec("scheduler: {type: asha, max_epochs: 4, grace_period: 5}\n"),
        [],
        "scheduler.grace_period",
        "must be <= max_epochs (4)",
    ),
    ("reduction_factor_one", spec("scheduler: {reduction_factor: 1}\n"), [], "reduction_factor", "must be >= 2"),
    ("scheduler_type", spec("scheduler: {type: hyperband}\n"), [], "scheduler.type", "allowed: asha, none"),
    ("num_samples_zero", spec("search: {num_samples: 0}\n"), [], "search.num_samples", "must be >= 1"),
    ("max_failures_negative", spec("max_failures: -1\n"), [], "max_failures", "must be >= 0"),
    ("dashboard_port", spec("ray: {dashboard_port: 70000}\n"), [], "ray.dashboard_port", "must be a port"),
    ("sampler_seed_negative", spec("search: {sampler_seed: -1}\n"), [], "search.sampler_seed", "must be >= 0"),
    (
        "save_adapter_in_a_sweep",
        spec(lora="r: 8, save_adapter: myadapter"),
        [],
        "save_adapter",
        "one folder for 2 trainings",
    ),
    (
        "tracking_password",
        spec("tracking: {mlflow: 'http://me:secret@mlflow:5000'}\n"),
        [],
        "tracking.mlflow",
        "holds a password",
    ),
    ("tracking_unknown", spec("tracking: {mlflow: 'sqlite:///m.db', wandb: x}\n"), [], "tracking.wandb", "unknown key"),
    ("tracking_no_uri", spec("tracking: {experiment: x}\n"), [], "tracking.mlflow", "must be an MLflow tracking URI"),
    (
        "optuna_storage_password",
        spec("search: {algorithm: optuna, storage: 'postgresql://me:secret@db/optuna'}\n"),
        [],
        "search.storage",
        "holds a password",
    ),
    (
        "optuna_storage_grid",
        spec("search: {storage: 'sqlite:///o.db'}\n"),
        [],
        "search.storage",
        "needs search.algorithm: optuna",
    ),
    (
        "optuna_storage_not_url",
        spec("search: {algorithm: optuna, storage: o.db}\n"),
        [],
        "search.storage",
        "Optuna storage URL",
    ),
    # unknown names, with the list to choose from
    ("unknown_task", spec(task="sst3"), [], "experiments[0].task", "allowed: cola, sst2, mrpc"),
    ("unknown_task_suggests", spec(task="sst3"), [], "'sst3'", "did you mean 'sst2'"),
    ("unknown_method", spec().replace("method: full}", "method: ful}"), [], "method", "did you mean 'full'"),
    ("missing_method", spec().replace("method: full", "r: 4"), [], "variants[1].method", "allowed: full, lora"),
    ("unknown_algorithm", spec("search: {algorithm: optima}\n"), [], "search.algorithm", "allowed: grid, optuna"),
    # LoRA-only settings on a full fine-tuning variant
    ("full_with_r", spec(full="r: 8"), [], "variants[1].r", "must not set r"),
    ("full_with_alpha", spec(full="alpha: 16"), [], "variants[1].alpha", "must not set alpha"),
    ("full_with_dropout", spec(full="dropout: 0.1"), [], "variants[1].dropout", "must not set dropout"),
    ("full_with_targets", spec(full="target_modules: [query]"), [], "variants[1].target_modules", "applies only"),
    # empty or misshapen lists
    ("experiments_empty", "name: x\nexperiments: []\nvariants: [{method: full}]\n", [], "experiments", "non-empty"),
    ("variants_empty", "name: x\nexperiments: [{model: minilm, task: sst2}]\nvariants: []\n", [], "variants", "must"),
    ("tasks_empty", spec().replace("task: sst2", "tasks: []"), [], "experiments[0].task", "non-empty list"),
    ("task_and_tasks", spec().replace("task: sst2", "task: sst2, tasks: [mrpc]"), [], "tasks", "not both"),
    # distributions
    ("loguniform_reversed", spec("train: {learning_rate: {loguniform: [1e-3, 1e-4]}}\n"), [], "learning_rate", "low <"),
    ("uniform_equal", spec("train: {warmup_ratio: {uniform: [1, 1]}}\n"), [], "warmup_ratio", "must have low < high"),
    ("randint_reversed", spec("train: {epochs: {randint: [5, 2]}}\n"), [], "epochs", "must have low < high"),
    ("loguniform_zero", spec("train: {learning_rate: {loguniform: [0, 1e-3]}}\n"), [], "learning_rate", "low must"),
    ("loguniform_negative", spec("train: {learning_rate: {loguniform: [-1, 1]}}\n"), [], "learning_rate", "> 0"),
    ("uniform_three", spec("train: {warmup_ratio: {uniform: [0, 0.1, 0.2]}}\n"), [], "warmup_ratio", "[low, high]"),
    ("grid_empty", spec("train: {learning_rate: {grid: []}}\n"), [], "learning_rate", "must be a non-empty list"),
    ("choice_empty", spec(lora="alpha: {choice: []}"), [], "variants[0].alpha", "must be a non-empty list"),
    ("grid_bad_lr", spec("train: {learning_rate: {grid: [1e-3, -1]}}\n"), [], "learning_rate", "got -1; must be"),
    ("grid_bad_r", spec(lora="r: {grid: [4, 0]}"), [], "variants[0].r", "got 0; must be an integer >= 1"),
    ("two_distributions", spec("train: {learning_rate: {grid: [1], choice: [2]}}\n"), [], "learning_rate", "must be"),
    ("uniform_int_setting", spec("train: {epochs: {uniform: [1, 3]}}\n"), [], "epochs", "must use randint"),
    ("sampled_rank", spec(lora="r: {choice: [4, 8]}"), [], "variants[0].r", "must be a value or a grid"),
    ("seed_in_train", spec("train: {seed: 3}\n"), [], "train.seed", "search.seeds"),
    # YAML tags that would construct Python objects or run commands
    ("python_apply", '!!python/object/apply:os.system ["touch {marker}"]\n', [], "line 1", "tag not allowed"),
    (
        "python_apply_value",
        spec('storage: !!python/object/apply:os.system ["touch {marker}"]\n'),
        [],
        "line 7",
        "tag not allowed",
    ),
    ("python_name", spec("storage: !!python/name:os.system\n"), [], "python/name:os.system", "tag not allowed"),
    # search
    ("seeds_zero", spec("search: {seeds: 0}\n"), [], "search.seeds", "must be a count >= 1"),
    ("seeds_word", spec("search: {seeds: [a]}\n"), [], "search.seeds", "list of integer seeds"),
    ("seeds_negative", spec("search: {seeds: [-1]}\n"), [], "search.seeds", "seeds >= 0"),
    ("seeds_repeated", spec("search: {seeds: [1, 1]}\n"), [], "search.seeds", "each seed once"),
    # the spec as a whole, and names
    ("name_with_slash", spec(name="a/b"), [], "name", "must be a non-empty folder name without '/'"),
    ("name_flag_with_slash", spec(), ["--name", "x/y"], "name", "without '/'"),
    ("spec_is_list", "- a\n- b\n", [], "spec", "must hold a YAML mapping, got list"),
    ("spec_is_empty", "", [], "spec", "must hold a YAML mapping"),
    ("missing_file", None, [], "spec", "no such file"),
    # --set
    ("set_without_equals", spec(), ["--set", "train.batch_size"], "--set", "must be KEY=VALUE"),
    ("set_bad_index", spec(), ["--set", "experiments.5.task=mrpc"], "experiments.5.task", "must be 0 to 0"),
    ("set_word_index", spec(), ["--set", "experiments.x.task=mrpc"], "experiments.x.task", "not an index"),
    ("set_bad_yaml", spec(), ["--set", "train.epochs=[1"], "--set train.epochs", "not valid YAML"),
    ("set_bad_value", spec(), ["--set", "train.batch_size=0"], "batch_size", "must be an integer >= 1"),
    ("set_unknown_key", spec(), ["--set", "train.lr=1e-3"], "train.lr", "allowed: r, alpha"),
]
# Through `python -m lora_sweep.run`: cases that can never reach Ray, even if validation regressed.
SUBPROCESS_CASES = ("malformed_yaml", "python_apply", "spec_is_list", "missing_file")
# The same CLI in a fresh interpreter, with the sweep driver (which starts Ray) replaced by a module that exits 99.
GUARDED_CLI = """
import sys, types
stub = types.ModuleType("lora_sweep.sweep.driver")
def refuse(*args, **kwargs):
    sys.exit(99)
for name in ("results_dir", "can_resume", "remove_results", "run_sweep"):
    setattr(stub, name, refuse)
sys.modules["lora_sweep.sweep.driver"] = stub
from lora_sweep.cli.run import main
sys.exit(main(sys.argv[1:]))
"""


def _write_case(tmp_path: Path, text) -> Path:
    path = tmp_path / "spec.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif text is not None:
        path.write_text(text.replace("{marker}", str(tmp_path / MARKER)), encoding="utf-8")
    return path


def _assert_one_error_line(stderr: str, key: str, allowed: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one stderr line, got {stderr!r}"
    line = lines[0]
    assert line.startswith("error:"), line
    assert key in line, f"{key!r} not in {line!r}"
    assert allowed in line, f"{allowed!r} not in {line!r}"
    assert "Traceback" not in line
    return line


@pytest.fixture
def no_sweep(monkeypatch):
    """Replace the sweep driver (the module that starts Ray) with one that fails the test if a bad spec reaches it."""

    def refuse(*args, **kwargs):
        raise AssertionError("a bad spec got past validation to lora_sweep.sweep.driver")

    stub = types.ModuleType("lora_sweep.sweep.driver")
    for name in ("results_dir", "can_resume", "remove_results", "run_sweep"):
        setattr(stub, name, refuse)
    monkeypatch.setitem(sys.modules, "lora_sweep.sweep.driver", stub)
    monkeypatch.setattr(lora_sweep.sweep, "driver", stub, raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    return stub


@pytest.mark.parametrize(("text", "extra", "key", "allowed"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_spec_exits_2_with_one_line(tmp_path, capsys, no_sweep, text, extra, key, allowed):
    path = _write_case(tmp_path, text)
    store = tmp_path / "store"
    code = run.main([str(path), "--storage", str(store), *extra])
    out, err = capsys.readouterr()
    assert code == 2
    _assert_one_error_line(err, key, allowed)
    assert out == ""
    assert not store.exists()
    assert not (tmp_path / MARKER).exists()


@pytest.mark.parametrize("case", SUBPROCESS_CASES)
def test_bad_spec_through_the_real_cli(tmp_path, case):
    _, text, extra, key, allowed = next(c for c in BAD if c[0] == case)
    path = _write_case(tmp_path, text)
    store = tmp_path / "store"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    done = subprocess.run(
        [sys.executable, "-m", "lora_sweep.run", str(path), "--storage", str(store), *extra],
        cwd=REPO,
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    _assert_one_error_line(done.stderr, key, allowed)
    assert not store.exists()
    assert not (tmp_path / MARKER).exists()


def _gpus() -> int:
    import torch

    return torch.cuda.device_count()


@pytest.mark.parametrize(
    ("resources", "key"),
    [
        (lambda: f"resources: {{gpu: {_gpus() + 1}}}\n", "resources.gpu"),
        (lambda: f"resources: {{cpu: {(os.cpu_count() or 1) + 1}}}\n", "resources.cpu"),
    ],
    ids=["gpu", "cpu"],
)
def test_more_resources_than_this_machine_exits_2(tmp_path, capsys, no_sweep, resources, key):
    path = _write_case(tmp_path, spec(resources()))
    store = tmp_path / "store"
    assert run.main([str(path), "--storage", str(store)]) == 2
    _assert_one_error_line(capsys.readouterr().err, key, "must be <=")
    assert not store.exists()


def test_gpu_request_through_the_real_cli(tmp_path):
    path = _write_case(tmp_path, spec(lora=f"r: 8, resources: {{gpu: {_gpus() + 1}}}"))
    store = tmp_path / "store"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    done = subprocess.run(
        [sys.executable, "-c", GUARDED_CLI, str(path), "--storage", str(store)],
        cwd=REPO,
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    line = _assert_one_error_line(done.stderr, "resources.gpu", "must be <=")
    assert "a lora trial" in line
    assert not store.exists()


def test_resource_precheck_is_skipped_for_a_cluster(tmp_path, monkeypatch):
    """With ray.address (or $RAY_ADDRESS) the cluster decides; sweep.check_cluster_resources checks it later."""
    path = _write_case(tmp_path, spec("resources: {gpu: 4096}\n"))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(SpecError, match="resources.gpu"):
        run.check_local_resources(load_spec(path))
    run.check_local_resources(load_spec(path, ("ray.address=auto",)))
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")
    run.check_local_resources(load_spec(path))


# ---- good paths ------------------------------------------------------------------------------------------------


def test_exponent_without_dot_is_a_float(tmp_path):
    """YAML 1.1 (PyYAML) reads `1e-3` as a string; specs follow YAML 1.2, where it is a number."""
    assert parse_yaml("a: 1e-3\nb: 5E-5\nc: -2e+1\nd: 1.5\ne: 3\nf: '1e-3'") == {
        "a": 0.001,
        "b": 5e-5,
        "c": -20.0,
        "d": 1.5,
        "e": 3,
        "f": "1e-3",
    }
    loaded = load_spec(_write_case(tmp_path, spec("train: {learning_rate: 1e-3}\n")))
    value = loaded.experiments[0].variants[0].settings["learning_rate"].values[0]
    assert isinstance(value, float) and value == 1e-3


def test_set_overrides_change_the_spec():
    base = load_spec(SMOKE)
    assert {v.settings["batch_size"].values for e in base.experiments for v in e.variants} == {(16,)}
    changed = load_spec(SMOKE, ("train.batch_size=8", "experiments.0.task=mrpc", "search.seeds=[3, 4]"))
    assert {v.settings["batch_size"].values for e in changed.experiments for v in e.variants} == {(8,)}
    assert [e.task for e in base.experiments] == ["sst2", "mrpc"]
    assert [e.task for e in changed.experiments] == ["mrpc", "mrpc"]
    assert changed.seeds == (3, 4)
    assert changed.raw["train"]["batch_size"] == 8  # the spec as run, saved beside the results
    lr = load_spec(SMOKE, ("variants.0.learning_rate=1e-3",)).experiments[0].variants[0].settings["learning_rate"]
    assert lr.values == (1e-3,) and isinstance(lr.values[0], float)


def test_lora_only_train_settings_are_dropped_for_full(tmp_path):
    text = (
        "experiments: [{model: minilm, task: sst2}]\n"
        "variants: [{method: full}, {method: lora}]\n"
        "train: {r: {grid: [4, 8]}, alpha: 16, dropout: 0.1, epochs: 2}\n"
    )
    loaded = load_spec(_write_case(tmp_path, text))
    full, lora = loaded.experiments[0].variants
    assert set(full.settings) == {"epochs"}
    assert {"r", "alpha", "dropout", "epochs"} <= set(lora.settings)
    trials = space.grid_trials(loaded)
    assert [t["method"] for t in trials].count("full") == 1  # not one full trial per rank
    assert sorted(t["r"] for t in trials if t["method"] == "lora") == [4, 8]
    assert loaded.name == "spec"  # no name: the file's stem


def test_variant_resources_override_the_top_level(tmp_path):
    text = spec("resources: {cpu: 2, gpu: 0.5}\n", lora="r: 8, resources: {cpu: 1}")
    lora, full = load_spec(_write_case(tmp_path, text)).experiments[0].variants
    assert (lora.cpu, lora.gpu) == (1, 0.5)
    assert (full.cpu, full.gpu) == (2, 0.5)


def test_empty_optional_sections_count_as_absent(tmp_path):
    loaded = load_spec(_write_case(tmp_path, spec("train:\nsearch:\nray:\nscheduler:\n")))
    assert loaded.algorithm == "grid" and loaded.scheduler is None and loaded.seeds == (0,)


def test_randint_epochs_bound_asha_by_the_largest_drawable_value(tmp_path):
    """randint's high is exclusive (as in Ray): epochs {randint: [1, 4]} runs at most 3 epochs."""
    loaded = load_spec(_write_case(tmp_path, spec("train: {epochs: {randint: [1, 4]}}\nscheduler: {type: asha}\n")))
    assert loaded.scheduler["max_epochs"] == 3


def test_python_tag_case_would_run_if_loaded_unsafely(tmp_path):
    """Control for the tag cases: PyYAML's unsafe loader does run the command, so the marker check can fail."""
    import yaml

    text = next(c[1] for c in BAD if c[0] == "python_apply").replace("{marker}", str(tmp_path / MARKER))
    yaml.load(text, Loader=yaml.UnsafeLoader)  # deliberately unsafe, on a harmless `touch`
    assert (tmp_path / MARKER).exists()
    with pytest.raises(SpecError, match="tag not allowed"):
        load_spec(_write_case(tmp_path, text))


def test_folders_in_trial_settings_are_resolved_on_the_driver(tmp_path, monkeypatch):
    """A trial runs in Ray's own working folder: a relative save_adapter/init_adapter must not land there."""
    from lora_sweep.spec.spec import load_spec

    monkeypatch.chdir(tmp_path)
    one = tmp_path / "one.yaml"
    one.write_text(spec(lora="r: 8, save_adapter: out/adapter").replace("  - {method: full}\n", ""))
    assert load_spec(one).experiments[0].variants[0].settings["save_adapter"].values == (str(tmp_path / "out/adapter"),)
    grid = tmp_path / "grid.yaml"
    grid.write_text(spec(lora="r: 8, init_adapter: {grid: [mnli, ~/mnli2]}"))
    variant = load_spec(grid).experiments[0].variants[0]
    assert variant.settings["init_adapter"].values == (str(tmp_path / "mnli"), str(Path.home() / "mnli2"))

"""Bad input never starts a sweep and never prints a traceback (issue 14), one table per class of mistake.

Every case goes through the CLI entry (`lora_sweep.run.main`, what `python -m lora_sweep.run` calls; a few
by subprocess) and must end with exit 2, at most three lines naming the key and what is allowed, no
traceback, and nothing written. Models are tiny local config folders (tests.tiny_models) or a hub id that
does not exist, looked up offline.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lora_sweep.cli import plan, run
from lora_sweep.cluster import preflight
from lora_sweep.spec import spec
from tests.tiny_models import save_tiny_config

REPO = Path(__file__).resolve().parents[1]
BASE = """name: pf
experiments: [{model: MODEL, task: sst2}]
variants:
  - {method: full}
  - {method: lora, r: 8}
train: {max_length: 32, epochs: 1}
search: {seeds: 1}
storage: STORE
"""


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict:
    """Config-only folders: BERT (64 positions, 32 wide), RoBERTa (66 embeddings = 64 positions), DeBERTa-v2
    (relative positions only), and an empty folder (no config.json)."""
    root = tmp_path_factory.mktemp("preflight-models")
    out = {arch: save_tiny_config(arch, root / arch) for arch in ("bert", "roberta", "deberta-v2")}
    (root / "empty").mkdir()
    out["empty"] = str(root / "empty")
    return out


@pytest.fixture()
def cli(tmp_path, tiny_models, monkeypatch, capsys):
    """Run main() on BASE (model bert unless `model` names another) in an empty working folder; return
    (exit code, output lines), after checking that nothing was written."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    store = tmp_path / "store"

    def call(*args, model="bert", text=None):
        spec_file = tmp_path / "spec.yaml"
        body = BASE.replace("MODEL", tiny_models.get(model, model)).replace("STORE", str(store))
        spec_file.write_text(body if text is None else text, encoding="utf-8")
        before = sorted(p.name for p in tmp_path.iterdir())
        code = run.main([str(spec_file), "--dry-run", *args])
        out = capsys.readouterr()
        lines = (out.out + out.err).strip().splitlines()
        assert sorted(p.name for p in tmp_path.iterdir()) == before and not any(work.iterdir()), "wrote files"
        return code, lines

    call.store = store
    return call


def assert_refused(code, lines, *expected):
    text = "\n".join(lines)
    assert code == 2, text
    assert 1 <= len(lines) <= 3 and "Traceback" not in text, text
    assert lines[0].startswith("error: "), text
    for part in expected:
        assert part in text, text


# Settings whose meaning depends on the model: (model, --set overrides, expected parts of the message).
MODEL_CASES = {
    "missing local folder": ("/nonexistent/lora_sweep/model", [], ["no such local folder", "/nonexistent"]),
    "folder without config.json": ("empty", [], ["cannot be loaded", "config.json"]),
    "unknown hub id (offline)": ("nobody-14/no-such-model", [], ["nobody-14/no-such-model", "cannot be loaded"]),
    "unknown random shape": ("random:gpt9", [], ["cannot be loaded", "random:<roberta-base"]),
    "target matches no layer": ("bert", ["variants.1.target_modules=[foo]"], ["variants[1] (lora)", "query, key"]),
    "DeBERTa names on RoBERTa": ("roberta", ["variants.1.target_modules=[query_proj]"], ["available: query,"]),
    "BERT names on DeBERTa": ("deberta-v2", ["variants.1.target_modules=[query]"], ["query_proj, key_proj"]),
    "one bad set in a grid": (
        "bert",
        ["variants.1.target_modules={grid: [[query], [q]]}"],
        ["['q'] match no linear layer", "attention.output.dense"],
    ),
    "empty target list": ("bert", ["variants.1.target_modules=[]"], ["target_modules", "none empty"]),
    "rank wider than the layer": ("bert", ["variants.1.r=33"], ["r 33", "min(in, out) = 32", "<= 32"]),
    "rank grid past the width": ("roberta", ["variants.1.r={grid: [4, 64]}"], ["r 64", "<= 32"]),
    "max_length past BERT's positions": ("bert", ["train.max_length=65"], ["max_length 65", "64 positions"]),
    "max_length past RoBERTa's offset": ("roberta", ["train.max_length=65"], ["variants[0] (full)", "<= 64"]),
    "max_length in a grid": ("bert", ["variants.1.max_length={grid: [32, 512]}"], ["max_length 512", "<= 64"]),
}


@pytest.mark.parametrize("case", list(MODEL_CASES))
def test_model_dependent_settings_are_refused(cli, case):
    model, sets, expected = MODEL_CASES[case]
    code, lines = cli(*(f"--set={s}" for s in sets), model=model)
    assert_refused(code, lines, *expected)


def test_settings_the_model_allows_pass(cli):
    """The edges: r = width, max_length = positions (RoBERTa's offset counted); DeBERTa-v2 has no absolute
    position limit; explicit targets with two-part suffixes."""
    assert cli("--set=variants.1.r=32", "--set=train.max_length=64")[0] == 0
    assert cli("--set=train.max_length=64", model="roberta")[0] == 0
    assert cli("--set=train.max_length=2048", model="deberta-v2")[0] == 0
    assert cli("--set=variants.1.target_modules=[query, attention.output.dense]")[0] == 0


SIZE_CASES = {
    "num_samples in the thousands": (["search.num_samples=20000"], ["40,000 trials planned", "max_trials=40000"]),
    "a seed count of a trillion": (["search.seeds=1000000000000"], ["1,000,000,000,000 trials"]),
    "a grid product in the millions": (
        [
            "variants.1.r={grid: [1, 2, 3, 4, 5, 6, 7, 8]}",
            f"variants.1.weight_decay={{grid: {[round(i * 1e-3, 3) for i in range(1, 300)]}}}",
            f"variants.1.warmup_ratio={{grid: {[round(i * 1e-3, 3) for i in range(1, 300)]}}}",
        ],
        ["trials planned", "grid points", "search.max_trials = 10,000"],
    ),
    "optuna draws past the limit": (["search.algorithm=optuna", "search.num_samples=10000"], ["20,000 trials"]),
    "a lowered limit": (["search.max_trials=1"], ["2 trials planned", "search.max_trials = 1"]),
    "a limit of zero": (["search.max_trials=0"], ["search.max_trials", ">= 1"]),
}


@pytest.mark.parametrize("case", list(SIZE_CASES))
def test_sizes_beyond_the_limit_are_refused_before_enumerating(cli, case):
    sets, expected = SIZE_CASES[case]
    code, lines = cli(*(f"--set={s}" for s in sets))
    assert_refused(code, lines, *expected)


def test_a_raised_limit_lets_a_large_count_through(cli):
    code, lines = cli("--set=search.num_samples=20", "--set=search.max_trials=40")
    assert code == 0 and lines[0].startswith("sweep pf: 40 trials"), lines


def _deep(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


VALUE_CASES = {
    "batch size past 32 bits": (["train.batch_size=2147483648"], ["train.batch_size", "at most 2147483647"]),
    "epochs past 64 bits": (["train.epochs=18446744073709551616"], ["train.epochs", "at most 2147483647"]),
    "an integer past 64 bits anywhere": (["train.weight_decay=99999999999999999999"], ["64 bits"]),
    "a rank in a grid past 32 bits": (["variants.1.r={grid: [8, 4294967296]}"], ["variants[1].r.grid[1]"]),
    "a seed past numpy's range": (["search.seeds=[0, 4294967296]"], ["search.seeds[1]", "[0, 4294967295]"]),
    "a negative data seed": (["train.data_seed=-1"], ["train.data_seed", "[0, 4294967295]"]),
    "a sampler seed past numpy's range": (["search.sampler_seed=8589934592"], ["search.sampler_seed"]),
    "max_failures past 32 bits": (["max_failures=9999999999"], ["max_failures", "at most"]),
    "nesting past 32 levels": ([f"train.max_length={_deep(40)}"], ["train.max_length", "more than 32 levels"]),
    "nesting past the recursion limit": ([f"train.max_length={_deep(5000)}"], ["--set", "nested too deeply"]),
    "a number of 5,000 digits": (["train.epochs=" + "9" * 5000], ["--set train.epochs", "cannot be read"]),
    "an address without a port": (["ray.address=head-node"], ["ray.address", "host:port"]),
    "a port past 65535": (["ray.address=10.0.0.1:99999"], ["ray.address", "1-65535"]),
    "a ray:// address without a host": (["ray.address=ray://:10001"], ["ray.address"]),
}


@pytest.mark.parametrize("case", list(VALUE_CASES))
def test_values_python_or_ray_choke_on_are_refused(cli, case):
    sets, expected = VALUE_CASES[case]
    code, lines = cli(*(f"--set={s}" for s in sets))
    assert_refused(code, lines, *expected)


@pytest.mark.parametrize("depth", [40, 400, 5000])
def test_deeply_nested_spec_files_are_one_line(cli, depth):
    code, lines = cli(text=BASE.replace("{max_length: 32, epochs: 1}", f"{{epochs: {_deep(depth)}}}"))
    assert_refused(code, lines, "nested")


STORAGE_CASES = {
    "storage is a file": (lambda t: t / "a-file", ["is a file, not a folder", "storage must be a folder"]),
    "storage under a file": (lambda t: t / "a-file" / "sub", ["a-file is a file"]),
    "the results folder is a file": (lambda t: t / "store-with-file", ["store-with-file/pf is a file"]),
    "a file:// URI to a file": (lambda t: f"file://{t / 'a-file'}", ["is a file"]),
    "a read-only place": (lambda t: "/proc/lora_sweep_results", ["cannot write under /proc"]),
    "an unsupported scheme": (lambda t: "ftp://host/results", ["unsupported URI scheme 'ftp://'", "s3://"]),
    "a URI without a bucket": (lambda t: "s3://", ["names no bucket"]),
    "a NUL in the path": (lambda t: '"res\\0ults"', ["NUL"]),
}


@pytest.mark.parametrize("case", list(STORAGE_CASES))
def test_places_that_cannot_hold_results_are_refused(cli, tmp_path, case):
    where, expected = STORAGE_CASES[case]
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "store-with-file").mkdir()
    (tmp_path / "store-with-file" / "pf").write_text("x")
    # --storage is taken literally; a NUL (which no command-line argument can hold) comes through --set's YAML.
    flag = "--set=storage=" if case == "a NUL in the path" else "--storage="
    code, lines = cli(f"{flag}{where(tmp_path)}")
    assert_refused(code, lines, "storage", *expected)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through a read-only mode; /proc covers root")
def test_a_folder_without_write_permission_is_refused(cli, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        assert_refused(*cli(f"--storage={locked}"), "cannot write under", str(locked))
    finally:
        locked.chmod(0o700)


def test_good_storage_passes_and_nothing_is_created(cli, tmp_path):
    assert cli(f"--storage={tmp_path / 'new' / 'deeper'}")[0] == 0
    assert cli("--storage=s3://bucket/sweeps")[0] == 0
    assert not (tmp_path / "new").exists() and not cli.store.exists()
    assert not [p for p in tmp_path.rglob(".lora_sweep_probe_*")]


def _boom(*args, **kwargs):
    raise RuntimeError("boom from a test\nsecond line")


UNEXPECTED_CASES = {
    "while parsing the spec": (spec, "parse_experiments"),
    "while checking models": (preflight, "check_models"),
    "while checking storage": (preflight, "check_storage"),
    "while planning": (plan, "plan_lines"),
}


@pytest.mark.parametrize("case", list(UNEXPECTED_CASES))
def test_an_unexpected_exception_is_one_line_and_debug_shows_it(cli, monkeypatch, case):
    module, name = UNEXPECTED_CASES[case]
    monkeypatch.setattr(module, name, _boom)
    code, lines = cli()
    assert_refused(code, lines, "unexpected RuntimeError", "boom from a test", "--debug")
    assert len(lines) == 1
    with pytest.raises(RuntimeError, match="boom"):
        cli("--debug")


SUBPROCESS_CASES = {
    "unknown hub id": (["--set", "experiments.0.model=nobody-14/missing"], "cannot be loaded"),
    "storage is a file": (["--storage", "FILE"], "is a file"),
    "a trillion seeds": (["--set", "search.seeds=1000000000000"], "trials planned"),
}


@pytest.mark.parametrize("case", list(SUBPROCESS_CASES))
def test_python_m_lora_sweep_run_refuses_in_one_line(tmp_path, tiny_models, case):
    args, expected = SUBPROCESS_CASES[case]
    (tmp_path / "a-file").write_text("x")
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(BASE.replace("MODEL", tiny_models["bert"]).replace("STORE", str(tmp_path / "store")))
    args = [str(tmp_path / "a-file") if a == "FILE" else a for a in args]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    done = subprocess.run(
        [sys.executable, "-m", "lora_sweep.run", str(spec_file), *args],  # not a dry run: the real start path
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert_refused(done.returncode, lines, expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "spec.yaml"]


def test_a_10000_trial_plan_answers_in_seconds(cli, tiny_models):
    """Issue 16: --dry-run on 9,990 configurations x 3 seeds prints the counts without enumerating slowly."""
    lora = "{method: lora, r: {grid: [1, 2, 4, 8, 16]}, alpha: {grid: [8, 16, 32]}, "
    lora += "learning_rate: {loguniform: [1e-5, 1e-2]}}"
    text = BASE.replace("MODEL", tiny_models["bert"]).replace("STORE", str(cli.store))
    text = text.replace("  - {method: full}\n  - {method: lora, r: 8}\n", f"  - {lora}\n")
    text = text.replace("search: {seeds: 1}", "search: {num_samples: 666, seeds: 3, max_trials: 40000}")
    started = time.perf_counter()
    code, lines = cli(text=text)
    print(f"--dry-run of 9,990 configurations: {time.perf_counter() - started:.1f} s")
    assert code == 0, lines
    assert lines[0].startswith("sweep pf: 9990 trials (configurations) x 3 seeds = 29970 trainings in 5 studies")
    assert sum(int(line.split()[1]) for line in lines if line.startswith(tiny_models["bert"])) == 9990

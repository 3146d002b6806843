"""Settings that silently did something else are refused or done as written, through the CLI entry (--dry-run):
a max_length shorter than the special tokens (the tokenizer ignored it), duplicate models, tasks (sst2 and SST-2),
experiments or variants (identical trials raced each other), and `--set` on a spec whose variants share a YAML
alias (it changed every alias; now only the place named)."""

from __future__ import annotations

import pytest

from lora_sweep.cli import run
from tests.tiny_models import save_tiny_config

BASE = """name: ss
experiments: EXPERIMENTS
variants: VARIANTS
train: {max_length: 32, epochs: 1}
search: {seeds: 1}
storage: STORE
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> str:
    return save_tiny_config("bert", tmp_path_factory.mktemp("ss") / "bert")


def _main(tmp_path, monkeypatch, capsys, model, experiments, variants, *args):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec_file = tmp_path / "spec.yaml"
    text = BASE.replace("EXPERIMENTS", experiments.replace("M", model)).replace("VARIANTS", variants)
    spec_file.write_text(text.replace("STORE", str(tmp_path / "store")))
    code = run.main([str(spec_file), "--dry-run", *args])
    out = capsys.readouterr()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]
    return code, (out.out + out.err).strip().splitlines()


ONE = "[{model: M, task: sst2}]"
LORA = "[{method: lora, r: 4}]"
CASES = {
    "max_length 1": (ONE, LORA, ["--set=train.max_length=1"], "max_length: got 1; must be an integer >= 4"),
    "max_length 5 on sentence pairs": (
        "[{model: M, task: mrpc}]",
        LORA,
        ["--set=train.max_length=5"],
        "max_length: got 5; must be an integer >= 8 for sentence pairs",
    ),
    "a model twice": ("[{models: [M, M], task: sst2}]", LORA, [], "is listed twice"),
    "sst2 and SST-2": ("[{model: M, tasks: [sst2, SST-2]}]", LORA, [], "/sst2 is listed twice"),
    "an experiment twice": ("[{model: M, task: sst2}, {model: M, task: sst2}]", LORA, [], "is listed twice"),
    "a variant twice": (ONE, "[{method: lora, r: 4}, {method: lora, r: 4}]", [], "variants[1] repeats variants[0]"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_silent_surprise_is_refused(tmp_path, monkeypatch, capsys, model, case):
    experiments, variants, args, expected = CASES[case]
    code, lines = _main(tmp_path, monkeypatch, capsys, model, experiments, variants, *args)
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], lines


def test_set_changes_only_the_place_named_through_a_yaml_alias(tmp_path, monkeypatch, capsys, model):
    variants = "[&v {method: lora, r: 4, learning_rate: 0.001}, *v]"
    code, lines = _main(tmp_path, monkeypatch, capsys, model, ONE, variants, "--set=variants.1.r=8")
    assert code == 0, lines
    studies = sorted(line.split()[0] for line in lines if line.split()[:1] and "/sst2/lora-r" in line.split()[0])
    assert [s.rsplit("/", 1)[-1] for s in studies] == ["lora-r4", "lora-r8"], lines

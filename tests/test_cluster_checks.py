"""Joining a cluster, without one (issue 13): ray:// refused, what travels in the runtime_env, resources per node,
an autoscaling cluster waited for, local model paths resolved on the driver. The real cluster is in
tests/test_shared_nothing_cluster.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lora_sweep.cli import run
from lora_sweep.cluster import join as cluster
from lora_sweep.spec.spec import SpecError, load_spec

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "sweeps" / "smoke.yaml"


def test_a_ray_client_address_is_refused_with_the_alternative(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert run.main([str(SMOKE), "--address", "ray://head:10001", "--storage", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: ray.address: ray://head:10001 is a Ray Client address"), err
    assert "ray job submit --address http://HEAD:8265 -- python -m lora_sweep.run SPEC" in err[0]
    monkeypatch.setenv("RAY_ADDRESS", "ray://head:10001")
    with pytest.raises(SpecError, match="^RAY_ADDRESS: ray://head:10001 is a Ray Client address"):
        cluster.joining(load_spec(SMOKE))
    assert not (tmp_path / "s").exists()


def test_code_and_settings_travel_and_a_job_runtime_env_wins(monkeypatch):
    for key in cluster.TRAVEL:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv(cluster.JOB_CONFIG_ENV, raising=False)
    monkeypatch.setenv("HF_HOME", "/cache/hf")
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    monkeypatch.setenv("GLUE_DIR", "/data/glue")
    env = cluster.runtime_env()
    assert [Path(p).name for p in env["py_modules"]] == ["lora_sweep", "analysis"]
    assert all(os.path.isfile(os.path.join(p, "__init__.py")) for p in env["py_modules"])
    assert env["env_vars"] == {"HF_HOME": "/cache/hf", "HF_TOKEN": "hf_secret", "GLUE_DIR": "/data/glue"}
    job = {"runtime_env": {"py_modules": ["s3://b/m.zip"], "env_vars": {"GLUE_DIR": "/job/glue"}}}
    monkeypatch.setenv(cluster.JOB_CONFIG_ENV, json.dumps(job))
    env = cluster.runtime_env()  # Ray refuses to merge a field or variable both set
    assert "py_modules" not in env and env["env_vars"] == {"HF_HOME": "/cache/hf", "HF_TOKEN": "hf_secret"}


def _nodes(*sizes):
    return [
        {"NodeID": f"{i:056x}", "NodeManagerAddress": "10.0.0.1", "Alive": True, "Resources": {"CPU": c, "GPU": g}}
        for i, (c, g) in enumerate(sizes)
    ]


def test_a_trial_must_fit_one_node_not_the_cluster_total(monkeypatch):
    spec = load_spec(SMOKE, ("variants.1.resources={cpu: 2, gpu: 2}",))
    monkeypatch.setattr(cluster, "alive_nodes", lambda: _nodes((8, 1), (8, 1)))  # 2 GPUs in all, 1 per node
    with pytest.raises(SpecError) as refused:
        cluster.check_resources(spec)
    message = str(refused.value)
    assert message.startswith("experiment minilm/sst2, variant lora: a trial asks for 2 CPU + 2 GPU on one node")
    assert "nodes: 8 CPU + 1 GPU" in message and "ray.autoscaling" in message
    monkeypatch.setattr(cluster, "alive_nodes", lambda: _nodes((8, 1), (4, 2)))
    cluster.check_resources(spec)


def test_an_autoscaling_cluster_is_waited_for(monkeypatch):
    spec = load_spec(SMOKE, ("variants.1.resources={gpu: 1}", "ray.autoscaling=true"))
    monkeypatch.setattr(cluster, "alive_nodes", lambda: _nodes((4, 0)))  # starts with no GPU node
    said = []
    cluster.check_resources(spec, said.append)
    assert len(said) == 2 and all("waiting for the cluster to add a node" in line for line in said), said
    with pytest.raises(SpecError, match="ray.autoscaling: got 'often'; must be true or false"):
        load_spec(SMOKE, ("ray.autoscaling=often",))


def test_a_local_model_path_is_made_absolute_on_the_driver(tmp_path, monkeypatch):
    (tmp_path / "tinybert").mkdir()
    monkeypatch.chdir(tmp_path)
    for name in ("./tinybert", "tinybert"):
        spec = load_spec(SMOKE, (f"experiments=[{{model: {name}, task: sst2}}]",))
        assert {e.model for e in spec.experiments} == {str(tmp_path / "tinybert")}
    spec = load_spec(SMOKE, ("experiments=[{model: FacebookAI/roberta-base, task: sst2}]",))
    assert spec.experiments[0].model == "FacebookAI/roberta-base"


def test_the_probe_reports_what_a_node_lacks(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "empty_pkg_xyz").mkdir()  # a bare folder imports as a namespace package: not the package
    marker, model = tmp_path / "marker", tmp_path / "model"
    found = cluster.probe(["json", "no_such_package_xyz", "empty_pkg_xyz"], str(marker), [str(model)])
    assert found["missing"][0].startswith("no_such_package_xyz (ModuleNotFoundError)")
    assert found["missing"][1].startswith("empty_pkg_xyz") and found["storage"] == "not found"
    assert found["folders"] == [str(model)]

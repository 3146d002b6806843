"""What a local Ray instance would expose is refused or said before Ray starts (ray.init is never reached here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lora_sweep.cli import run
from lora_sweep.spec.spec import SpecError, load_spec

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "sweeps" / "smoke.yaml"


class Reached(Exception):
    """ray.init was called."""


@pytest.fixture
def sweep(monkeypatch, tmp_path):
    from ray._private import ray_constants

    from lora_sweep.sweep import driver as sweep

    def init(*args, **kwargs):
        # what Ray would read while starting: without both, it swaps 127.0.0.1 for the outward address
        raise Reached(kwargs, ray_constants.ENABLE_RAY_CLUSTER, os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"))

    monkeypatch.setattr(sweep.ray, "init", init)
    monkeypatch.setattr(sweep, "run_sweep", lambda *a, **k: (_ for _ in ()).throw(Reached("run_sweep")))
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "1")  # start_ray sets it to 0 while Ray starts
    monkeypatch.setattr(ray_constants, "ENABLE_RAY_CLUSTER", True)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return sweep


def test_auth_disabled_in_the_environment_is_refused_for_a_local_instance(sweep, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    with pytest.raises(SpecError, match="RAY_AUTH_MODE=disabled"):
        sweep.start_ray(load_spec(SMOKE))
    assert run.main([str(SMOKE), "--storage", str(tmp_path / "store")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: ray.auth: RAY_AUTH_MODE=disabled"), err
    assert not (tmp_path / "store").exists()


def test_auth_disabled_is_allowed_when_the_spec_says_so(sweep, monkeypatch):
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    with pytest.raises(Reached) as reached:
        sweep.start_ray(load_spec(SMOKE, ("ray.auth=disabled", "ray.dashboard_port=0")))
    from ray._private import ray_constants

    assert ray_constants.ENABLE_RAY_CLUSTER is True and os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "1"
    assert reached.value.args[0]["_node_ip_address"] == "127.0.0.1"
    assert reached.value.args[0]["address"] == "local"  # never the latest `ray start` cluster on this machine
    assert reached.value.args[1:] == (False, "0")


def test_joining_a_cluster_without_a_token_warns(sweep, monkeypatch, capsys):
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    with pytest.raises(Reached):
        sweep.start_ray(load_spec(SMOKE, ("ray.address=head:6379",)))
    assert "joining a Ray cluster without an authentication token" in capsys.readouterr().err


def test_a_dashboard_beyond_loopback_is_said_in_the_plan_and_at_start(sweep, capsys):
    assert run.main([str(SMOKE), "--dry-run", "--set", "ray.dashboard_host=0.0.0.0"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("warning: ray.dashboard_host 0.0.0.0: the Ray dashboard (port 8265) listens beyond"), out
    with pytest.raises(Reached):
        sweep.start_ray(load_spec(SMOKE, ("ray.dashboard_host=0.0.0.0", "ray.dashboard_port=0")))
    assert "warning: ray.dashboard_host 0.0.0.0" in capsys.readouterr().err

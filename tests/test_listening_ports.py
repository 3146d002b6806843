"""A local sweep listens on loopback only, and leaves nothing listening after its driver is SIGKILLed.

Run in a private network namespace that looks like a host (tests/netns.py): there Ray takes 10.77.0.1 as the outward
address and binds as on a real machine (11 sockets beyond 127.0.0.1 before the fix), while no packet leaves it. A
watcher inside the namespace lists the listening sockets from /proc/net/tcp and tcp6 (with their owning process)
while the sweep runs; every socket in the namespace belongs to the sweep.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests import netns
from tests.sweep_support import cli_env, tiny_world, write_spec

WATCH = r"""
import json, os, signal, socket, subprocess, sys, time
from tests import netns

mode, spec, log_path = sys.argv[1:4]
busy = socket.socket()
busy.bind(("127.0.0.1", 8265))  # another run's dashboard holds the default port
busy.listen()
log = open(log_path, "w")
cli = subprocess.Popen([sys.executable, "-m", "lora_sweep.run", spec, "--storage", "store"], stdout=log,
                       stderr=subprocess.STDOUT)
seen, workers, killed = {}, False, False
deadline = time.monotonic() + 400
while cli.poll() is None and time.monotonic() < deadline:
    who = netns.owners()
    for address, port, inode in netns.listening():
        owner = who.get(inode, "?")
        workers = workers or (" ray::" in owner and "Agent" not in owner)
        if not netns.loopback(address):
            seen[f"{address}:{port}"] = owner
    if mode == "kill" and workers:
        time.sleep(3)  # let the trial start its work and every agent come up
        cli.send_signal(signal.SIGKILL)
        killed = True
        break
    time.sleep(0.2)
if cli.poll() is None:  # past the deadline: end it rather than leave it running
    cli.kill()
cli.wait()
busy.close()
left, end = [], time.monotonic() + 60  # a loaded machine: give the reaper time, poll
while time.monotonic() < end:
    who = netns.owners()
    left = [f"{a}:{p} ({who.get(i, '?')})" for a, p, i in netns.listening()]
    if not left:
        break
    time.sleep(0.5)
print(json.dumps({"beyond_loopback": seen, "workers": workers, "killed": killed, "left": left,
                  "code": cli.returncode}))
"""


@pytest.fixture(scope="module")
def namespace_ok():
    why = netns.available()
    if why:
        pytest.skip(why)


def _watch(tmp_path, mode: str) -> tuple[dict, str]:
    model, glue = tiny_world(tmp_path)
    spec = write_spec(
        tmp_path / "ports.yaml",
        model,
        variants=[{"method": "lora", "r": 2, "learning_rate": 5e-3}],
        train={"epochs": 3 if mode == "complete" else 40, "batch_size": 16, "max_length": 32},
    )
    log = tmp_path / "cli.log"
    done = subprocess.run(
        netns.command([sys.executable, "-c", WATCH, mode, str(spec), str(log)]),
        cwd=tmp_path,
        env=cli_env(glue),
        capture_output=True,
        text=True,
        timeout=580,
    )
    text = log.read_text() if log.exists() else ""
    assert done.returncode == 0, done.stderr[-3000:] + text[-3000:]
    return json.loads(done.stdout.splitlines()[-1]), text


@pytest.mark.slow
def test_a_local_sweep_listens_on_loopback_only(tmp_path, namespace_ok):
    result, log = _watch(tmp_path, "complete")
    assert result["code"] == 0, log[-3000:]
    assert result["workers"], "the watcher never saw a Ray worker listening: it did not watch the sweep"
    assert result["beyond_loopback"] == {}, json.dumps(result["beyond_loopback"], indent=1)
    assert result["left"] == [], result["left"]
    # the default dashboard port was taken: another one was used, and said
    assert "dashboard port 8265 on 127.0.0.1 is taken" in log, log[-3000:]


@pytest.mark.slow
def test_nothing_listens_after_the_driver_is_killed(tmp_path, namespace_ok):
    result, log = _watch(tmp_path, "kill")
    assert result["killed"], log[-3000:]
    assert result["beyond_loopback"] == {}, json.dumps(result["beyond_loopback"], indent=1)
    assert result["left"] == [], "still listening 60 s after the driver's SIGKILL: " + "; ".join(result["left"])


def test_reaper_finds_processes_by_marker_not_by_a_start_list(tmp_path):
    """A process started after the reaper, carrying the instance's marker, is found and ended; others are not."""
    import os

    from lora_sweep.cluster import ray_reaper

    marker, session = "a" * 32, str(tmp_path / "session_x")
    env = {**os.environ, ray_reaper.MARKER_ENV: marker}
    ignores_term = "import signal, time; signal.signal(15, signal.SIG_IGN); print('ready', flush=True); time.sleep(600)"
    ours = subprocess.Popen([sys.executable, "-c", ignores_term], env=env, stdout=subprocess.PIPE, text=True)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        assert ours.stdout.readline().strip() == "ready"
        assert ours.pid in ray_reaper.instance_processes(marker, session, -1)
        assert other.pid not in ray_reaper.instance_processes(marker, session, -1)
        ray_reaper.reap(marker, session, driver=-1)  # ours ignores SIGTERM: SIGKILL after the grace
        assert ours.wait(timeout=60) == -9
        assert other.poll() is None
    finally:
        for p in (ours, other):
            p.kill()
            p.wait(timeout=60)
        ours.stdout.close()

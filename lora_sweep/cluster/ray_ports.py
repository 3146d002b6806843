"""What a local Ray instance exposes, and the settings that keep it on loopback.

Ray 2.60 replaces `_node_ip_address="127.0.0.1"` by the machine's outward address (services.resolve_ip_for_localhost
-> get_node_ip_address) unless RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0; with that address the GCS server, raylet and
workers listen on all interfaces, the dashboard and runtime-env agents on the outward address, and the metrics ports
on 0.0.0.0. With the variable set to 0 (for the driver, read at import as ray_constants.ENABLE_RAY_CLUSTER, and for
every process Ray starts, through the environment) each of them listens on 127.0.0.1 only
(tests/test_listening_ports.py checks it in a network namespace that has an outward address).

Imports no Ray at module level: run.py calls the checks here before Ray is imported.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from pathlib import Path

from lora_sweep.spec.spec import LOOPBACK, SpecError

LOCAL_ONLY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
AUTH_ENV = "RAY_AUTH_MODE"
DEFAULT_DASHBOARD_PORT = 8265  # ray_constants.DEFAULT_DASHBOARD_PORT


@contextlib.contextmanager
def loopback_only():
    """Around ray.init of a local instance: every Ray process binds 127.0.0.1 (see the module docstring).

    The processes Ray starts keep the variable; this process gets its environment back afterwards (a later
    cluster join from the same process must not take 127.0.0.1 for its address).
    """
    from ray._private import ray_constants

    before, constant = {k: os.environ.get(k) for k in LOCAL_ONLY_ENV}, ray_constants.ENABLE_RAY_CLUSTER
    os.environ.update(LOCAL_ONLY_ENV)
    ray_constants.ENABLE_RAY_CLUSTER = False  # read once, at import, by services.get_node_ip_address
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = constant
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def auth_disabled() -> bool:
    return os.environ.get(AUTH_ENV, "").strip().lower() == "disabled"


def check_local_auth(spec) -> None:
    """RAY_AUTH_MODE=disabled switches the local instance's token off: only when the spec says so too."""
    if spec.address or os.environ.get("RAY_ADDRESS"):
        return
    if auth_disabled() and spec.auth != "disabled":
        raise SpecError(
            f"ray.auth: {AUTH_ENV}=disabled is set in the environment, which starts the local Ray instance without "
            "its token (any local user could run code in it); unset it, or set ray.auth: disabled in the spec"
        )


def warn_cluster_auth(spec, log) -> None:
    """Joining a cluster: say so when this side has no token to offer (the cluster may run without one)."""
    if not (spec.address or os.environ.get("RAY_ADDRESS")):
        return
    token = os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
    if auth_disabled() or not (token or (Path.home() / ".ray" / "auth_token").is_file()):
        log(
            "[lora_sweep] warning: joining a Ray cluster without an authentication token "
            f"({AUTH_ENV}={os.environ.get(AUTH_ENV, 'unset')}); if the cluster runs without one, anyone who reaches "
            "its ports can run code on it (https://docs.ray.io/en/latest/ray-security/token-auth.html)"
        )


def exposure_line(spec) -> str | None:
    """One line for the plan and the start when the dashboard listens beyond loopback, else None."""
    if spec.include_dashboard and spec.dashboard_host not in LOOPBACK:
        return (
            f"warning: ray.dashboard_host {spec.dashboard_host}: the Ray dashboard (port {spec.dashboard_port}) "
            "listens beyond loopback; anyone who reaches it can submit jobs and run code on this machine"
        )
    return None


def dashboard_port_to_ask(host: str, port: int, log) -> int | None:
    """What to pass as ray.init(dashboard_port=...).

    Ray's default port (8265): None, so that Ray's dashboard itself tries 8265, 8266, ... at bind time (no race
    with another run starting at the same moment; say_dashboard_port tells which one it took). Another port:
    that port, or a free one when it is taken (said on log).
    """
    if port == DEFAULT_DASHBOARD_PORT:
        return None
    if port == 0:
        return port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    bind_host = "127.0.0.1" if host == "localhost" else host
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((bind_host, port))
            return port
        except OSError as err:
            if err.errno != errno.EADDRINUSE:
                return port
    log(f"[lora_sweep] dashboard port {port} on {host} is taken (another Ray instance?); Ray picks a free one")
    return 0


def say_dashboard_port(spec, url: str | None, log) -> None:
    """After Ray started with the default port: say so when another run held 8265 and Ray took another."""
    port = (url or "").rstrip("/").rsplit(":", 1)[-1]
    if port.isdigit() and int(port) != spec.dashboard_port:
        log(
            f"[lora_sweep] dashboard port {spec.dashboard_port} on {spec.dashboard_host} is taken "
            f"(another Ray instance?); using {port}"
        )


def dashboard_port_taken(err: Exception) -> bool:
    text = str(err)
    return "valid port for dashboard" in text or "already occupied" in text

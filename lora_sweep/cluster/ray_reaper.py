"""The reaper of a local Ray instance: when the driver is gone (ended or SIGKILLed), no process of its instance stays.

sweep.py starts it after ray.init, in its own session (a kill of the driver's process group does not reach it), with
the driver's pid, the instance's marker and its session folder. It waits for the driver to go (its parent changes,
or the pipe from the driver closes), then finds the instance's processes at that moment, not from a list taken at
start: a process belongs to the instance when its environment carries the marker (set for ray.init only, so the GCS
server, raylet, agents and workers inherit it), or its command line or one of its open files is in the session folder.
It sends SIGTERM, SIGKILL to those still there a few seconds later, and scans again until none is left (Ray's agents
may restart or ignore SIGTERM), for at most DEADLINE_S.

Usage (internal): python -m lora_sweep.cluster.ray_reaper DRIVER_PID MARKER SESSION_DIR
"""

from __future__ import annotations

import os
import re
import select
import signal
import sys
import time

MARKER_ENV = "LORA_SWEEP_RAY_INSTANCE"
TERM_GRACE_S = 3.0
DEADLINE_S = 120.0


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def belongs(pid: int, marker: str, session: str) -> bool:
    """Whether process pid is part of the instance (marker in its environment, session folder in use)."""
    base = f"/proc/{pid}"
    if f"{MARKER_ENV}={marker}".encode() in _read(f"{base}/environ").split(b"\0"):
        return True
    if not session:  # the marker alone (an instance whose session folder is not known)
        return False
    if re.search(re.escape(session.encode()) + rb"(?![\w.-])", _read(f"{base}/cmdline")):
        return True
    try:
        fds = os.listdir(f"{base}/fd")
    except OSError:
        return False
    for fd in fds:  # a file in the session folder open for writing (Ray's processes write their logs there)
        try:
            if os.readlink(f"{base}/fd/{fd}").startswith(session + "/") and _writing(f"{base}/fdinfo/{fd}"):
                return True
        except OSError:
            continue
    return False


def _writing(fdinfo: str) -> bool:
    for line in _read(fdinfo).decode(errors="replace").splitlines():
        if line.startswith("flags:"):
            return int(line.split()[1], 8) & (os.O_WRONLY | os.O_RDWR) != 0
    return False


def _state(pid: int) -> str:
    text = _read(f"/proc/{pid}/stat").decode(errors="replace")
    return text.rsplit(")", 1)[1].split()[0] if ")" in text else ""


def instance_processes(marker: str, session: str, driver: int) -> list[int]:
    """This user's live processes of the instance, this reaper and the driver (after a normal stop) excluded."""
    me, uid = os.getpid(), os.getuid()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in (me, driver):
            continue
        pid = int(name)
        try:
            if os.stat(f"/proc/{pid}").st_uid != uid or _state(pid) in ("Z", "X", ""):
                continue
        except OSError:
            continue
        if belongs(pid, marker, session):
            found.append(pid)
    return found


def _signal(pids, sig) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def reap(marker: str, session: str, driver: int, deadline_s: float = DEADLINE_S) -> None:
    """SIGTERM the instance's processes, SIGKILL what is left after TERM_GRACE_S; rescan until none is left."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        pids = instance_processes(marker, session, driver)
        if not pids:
            return
        _signal(pids, signal.SIGTERM)
        grace = time.monotonic() + TERM_GRACE_S
        while time.monotonic() < grace and instance_processes(marker, session, driver):
            time.sleep(0.2)
        _signal(instance_processes(marker, session, driver), signal.SIGKILL)
        time.sleep(0.2)


def wait_for_driver(driver: int) -> None:
    """Return when the driver has gone: our parent changed, or stdin (a pipe from the driver) closed."""
    while os.getppid() == driver:
        ready, _, _ = select.select([sys.stdin], [], [], 1.0)
        if ready and not os.read(sys.stdin.fileno(), 4096):
            return


def main(argv: list[str]) -> int:
    driver, marker, session = int(argv[0]), argv[1], argv[2].rstrip("/")
    if len(marker) < 16 or not os.path.isabs(session) or "session_" not in session:
        print(f"ray_reaper: refusing marker {marker!r} / session {session!r}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C meant for the driver must not stop the reaper
    wait_for_driver(driver)
    reap(marker, session, driver)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

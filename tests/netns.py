"""A private network namespace that looks like a host, and the listening sockets seen in it.

`unshare -n` gives a namespace with only `lo`; with loopback alone Ray falls back to 127.0.0.1 for everything, so a
test there could not fail. Adding 10.77.0.1 on lo and a default route through it makes Ray take 10.77.0.1 as the
outward address and bind as on a real machine, while no packet leaves the namespace.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
from pathlib import Path

OUTWARD = "10.77.0.1"
SETUP = f"ip link set lo up && ip addr add {OUTWARD}/32 dev lo && ip route add default dev lo src {OUTWARD}"


def available() -> str | None:
    """None when `unshare -n` with `ip` works here, else why not (for pytest.skip)."""
    if not shutil.which("unshare") or not shutil.which("ip"):
        return "unshare or ip not installed"
    done = subprocess.run(["unshare", "-n", "sh", "-c", SETUP], capture_output=True, text=True, timeout=60)
    return None if done.returncode == 0 else f"no private network namespace here: {done.stderr.strip()[:200]}"


def command(argv: list[str]) -> list[str]:
    """argv run inside a fresh namespace set up as a host with outward address OUTWARD."""
    return ["unshare", "-n", "sh", "-c", f'{SETUP} && exec "$@"', "netns", *argv]


def _address(hex_addr: str) -> str:
    raw = bytes.fromhex(hex_addr)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, struct.pack("<I", int(hex_addr, 16)))
    words = struct.unpack("<4I", raw)
    return socket.inet_ntop(socket.AF_INET6, struct.pack(">4I", *words))


def listening(proc_root: str = "/proc") -> list[tuple[str, int, int]]:
    """(address, port, inode) of every TCP socket listening in this process's network namespace."""
    out = []
    for name in ("tcp", "tcp6"):
        path = Path(proc_root, "net", name)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A":  # TCP_LISTEN
                continue
            addr, port = fields[1].split(":")
            out.append((_address(addr), int(port, 16), int(fields[9])))
    return out


def owners() -> dict[int, str]:
    """socket inode -> 'pid command' of the process holding it (from /proc/*/fd)."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:120]
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    found[int(target[8:-1])] = f"{pid} {cmd.strip()}"
        except OSError:
            continue
    return found


def loopback(address: str) -> bool:
    return address.startswith("127.") or address in ("::1", "::ffff:127.0.0.1") or address.startswith("::ffff:127.")


def beyond_loopback() -> list[str]:
    """'address:port (pid command)' of each listening socket not on loopback."""
    who = owners()
    return [f"{a}:{p} ({who.get(i, '?')})" for a, p, i in listening() if not loopback(a)]

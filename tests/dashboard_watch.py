"""Run the CLI as run_cli does, and read the Ray dashboard's Jobs and Actors views (its HTTP API, with the token
from ~/.ray/auth_token, as a user's browser does) while the sweep runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.sweep_support import REPO, cli_env

POLL_S = 2.0


def _token() -> str | None:
    path = Path.home() / ".ray" / "auth_token"
    return path.read_text().strip() if path.is_file() else None


def get_json(url: str, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
        return json.loads(response.read())


def run_watching_dashboard(args: list[str], glue: Path, folder: Path, timeout: int = 300):
    """(CompletedProcess, jobs by job id, actors by actor id): every job and every actor with a repr that the
    dashboard listed while the driver ran (dead actors stay listed, so a late poll still sees early ones)."""
    out_path, err_path = folder / "cli_stdout.txt", folder / "cli_stderr.txt"
    jobs, actors = {}, {}
    with open(out_path, "w") as out, open(err_path, "w") as err:
        driver = subprocess.Popen(
            [sys.executable, "-m", "lora_sweep.run", *args],
            cwd=REPO,
            env={**cli_env(glue), "PYTHONUNBUFFERED": "1"},  # the dashboard's URL is printed as soon as Ray is up
            stdout=out,
            stderr=err,
        )
        deadline = time.time() + timeout
        try:
            while driver.poll() is None and time.time() < deadline:
                found = re.search(r"Ray dashboard: (http://\S+)", out_path.read_text())
                if found:
                    _poll(found[1], jobs, actors)
                time.sleep(POLL_S)
            code = driver.wait(timeout=max(1.0, deadline - time.time()))
        finally:
            if driver.poll() is None:
                driver.kill()
                driver.wait()
    done = subprocess.CompletedProcess(args, code, out_path.read_text(), err_path.read_text())
    return done, jobs, actors


def _poll(url: str, jobs: dict, actors: dict) -> None:
    token = _token()
    try:
        for job in get_json(f"{url}/api/jobs/", token):
            jobs[job["job_id"] or job.get("submission_id")] = job
        listed = get_json(f"{url}/api/v0/actors?limit=10000&detail=1", token)["data"]["result"]["result"]
    except (OSError, ValueError, KeyError):  # not up yet, or shutting down: the next poll tries again
        return
    for actor in listed:
        if actor.get("repr_name"):
            actors[actor["actor_id"]] = actor

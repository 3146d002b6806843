"""Shared pieces of the sweep tests: a tiny model and tiny GLUE folder, a spec writer, and the CLI runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.trial_fixtures import make_tiny_bert, make_tiny_glue

REPO = Path(__file__).resolve().parents[1]


def tiny_world(root: Path) -> tuple[Path, Path]:
    """(model folder, GLUE folder) under root, built once per root."""
    model, glue = root / "tiny-bert", root / "glue"
    if not model.exists():
        model.mkdir(parents=True)
        make_tiny_bert(model)
    if not glue.exists():
        make_tiny_glue(glue)
    return model, glue


def write_spec(path: Path, model: Path, **sections) -> Path:
    """A small sweep on the tiny model; sections replace the defaults below."""
    spec = {
        "name": "tiny",
        "experiments": [{"model": str(model), "task": "sst2"}],
        "variants": [
            {"method": "full", "learning_rate": 1e-3},
            {"method": "lora", "r": {"grid": [2, 4]}, "learning_rate": 5e-3},
        ],
        "train": {"epochs": 2, "batch_size": 16, "max_length": 32},
        "search": {"algorithm": "grid", "max_concurrent": 2},
        "scheduler": None,
        "resources": {"cpu": 1},
        "max_failures": 0,
    }
    spec.update(sections)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def cli_env(glue: Path) -> dict:
    env = {**os.environ, "GLUE_DIR": str(glue), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    env.pop("RAY_ADDRESS", None)
    return env


def run_cli(args: list[str], glue: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lora_sweep.run", *args],
        cwd=REPO,
        env=cli_env(glue),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_cli(args: list[str], glue: Path, log: Path, **env: str) -> subprocess.Popen:
    handle = open(log, "w")  # noqa: SIM115 - closed when the process is reaped by the caller's wait()
    return subprocess.Popen(
        [sys.executable, "-m", "lora_sweep.run", *args],
        cwd=REPO,
        env={**cli_env(glue), **env},
        stdout=handle,
        stderr=subprocess.STDOUT,
    )


def nodes_reporting(store: Path) -> set[str]:
    """Node ids in the results Ray wrote so far for the sweep named tiny under store (result.json per trial)."""
    nodes = set()
    for path in store.glob("tiny/trial_*/result.json"):
        for line in path.read_text().splitlines():
            try:
                nodes.add(json.loads(line).get("node", ""))
            except json.JSONDecodeError:  # a line being written
                continue
    return nodes

"""Every cheap command in the README runs as written.

The commands are read from the README's fenced shell blocks (a line that starts with `lora-sweep`, after any
`GLUE_DIR=...` prefix; `\\` continuations joined). The cheap ones run through bash with the installed
`lora-sweep` script (the one beside sys.executable) first on PATH: every `--help`, `--version`, `--dry-run`,
`init` and `ls`. Each must exit 0. GLUE_DIR comes from the environment, not from the README's example folder.

They run in a scratch folder that links every entry of the repository root, so relative paths (`sweeps/...`)
read as from the root while what a command writes (`init smoke > my.yaml`) stays out of the checkout. Besides the
README's own commands, every shipped spec is dry-run by name (tests/test_cli.py checks each verb's --help,
--version and init).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lora_sweep.spec import shipped

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SHELL_LANGUAGES = ("", "sh", "bash", "shell", "console")
ENV_PREFIX = re.compile(r"^(?:[A-Z_][A-Z0-9_]*=\S+\s+)+")
CHEAP_FLAGS = ("--help", "--version", "--dry-run")
CHEAP_VERBS = ("init", "ls")
TIMEOUT_S = 180


def shell_blocks(text: str) -> list[str]:
    """The text of each fenced block whose language is a shell's (or none), fences paired in order."""
    blocks, language, lines = [], None, []
    for line in text.splitlines():
        if line.startswith("```"):
            if language is None:
                language, lines = line[3:].strip(), []
            else:
                if language in SHELL_LANGUAGES:
                    blocks.append("\n".join(lines) + "\n")
                language = None
        elif language is not None:
            lines.append(line)
    assert language is None, "README.md: a fenced block is never closed"
    return blocks


def readme_commands(text: str) -> list[str]:
    """`lora-sweep ...` command lines of the fenced shell blocks, continuations joined, env prefixes and comments
    dropped, in README order."""
    commands = []
    for block in shell_blocks(text):
        for line in block.replace("\\\n", " ").splitlines():
            line = ENV_PREFIX.sub("", line.strip()).partition(" #")[0].rstrip()
            if line.startswith("lora-sweep"):
                commands.append(line)
    return commands


def _words(command: str) -> list[str]:
    return shlex.split(command.split(">")[0], comments=True)


def is_cheap(command: str) -> bool:
    words = _words(command)
    return any(flag in words for flag in CHEAP_FLAGS) or (len(words) > 1 and words[1] in CHEAP_VERBS)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """A folder that reads as the repository root (a link per entry) and keeps what commands write."""
    folder = tmp_path_factory.mktemp("readme")
    for entry in ROOT.iterdir():
        if entry.name not in (".git", "results", "my.yaml"):
            (folder / entry.name).symlink_to(entry)
    (folder / "results").mkdir()  # the default storage, empty: `lora-sweep ls results` lists no sweep
    return folder


def _env() -> dict:
    bin_dir = str(Path(sys.executable).parent)
    script = Path(bin_dir) / "lora-sweep"
    assert script.is_file(), f"no installed lora-sweep script beside {sys.executable}: pip install -e ."
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    env.setdefault("HF_HUB_OFFLINE", "1")  # --help and --dry-run never need the network
    return env


def _run(command: str, cwd: Path, env: dict) -> tuple[str, subprocess.CompletedProcess]:
    done = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    return command, done


def _failures(results) -> list[str]:
    return [
        f"{command!r} exited {done.returncode}: {(done.stderr or done.stdout).strip()[-500:]}"
        for command, done in results
        if done.returncode != 0
    ]


def test_readme_has_the_commands_this_test_runs():
    commands = readme_commands(README.read_text(encoding="utf-8"))
    cheap = [c for c in commands if is_cheap(c)]
    for needed in ("--help", "--version", "--dry-run", "--set", "init "):
        assert any(needed in c for c in cheap), f"no cheap README command with {needed!r}: the test would not run one"


@pytest.mark.slow  # a dozen CLI processes, each importing torch for its dry run
def test_every_cheap_readme_command_runs_as_written(scratch):
    env = _env()
    commands = [c for c in readme_commands(README.read_text(encoding="utf-8")) if is_cheap(c)]
    # `init NAME > FILE` first: a later command may read FILE.
    first = [c for c in commands if _words(c)[1:2] == ["init"]]
    rest = list(dict.fromkeys(c for c in commands if c not in first))
    rest += [f"lora-sweep run {name} --dry-run" for name in shipped.names()]  # every shipped spec plans
    rest = list(dict.fromkeys(rest))
    results = [_run(c, scratch, env) for c in first]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results += list(pool.map(lambda c: _run(c, scratch, env), rest))
    failed = _failures(results)
    assert not failed, "README commands that fail:\n" + "\n".join(failed)
    ran = {command for command, _ in results}
    assert ran >= set(commands)

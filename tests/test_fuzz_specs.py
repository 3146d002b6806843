"""Fuzz the CLI with 300 seeded random mutations of the shipped specs (issue 14).

Each mutation (a deleted key, a value of another type, an extreme number, random bytes in the YAML text, deep
nesting, or a sweep sized in the millions) goes through the real CLI entry (`lora_sweep.run.main`, which
`python -m lora_sweep.run` calls) with --dry-run, in this process. Every run must end with exit 0 (a valid spec)
or exit 2 with at most three lines and no traceback, and write nothing. The shipped specs' models are
replaced by a tiny local config folder, so nothing is looked up on the hub.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import random
import signal
from collections import Counter
from pathlib import Path

import pytest
import yaml

from lora_sweep.cli import run
from lora_sweep.spec.spec import parse_yaml
from tests.tiny_models import save_tiny_config

REPO = Path(__file__).resolve().parents[1]
SPECS = sorted((REPO / "sweeps").glob("*.yaml"))
CASES = 300
KINDS = ("delete", "swap_type", "extreme_number", "random_bytes", "deep_nesting", "big_size")
ODD_VALUES = (None, "", "x", "query", [], {}, [None], [[]], {"grid": []}, {"a": 1}, True, 0, -1, 1.5, "1e-3", [1, 2])
ODD_VALUES += ("host:99999", "ftp://bucket/x", "/dev/null/sub", "\x00", "../..", {"randint": [1, 10**12]})
YAML_BYTES = b" :-[]{},'\"#&*!|>%@`\n\t0123456789abc.e"
EXTREMES = (2**64, -(2**63) - 1, 2**63, 2**32, 2**31, 10**30, -1, 0, 1e308, -1e308, 1e-320, 2**53 + 1)
EXTREME_TEXT = (".inf", "-.inf", ".nan", "9" * 400, "-" + "9" * 40, "0x7fffffffffffffffff", "1e999")
DEEP = "__DEEP__"


def _paths(node, prefix=()):
    """Every key path in a parsed spec (dict keys and list indices), parents before children."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield (*prefix, key)
        yield from _paths(value, (*prefix, key))


def _parent(raw, path):
    node = raw
    for key in path[:-1]:
        node = node[key]
    return node


def _big(raw, rng: random.Random) -> None:
    choice = rng.randrange(4)
    search = raw.setdefault("search", {})
    if choice == 0:
        search["seeds"] = rng.choice([10**9, 10**15, 2**70])
    elif choice == 1:
        search["num_samples"] = rng.choice([10**6, 10**12])
    elif choice == 2:  # grids whose product is in the millions
        variant = raw["variants"][-1] if raw.get("variants") else raw["experiments"][0]["variants"][-1]
        for key in ("learning_rate", "weight_decay", "warmup_ratio"):
            variant[key] = {"grid": [round(1e-4 * (i + 1), 8) for i in range(200)]}
    else:
        search["seeds"] = list(range(12000))


def mutate(raw: dict, rng: random.Random, kind: str) -> bytes:
    """One mutation of a parsed spec, as the YAML bytes handed to the CLI."""
    raw = copy.deepcopy(raw)
    paths = list(_paths(raw))
    extra = None
    if kind == "delete":
        for _ in range(rng.randint(1, 3)):
            paths = list(_paths(raw))
            path = rng.choice(paths)
            del _parent(raw, path)[path[-1]]
    elif kind == "swap_type":
        path = rng.choice(paths)
        _parent(raw, path)[path[-1]] = copy.deepcopy(rng.choice(ODD_VALUES))
    elif kind == "extreme_number":
        path = rng.choice(paths)
        if rng.random() < 0.3:
            _parent(raw, path)[path[-1]] = DEEP
            extra = rng.choice(EXTREME_TEXT)
        else:
            _parent(raw, path)[path[-1]] = rng.choice(EXTREMES)
    elif kind == "deep_nesting":
        path = rng.choice(paths)
        _parent(raw, path)[path[-1]] = DEEP
        depth = rng.choice([33, 60, 200, 1000, 5000])
        extra = "[" * depth + "1" + "]" * depth if rng.random() < 0.5 else "{a: " * depth + "1" + "}" * depth
    elif kind == "big_size":
        _big(raw, rng)
    text = yaml.safe_dump(raw, sort_keys=False, width=10**6)
    if extra is not None:
        text = text.replace(repr(DEEP) if repr(DEEP) in text else DEEP, extra, 1)
    data = bytearray(text.encode())
    if kind == "random_bytes":
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(data))
            op = rng.randrange(3)
            byte = rng.randrange(256) if rng.random() < 0.3 else rng.choice(YAML_BYTES)  # mostly still UTF-8
            if op == 0:
                data[at] = byte
            elif op == 1:
                data.insert(at, byte)
            else:
                del data[at]
    return bytes(data)


class _Hang(BaseException):  # not an Exception: code under test that catches Exception must not swallow it
    pass


def _alarm(signum, frame):
    raise _Hang()


def run_cli(spec: Path, timeout: int = 60) -> tuple[str, int | None, str]:
    """(outcome, exit code, output): outcome "ok", or why the run broke the contract."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        return _run_cli(spec, timeout)
    except _Hang:  # also when the alarm fires just as main returns
        return "hang", None, ""
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _run_cli(spec: Path, timeout: int) -> tuple[str, int | None, str]:
    out, err = io.StringIO(), io.StringIO()
    signal.alarm(timeout)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run.main([str(spec), "--dry-run"])
    except SystemExit as exc:  # argparse
        code = exc.code
    except _Hang:
        raise
    except BaseException as exc:  # noqa: BLE001 - an exception escaping main is exactly what the fuzz looks for
        return f"uncaught {type(exc).__name__}", None, str(exc)[:200]
    finally:
        signal.alarm(0)
    text = out.getvalue() + err.getvalue()
    if code not in (0, 2):
        return f"exit {code}", code, text
    if "Traceback" in text:
        return "traceback", code, text
    if code == 2 and len(text.strip().splitlines()) > 3:
        return "too many lines", code, text
    return "ok", code, text


@pytest.fixture()
def base_specs(tmp_path_factory, monkeypatch):
    """The shipped specs, their models replaced by a tiny local BERT config (512 positions, 64 wide)."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    model = save_tiny_config(
        "bert",
        tmp_path_factory.mktemp("fuzz-model"),
        hidden_size=64,
        intermediate_size=128,
        max_position_embeddings=512,
    )
    specs = []
    for path in SPECS:
        raw = parse_yaml(path.read_text(encoding="utf-8"))
        for entry in raw["experiments"]:
            for key in ("model", "models"):
                if key in entry:
                    entry[key] = model if key == "model" else [model] * len(entry[key])
        specs.append(raw)
    return specs


def test_fuzzed_specs_end_in_exit_0_or_one_line_exit_2(base_specs, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # a relative storage path written by mistake would land here
    # The spec's contract, not this machine's data: a GLUE_DIR without some task's files refuses (correctly) every
    # spec naming it, here as in a run; without GLUE_DIR the data come from the hub, found when tokenized.
    monkeypatch.delenv("GLUE_DIR", raising=False)
    rng = random.Random(20261130)
    outcomes, failures, codes = Counter(), [], Counter()
    for i in range(CASES):
        kind = KINDS[i % len(KINDS)]
        raw = copy.deepcopy(rng.choice(base_specs))
        raw["storage"] = str(tmp_path / "store")
        spec = tmp_path / f"case{i}.yaml"
        spec.write_bytes(mutate(raw, rng, kind))
        outcome, code, text = run_cli(spec, int(os.environ.get("FUZZ_TIMEOUT", 60)))
        codes[code] += 1
        if outcome == "ok" and (any(work.iterdir()) or (tmp_path / "store").exists()):
            outcome = "wrote files"
        outcomes[(kind, outcome)] += 1
        if os.environ.get("FUZZ_LOG"):  # a line per case, for a run against other code
            with open(os.environ["FUZZ_LOG"], "a", encoding="utf-8") as log:
                log.write(f"{i}\t{kind}\t{outcome}\t{code}\t{text.strip()[-200:]!r}\n")
        if outcome != "ok":
            failures.append(f"case {i} ({kind}): {outcome}: {text.strip()[-300:]!r}")
        spec.unlink()
    print("outcomes:", dict(outcomes), "exit codes:", dict(codes))
    assert not failures, f"{len(failures)} of {CASES} broke the contract:\n" + "\n".join(failures[:40])
    assert codes[0] >= 10 and codes[2] >= 100  # the fuzz reaches both valid and invalid specs

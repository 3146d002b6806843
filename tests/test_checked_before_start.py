"""What a trial would fail on is refused before Ray starts: exit 2, one line naming the experiment and key,
nothing written: a `random:` model, a missing init_adapter, a missing or non-string glue_dir, a missing
$GLUE_DIR, device strings, a GPU device without a GPU, resource amounts Ray cannot count, a dashboard host that
is no host, non-string folders. The dry run warns instead where a file or a GPU may be there when the sweep runs
later or elsewhere (an adapter an earlier sweep writes, the GLUE files, a GPU).

The dry run goes through `lora_sweep.run.main` in this process; the real run through `python -m lora_sweep.run`,
whose output must show that Ray never started.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lora_sweep.cli import run
from tests.test_preflight import BASE as PREFLIGHT_BASE
from tests.tiny_models import save_tiny_config

REPO = Path(__file__).resolve().parents[1]
BASE = PREFLIGHT_BASE.replace("name: pf", "name: cb")  # the same small spec as the preflight tests


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_glue_dir) -> dict:
    root = tmp_path_factory.mktemp("checked")
    (root / "not-an-adapter").mkdir()
    return {"model": save_tiny_config("bert", root / "bert"), "glue": str(tiny_glue_dir), "root": root}


def _gpu_here() -> bool:
    import torch

    return torch.cuda.is_available()


# case -> (--set overrides, environment changes, expected parts of the one error line)
CASES = {
    "a random: model": (["experiments.0.model=random:minilm"], {}, ["random weights and no tokenizer"]),
    "init_adapter missing": (["variants.1.init_adapter=/nonexistent/adapter"], {}, ["init_adapter", "no such folder"]),
    "init_adapter without its config": (["variants.1.init_adapter=ROOT/not-an-adapter"], {}, ["adapter_config.json"]),
    "init_adapter a number": (["variants.1.init_adapter=5"], {}, ["init_adapter: got 5", "a folder path"]),
    "save_adapter a list": (["variants=[{method: lora, save_adapter: [1]}]"], {}, ["save_adapter: got [1]"]),
    "glue_dir missing": (["train.glue_dir=/nonexistent/glue"], {}, ["glue_dir=/nonexistent/glue has no SST-2"]),
    "glue_dir a number": (["train.glue_dir=5"], {}, ["glue_dir: got 5", "a folder path"]),
    "GLUE_DIR missing": ([], {"GLUE_DIR": "/nonexistent/glue"}, ["GLUE_DIR=/nonexistent/glue has no SST-2"]),
    "device cuda:x": (["train.device=cuda:x"], {}, ["device: got 'cuda:x'", "cuda:N"]),
    "device cuda without a GPU resource": (["train.device=cuda"], {}, ["resources.gpu is 0"]),
    "device cuda:1 with one GPU": (
        ["train.device=cuda:1", "resources.gpu=1"],
        {},
        ["sees only its resources.gpu = 1"],
    ),
    "resources.cpu 0.00001": (["resources.cpu=0.00001"], {}, ["resources.cpu", "steps of 0.0001"]),
    "dashboard_host with a space": (["ray.dashboard_host=evil host"], {}, ["ray.dashboard_host", "host name"]),
    "dashboard_host a URL": (["ray.dashboard_host=http://x"], {}, ["ray.dashboard_host"]),
}
if not _gpu_here():
    CASES["device cuda on a machine without one"] = (
        ["train.device=cuda", "resources.gpu=1"],
        {},
        ["no GPU", "device cuda"],
    )


def _spec(tmp_path, world) -> Path:
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(BASE.replace("MODEL", world["model"]).replace("STORE", str(tmp_path / "store")))
    return spec_file


def _sets(sets, world) -> list[str]:
    return [f"--set={s.replace('ROOT', str(world['root']))}" for s in sets]


def _assert_refused(code: int, text: str, expected) -> None:
    lines = text.strip().splitlines()
    assert code == 2, text[-3000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), text[-3000:]
    for part in expected:
        assert part in text, text


# Files and GPUs the sweep may have when it runs later or elsewhere: the dry run warns, the run refuses.
WARNED = {"init_adapter missing", "init_adapter without its config", "glue_dir missing", "GLUE_DIR missing"}
WARNED |= {"device cuda on a machine without one"}


@pytest.mark.parametrize("case", list(CASES))
def test_the_dry_run_refuses_or_warns(tmp_path, world, monkeypatch, capsys, case):
    sets, env, expected = CASES[case]
    monkeypatch.setenv("GLUE_DIR", world["glue"])
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    spec_file = _spec(tmp_path, world)
    code = run.main([str(spec_file), "--dry-run", *_sets(sets, world)])
    out = capsys.readouterr()
    if case in WARNED:
        warnings = [line for line in out.err.splitlines() if expected[0] in line]
        assert code == 0 and out.out.startswith("sweep cb: "), out.out + out.err
        assert len(warnings) == 1 and warnings[0].startswith("warning: "), out.err
    else:
        _assert_refused(code, out.out + out.err, expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]


REAL_RUN = ["a random: model", "init_adapter missing", "glue_dir a number", "GLUE_DIR missing", "device cuda:x"]
REAL_RUN += ["resources.cpu 0.00001", "dashboard_host with a space", "device cuda without a GPU resource"]
REAL_RUN += ["init_adapter without its config", "glue_dir missing"]


@pytest.mark.parametrize("case", REAL_RUN)
def test_the_real_run_refuses_before_ray_starts(tmp_path, world, case):
    sets, env, expected = CASES[case]
    base = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env = {**base, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "GLUE_DIR": world["glue"], **env}
    spec_file = _spec(tmp_path, world)
    done = subprocess.run(
        [sys.executable, "-m", "lora_sweep.run", str(spec_file), *_sets(sets, world)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    _assert_refused(done.returncode, done.stdout + done.stderr, expected)  # one line: Ray printed nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]

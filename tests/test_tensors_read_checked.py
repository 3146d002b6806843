"""Every tensor read is checked for name, shape and dtype, and an adapter_config.json from elsewhere for its shape:
`lora-sweep train --init-adapter` refuses in one line (exit 2, nothing trained) an adapter carrying a frozen base
weight, an int8 tensor, a config that is a list, not UTF-8, or has target_modules 5; a resumed checkpoint whose
lora_B is a 0-d tensor is refused instead of broadcast."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from lora_sweep.trial import lora, train
from tests.test_trial_cli import _small, cli
from tests.test_warm_start import _adapter, _cfg

WEIGHTS, CONFIG = lora.ADAPTER_WEIGHTS, lora.ADAPTER_CONFIG


def _tensors(folder: Path, change) -> None:
    tensors = load_file(str(folder / WEIGHTS))
    change(tensors)
    save_file(tensors, str(folder / WEIGHTS))


def _first_lora(tensors: dict) -> str:
    return sorted(k for k in tensors if ".lora_A." in k)[0]


def _extra_base(tensors):
    tensors[lora.PEFT_PREFIX + "bert.embeddings.LayerNorm.weight"] = torch.zeros(32)


def _int8(tensors):
    name = _first_lora(tensors)
    tensors[name] = tensors[name].to(torch.int8)


def _config(folder: Path, change) -> None:
    config = json.loads((folder / CONFIG).read_text())
    (folder / CONFIG).write_bytes(change(config))


CASES = {
    "a frozen base weight": (lambda f: _tensors(f, _extra_base), "LayerNorm.weight is a frozen weight of the base"),
    "an int8 LoRA tensor": (lambda f: _tensors(f, _int8), "is int8; must be floating point"),
    "config a list": (lambda f: _config(f, lambda c: json.dumps([c]).encode()), "holds a JSON list"),
    "config not UTF-8": (lambda f: _config(f, lambda c: b"\xff\xfe{"), "unreadable"),
    "target_modules 5": (
        lambda f: _config(f, lambda c: json.dumps({**c, "target_modules": 5}).encode()),
        "target_modules is 5",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_train_refuses_an_adapter_that_does_not_fit(tiny_model_dir, tiny_glue_dir, tmp_path, case):
    spoil, expected = CASES[case]
    adapter = _adapter(tiny_model_dir, tmp_path / "r4")
    spoil(adapter)
    args = [*_small(tiny_model_dir), "--target-modules", "query,value", "--alpha", "8", "--r", "4"]
    proc = cli(*args, "--init-adapter", str(adapter), glue_dir=tiny_glue_dir)
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and expected in errors[0], proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and proc.stdout == ""  # no epoch was trained


class _Resume:
    """A trial state hook whose saved state is a checkpoint with one tensor spoiled."""

    def __init__(self, state: dict):
        self.state = state

    def save(self, state: dict) -> None:
        pass

    def restore(self) -> dict | None:
        return self.state


@pytest.mark.parametrize("spoil", ["0-d", "int8", "frozen"])
def test_a_resumed_checkpoint_is_checked_before_it_is_loaded(tiny_model_dir, tiny_glue_dir, spoil):
    cfg = _cfg(tiny_model_dir, tiny_glue_dir)
    saved: list = []

    class Keep(_Resume):
        def save(self, state):
            saved.append(state)

    train.train_and_evaluate(cfg, lambda row: None, state_hook=Keep(None))
    state = saved[-1]
    name = sorted(k for k in state["model"] if ".lora_B." in k)[0]
    if spoil == "0-d":
        state["model"][name] = torch.tensor(0.5)
    elif spoil == "int8":
        state["model"][name] = state["model"][name].to(torch.int8)
    else:
        state["model"]["bert.embeddings.LayerNorm.weight"] = torch.zeros(32)
    state["epoch"] = 0  # so that the resumed trial has epochs left to train
    with pytest.raises(ValueError, match=r"checkpoint: tensor .*(is \(\), the model's|is int8|frozen weight)"):
        train.train_and_evaluate(cfg, lambda row: None, state_hook=_Resume(state))

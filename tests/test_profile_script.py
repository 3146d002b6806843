"""scripts/profile_trial.py sorts py-spy stacks into phases (the py-spy run itself is not part of the tests)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "profile_trial.py"


@pytest.fixture(scope="module")
def profile_trial():
    spec = importlib.util.spec_from_file_location("profile_trial", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAIN = "_run_module_as_main (<frozen runpy>:198);<module> (lora_sweep/train.py:313);main (lora_sweep/trial_cli.py:60)"
LOOP = MAIN + ";train_and_evaluate (lora_sweep/train.py:240)"


@pytest.mark.parametrize(
    ("stack", "expected"),
    [
        (LOOP + ";Module._call_impl (torch/nn/module.py:1789);Linear.forward (torch/nn/linear.py:134)", "forward"),
        (LOOP + ";evaluate (lora_sweep/train.py:180);Linear.forward (torch/nn/linear.py:134)", "evaluation"),
        (LOOP + ";Tensor.backward (torch/_tensor.py:630)", "backward"),
        (LOOP + ";AdamW.step (torch/optim/adamw.py:200)", "optimizer step and clipping"),
        (LOOP + ";make_batches (lora_sweep/data.py:330);collate (lora_sweep/data.py:310)", "data: batches"),
        (MAIN + ";_find_and_load (<frozen importlib._bootstrap>:1176)", "imports"),
        (MAIN + ";prepare_data (lora_sweep/train.py:80)", "data: load and tokenize"),
        (LOOP, "other (loop, Python)"),
    ],
)
def test_stacks_fall_into_their_phase(profile_trial, stack, expected):
    assert profile_trial.phase(stack) == expected


def test_train_and_evaluate_is_not_taken_for_evaluate(profile_trial):
    # "evaluate" must match a function name exactly, not the end of train_and_evaluate.
    assert profile_trial.phase(LOOP + ";Linear.forward (torch/nn/linear.py:134)") == "forward"

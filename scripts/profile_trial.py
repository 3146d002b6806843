"""Where one trial's time goes: py-spy samples `python -m lora_sweep.train ...` and sorts each sample into a phase.

    python scripts/profile_trial.py [TRAIN FLAGS ...]     (default: MiniLM LoRA r=8, 4,000 SST-2, one epoch)

Prints the share of samples per phase: the model's own compute (forward, backward, optimizer step) against
everything around it (imports, model loading, data, evaluation, the Python loop). Needs py-spy
(`pip install py-spy`) and GLUE_DIR.
"""

from __future__ import annotations

import collections
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT = "--model minilm --task sst2 --method lora --r 8 --epochs 1 --max-train-samples 4000 --learning-rate 1e-3"

# Checked in this order against the whole stack; the first phase with a matching frame takes the sample. A
# frame reads "Class.function (file:line)"; a marker ending in "/" is part of a file path, any other a function
# name (with or without its class).
PHASES = (
    ("imports", ("_find_and_load",)),
    ("model loading", ("build_model",)),
    ("data: load and tokenize", ("prepare_data",)),
    ("evaluation", ("evaluate",)),
    ("optimizer step and clipping", ("torch/optim/", "clip_grad_norm_")),
    ("backward", ("backward",)),
    ("forward", ("forward",)),
    ("data: batches", ("make_batches", "collate", "batch_indices")),
)


def _matches(frame: str, marker: str) -> bool:
    if marker.endswith("/"):
        return marker in frame
    function = frame.split(" (", 1)[0]
    return function == marker or function.endswith("." + marker)


def phase(stack: str) -> str:
    frames = stack.split(";")
    for name, markers in PHASES:
        if any(_matches(f, m) for f in frames for m in markers):
            return name
    return "other (loop, Python)"


def main(argv: list[str]) -> int:
    flags = argv or DEFAULT.split()
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp, "trial.txt")
        command = ["py-spy", "record", "--format", "raw", "--rate", "50", "--output", str(raw), "--"]
        done = subprocess.run([*command, sys.executable, "-m", "lora_sweep.train", *flags], capture_output=True)
        if done.returncode != 0 or not raw.is_file():
            print(done.stderr.decode(errors="replace")[-2000:], file=sys.stderr)
            return 1
        counts: collections.Counter[str] = collections.Counter()
        for line in raw.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            if stack.startswith("_run_module_as_main"):  # the main thread; not tqdm's or loaders' idle threads
                counts[phase(stack)] += int(n)
    total = sum(counts.values())
    print(f"py-spy, 50 samples/s: {total} samples ({total / 50:.0f} s) of python -m lora_sweep.train {' '.join(flags)}")
    for name, n in counts.most_common():
        print(f"  {name:<26} {100 * n / total:5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

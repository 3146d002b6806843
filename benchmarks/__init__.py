"""Benchmarks, measured side by side in one run: python -m benchmarks.bench (trial speed and memory) and
python -m benchmarks.scale (the sweep machinery at thousands of trials, on a local Ray instance). Not part of what
users import: nothing in lora_sweep imports this package."""

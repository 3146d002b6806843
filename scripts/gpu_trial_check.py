"""GPU check of the trial body itself: train_and_evaluate on CUDA (bf16 autocast, fused AdamW, TF32).

RoBERTa-base's shape with random weights and synthetic token ids (no download, no GLUE files): one epoch of LoRA
r=8 and one of full fine-tuning, same data, run twice in the order lora, full, lora, full. The first round is a
warm-up that absorbs the process's one-time CUDA start-up (cuBLAS init, kernel selection per shape, allocator
growth); every row is printed with its round, and the LoRA/full epoch-time and peak-memory ratios come from the
second round. Run on a GPU machine:  python scripts/gpu_trial_check.py [samples] [seq_len]
"""

from __future__ import annotations

import gc
import json
import sys

import numpy as np
import torch

from lora_sweep.trial import data, train
from lora_sweep.trial.config import TrialConfig
from lora_sweep.trial.tasks import get_task


def synthetic_split(n: int, length: int, seed: int) -> data.TokenizedSplit:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(length // 2, length + 1, size=n)
    ids = [[0, *rng.integers(5, 50_000, size=k - 2).tolist(), 2] for k in lengths]
    return data.TokenizedSplit.from_lists(ids, None, rng.integers(0, 2, size=n))


def main(samples: int = 4096, length: int = 128, device: str = "cuda") -> int:
    if device == "cuda":  # device="cpu" only for a quick check of this script without a GPU
        assert torch.cuda.is_available(), "no CUDA device"
    prepared = train.TrialData(
        get_task("sst2"), synthetic_split(samples, length, 0), synthetic_split(samples // 4, length, 1), pad_token_id=1
    )
    out = {}
    for round_ in (1, 2):
        for method in ("lora", "full"):
            rows: list[dict] = []
            cfg = TrialConfig(
                model="random:roberta-base",
                task="sst2",
                method=method,
                r=8,
                alpha=16,
                epochs=1,
                batch_size=32,
                learning_rate=1e-4 if method == "lora" else 2e-5,
                device=device,
            )
            gc.collect()  # the previous run's model and optimizer must not count in this run's peak
            if device == "cuda":
                torch.cuda.empty_cache()
            result = train.train_and_evaluate(cfg, rows.append, prepared=prepared)
            row = rows[-1]
            print(json.dumps({"round": round_, "method": method, "status": result.status, **row}), flush=True)
            out[method] = row  # round 2 overwrites round 1
    ratio_time = out["lora"]["epoch_time_s"] / out["full"]["epoch_time_s"]
    ratio_mem = out["lora"]["peak_memory_mb"] / out["full"]["peak_memory_mb"]
    print(
        json.dumps(
            {
                "gpu": torch.cuda.get_device_name(0) if device == "cuda" else device,
                "torch": torch.__version__,
                "samples": samples,
                "seq_len": length,
                "round": 2,
                "epoch_time_s": {m: out[m]["epoch_time_s"] for m in out},
                "peak_memory_mb": {m: out[m]["peak_memory_mb"] for m in out},
                "epoch_time_lora_over_full": ratio_time,
                "peak_memory_lora_over_full": ratio_mem,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(*(int(a) for a in sys.argv[1:])))

"""Benchmark cases 8-10: packing and precision, real LoRA training of MiniLM on SST-2, sides side by side.

8: packed/solo training throughput for K = 1, 2, 4, 8 members (one pack of K seeds against the same K seeds
   each alone, in lockstep as lora_sweep.trial.seeds trains them with pack: 1), float32.
9: bf16/fp32 whole-trial wall time (model built, one epoch, dev evaluated), with each side's dev accuracy.
10: a 3-seed configuration packed against its seeds in lockstep: peak memory (each side in a fresh process,
   the resident-set peak) and wall time.
Every case records /proc/pressure/cpu before and after and says "busy" when the machine was not quiet.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from benchmarks.cases import Settings, make_result, spread

PACK_SIZES = (1, 2, 4, 8)
BUSY_PRESSURE = 5.0  # % of time some task waited for a CPU (avg10) above which a timing measures neighbours


def cpu_pressure() -> float | None:
    """/proc/pressure/cpu "some avg10": the share of the last 10 s (%) in which a runnable task waited."""
    try:
        first = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    fields = dict(part.split("=") for part in first.split()[1:])
    return float(fields["avg10"])


def load_note(before: float | None, after: float | None) -> dict:
    busy = any(p is not None and p > BUSY_PRESSURE for p in (before, after))
    return {"cpu_pressure_before": before, "cpu_pressure_after": after, "busy": busy}


def _cfg(s: Settings, **changes):
    from lora_sweep.trial.config import TrialConfig

    values = dict(
        model=s.trial_model,
        task="sst2",
        method="lora",
        r=s.r,
        alpha=s.alpha,
        dropout=0.1,
        learning_rate=1e-3,
        epochs=1,
        batch_size=16,
        eval_batch_size=128,
        max_length=s.trial_max_length,
        max_train_samples=s.pack_samples,
        max_eval_samples=s.trial_eval_samples,
        glue_dir=s.glue_dir,
        device=s.device,
        # CPU: float32, so that case 8 measures packing alone; a GPU trains as a sweep would (bf16 where it has it).
        precision="fp32" if s.device == "cpu" else "auto",
    )
    values.update(changes)
    return TrialConfig(**values)


def _pack_epoch_s(cfg, seeds: list[int], prepared) -> float:
    """Training seconds of one epoch of `seeds` in one pack (the pack's epoch time)."""
    from lora_sweep.trial.pack_train import train_pack

    epochs = train_pack([replace(cfg, seed=s) for s in seeds], prepared)
    row = next(iter(next(epochs).values()))
    epochs.close()
    return row["epoch_time_s"]


def case_pack_throughput(s: Settings) -> list[dict]:
    """Case 8: for each K, ratio = (K solo epochs' seconds) / (one K-pack's epoch seconds): >1 means packing
    trains more samples per second."""
    from lora_sweep.trial import train

    cfg = _cfg(s)
    prepared = train.prepare_data(cfg)
    results = []
    for k in PACK_SIZES:
        before = cpu_pressure()
        seeds = list(range(k))
        ratios, packed_s, solo_s = [], [], []
        for rep in range(s.pack_repeats):
            sides = ("packed", "solo") if rep % 2 == 0 else ("solo", "packed")
            times = {}
            for side in sides:
                if side == "packed":
                    times[side] = _pack_epoch_s(cfg, seeds, prepared)
                else:
                    times[side] = sum(_pack_epoch_s(cfg, [seed], prepared) for seed in seeds)
            packed_s.append(times["packed"])
            solo_s.append(times["solo"])
            ratios.append(times["solo"] / times["packed"])
        samples = k * len(prepared.train.labels)
        detail = {
            "case": 8,
            "members": k,
            "train_samples_per_member": len(prepared.train.labels),
            "packed_samples_per_s": spread([samples / t for t in packed_s]),
            "solo_samples_per_s": spread([samples / t for t in solo_s]),
            **load_note(before, cpu_pressure()),
        }
        detail["summary"] = (
            f"K={k}: packed {detail['packed_samples_per_s']['median']:.1f}, solo "
            f"{detail['solo_samples_per_s']['median']:.1f} samples/s" + (" (busy machine)" if detail["busy"] else "")
        )
        target = ">= 1.0" if k > 1 else None
        results.append(make_result(f"8. packed/solo throughput K={k} [{s.trial_model}]", ratios, target, detail))
    return results


def _whole_trial(cfg, prepared) -> dict:
    from lora_sweep.trial import train

    rows: list[dict] = []
    started = time.perf_counter()
    train.train_and_evaluate(cfg, rows.append, prepared=prepared)
    return {"wall_s": time.perf_counter() - started, "dev_accuracy": rows[-1]["eval_accuracy"], **rows[-1]}


def case_bf16_trial(s: Settings) -> dict:
    """Case 9: ratio = bf16 whole-trial seconds / fp32 whole-trial seconds (target <= 0.70 where the chip has
    native bf16)."""
    from lora_sweep.trial import precision, train
    from lora_sweep.trial.train import pick_device

    cfg = _cfg(s, max_train_samples=s.trial_samples, batch_size=32, dropout=0.0)
    prepared = train.prepare_data(cfg)
    before = cpu_pressure()
    runs: dict[str, list[dict]] = {"bf16": [], "fp32": []}
    for rep in range(s.trial_repeats):
        for side in ("bf16", "fp32") if rep % 2 == 0 else ("fp32", "bf16"):
            runs[side].append(_whole_trial(replace(cfg, precision=side), prepared))
    ratios = [b["wall_s"] / f["wall_s"] for b, f in zip(runs["bf16"], runs["fp32"], strict=True)]
    native = precision.resolve("auto", pick_device(cfg.device)) == "bf16"
    acc = {k: [r["dev_accuracy"] for r in v] for k, v in runs.items()}
    detail = {
        "case": 9,
        "native_bf16": native,
        "wall_s": {k: spread([r["wall_s"] for r in v]) for k, v in runs.items()},
        "cpu_time_s": {k: spread([r["cpu_time_s"] for r in v]) for k, v in runs.items()},
        "dev_accuracy": acc,
        "train_samples": len(prepared.train.labels),
        **load_note(before, cpu_pressure()),
    }
    detail["summary"] = (
        f"whole trial bf16 {detail['wall_s']['bf16']['median']:.1f} s, fp32 {detail['wall_s']['fp32']['median']:.1f}"
        f" s; dev acc bf16 {acc['bf16']}, fp32 {acc['fp32']}" + (" (busy machine)" if detail["busy"] else "")
    )
    return make_result(f"9. bf16/fp32 whole trial [{s.trial_model}]", ratios, "<= 0.70" if native else None, detail)


def seeds_worker(spec: dict) -> dict:
    """One side of case 10 in a fresh process: train_seeds over 3 seeds with the given pack; peak RSS and wall."""
    from lora_sweep.trial import train
    from lora_sweep.trial.config import TrialConfig
    from lora_sweep.trial.seeds import train_seeds

    cfg = TrialConfig(**spec)
    prepared = train.prepare_data(cfg)
    reports: list[dict] = []
    # Data, libraries and interpreter: the same on both sides. On CUDA the peak is the allocator's, tensors only.
    baseline = 0.0 if cfg.device.startswith("cuda") else _rss_mb()
    started = time.perf_counter()
    train_seeds(cfg, [0, 1, 2], reports.append, prepared)
    wall = time.perf_counter() - started
    peak = max(r["peak_memory_mb"] for r in reports[-1]["by_seed"].values())
    return {"wall_s": wall, "peak_memory_mb": peak, "baseline_mb": baseline, "training_mb": peak - baseline}


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def case_pack_memory(s: Settings) -> dict:
    """Case 10: ratio = peak memory training adds, a 3-seed configuration packed / in lockstep (target <= 0.6); the wall
    ratio (target <= 1.00) is in the detail."""
    cfg = _cfg(s)
    runs: dict[str, list[dict]] = {"packed": [], "lockstep": []}
    before = cpu_pressure()
    for rep in range(s.pack_repeats):
        for side in ("packed", "lockstep") if rep % 2 == 0 else ("lockstep", "packed"):
            spec = {**cfg.to_dict(), "target_modules": None, "pack": 3 if side == "packed" else 1}
            proc = subprocess.run(
                [sys.executable, "-m", "benchmarks.pack", json.dumps(spec)],
                capture_output=True,
                text=True,
                check=True,
            )
            runs[side].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    # What training adds above the process's resident set before it (tokenized data and libraries are the
    # same on both sides and would hide the models' share).
    memory = [p["training_mb"] / q["training_mb"] for p, q in zip(runs["packed"], runs["lockstep"], strict=True)]
    wall = [p["wall_s"] / q["wall_s"] for p, q in zip(runs["packed"], runs["lockstep"], strict=True)]
    detail = {
        "case": 10,
        "peak_memory_mb": {k: spread([r["peak_memory_mb"] for r in v]) for k, v in runs.items()},
        "training_mb": {k: spread([r["training_mb"] for r in v]) for k, v in runs.items()},
        "wall_s": {k: spread([r["wall_s"] for r in v]) for k, v in runs.items()},
        "wall_ratio": spread(wall),
        "wall_target": "<= 1.00",
        **load_note(before, cpu_pressure()),
    }
    peak = {k: v["median"] for k, v in detail["training_mb"].items()}
    detail["summary"] = (
        f"training adds {peak['packed']:.0f} (packed) vs {peak['lockstep']:.0f} MiB (lockstep); wall packed/lockstep "
        f"{detail['wall_ratio']['median']:.2f}" + (" (busy machine)" if detail["busy"] else "")
    )
    return make_result(f"10. 3 seeds packed/lockstep peak memory [{s.trial_model}]", memory, "<= 0.6", detail)


if __name__ == "__main__":
    print(json.dumps(seeds_worker(json.loads(sys.argv[1]))))

"""The most checkpoint storage a sweep holds at once, from parameter counts (config only: no download, no training).

A trial's checkpoint holds, for each of its seeds, the trainable weights and AdamW's two moments in float32:
trainable x 3 x 4 bytes (the scheduler's state and the epoch counters add a few hundred bytes; the last epoch's
checkpoint holds no weights at all). A running trial keeps the checkpoint Ray's last saved experiment state records
(--resume restores from it) and the newer ones; lora_sweep.sweep.checkpoints deletes the older ones about a second after
each save, and Ray saves at least every 10 s. So a trial whose epochs take longer than that (about 11 s; 19 times
as long as a save takes, if longer) holds at most 2 at the peak, the next one written while the previous stays; a
trial with shorter epochs holds one more per epoch within that time (assumed longer: a glue_ranks trial's epoch
trains 3 seeds on 2,490 examples or more). Checkpoints of
ended trials are deleted unless --keep-checkpoints. So the peak is the sum, over the trials that can run at once,
of 2 x seeds x trainable x 12 bytes: at most max_concurrent trials, or as many as the GPUs hold, the largest first.

    python -m lora_sweep.cli.storage_bound sweeps/glue_ranks.yaml --gpus 8
"""

from __future__ import annotations

import argparse
import sys

from lora_sweep.cli import terminal
from lora_sweep.spec.spec import SpecError, load_spec

BYTES_PER_TRAINABLE = 3 * 4  # float32 weights + AdamW's exp_avg and exp_avg_sq
CHECKPOINTS_PER_RUNNING_TRIAL = 2  # the next one is written while the one the saved state records stays


def study_rows(spec) -> list[dict]:
    """Per study: trials, GPUs per trial, trainable parameters and the bytes one running trial holds at most."""
    from lora_sweep.cli.plan import study_counts, trials_per_study

    per_study = trials_per_study(spec)
    rows = []
    for study, arm, counts in study_counts(spec):
        if isinstance(counts, str):
            raise SpecError(f"{study}: parameter counts unavailable: {counts}")
        per_trial = CHECKPOINTS_PER_RUNNING_TRIAL * len(spec.seeds) * counts.trainable * BYTES_PER_TRAINABLE
        rows.append(
            {"study": study, "trials": per_study[study], "gpu": arm.variant.gpu, "trainable": counts.trainable,
             "bytes_per_running_trial": per_trial}
        )  # fmt: skip
    return rows


def peak_bytes(rows: list[dict], max_concurrent: int | None, gpus: float | None) -> int:
    """The largest sum of bytes_per_running_trial over trials that can run at once (largest per GPU first)."""
    if max_concurrent is None and gpus is None:
        raise SpecError("the spec sets no search.max_concurrent: give --gpus N (the cluster's GPUs)")
    slots = [(r["bytes_per_running_trial"], r["gpu"]) for r in rows for _ in range(r["trials"])]
    slots.sort(key=lambda s: -(s[0] / s[1]) if s[1] else -s[0])
    total, running, free = 0, 0, gpus if gpus is not None else float("inf")
    for size, gpu in slots:
        if max_concurrent is not None and running >= max_concurrent:
            break
        if gpu > free + 1e-9:
            continue
        total, running, free = total + size, running + 1, free - gpu
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lora_sweep.cli.storage_bound", description=__doc__.splitlines()[0])
    parser.add_argument("spec")
    parser.add_argument("--gpus", type=float, help="GPUs in the cluster (bounds the trials running at once)")
    args = parser.parse_args(argv)
    try:
        spec = load_spec(args.spec)
        rows = study_rows(spec)
        peak = peak_bytes(rows, spec.max_concurrent, args.gpus)
    except SpecError as err:
        terminal.error(f"{err}")
        return 2
    print(f"{'study':<44} {'trials':>6} {'gpu':>4} {'trainable':>13} {'GB per running trial':>21}")
    for r in rows:
        gb = r["bytes_per_running_trial"] / 1e9
        print(f"{r['study']:<44} {r['trials']:>6} {r['gpu']:>4g} {r['trainable']:>13,} {gb:>21.2f}")
    bound = f"max_concurrent {spec.max_concurrent}" if spec.max_concurrent else f"{args.gpus:g} GPUs"
    print(f"largest checkpoint storage at once ({bound}, {len(spec.seeds)} seeds per trial): {peak / 1e9:.1f} GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

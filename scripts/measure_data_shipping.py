"""What shipping prepared data to trials costs: the lists of lists used before against the flat arrays used now.

For full SST-2 train (tokenized with the packaged MiniLM tokenizer) and a synthetic MNLI-sized set (393k pairs of
random token ids, about 40 tokens a pair), each form is put in Ray's object store once, then fetched by fresh
worker processes (one per trial, all alive at once, as trials sharing a node) that report the time of ray.get
and how much their memory grew: private (RssAnon: paid by every trial) and shared (RssShmem: pages of the
object store, paid once per node), after reading every token once as training does.

    GLUE_DIR=~/glue python scripts/measure_data_shipping.py [--mnli-pairs 393000] [--trials 2]

Linux only (reads /proc/self/status). Starts a local Ray instance on loopback and ends it.
"""

from __future__ import annotations

import argparse
import gc
import os
import pickle
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from lora_sweep.cluster import ray_ports
from lora_sweep.trial import data, models
from lora_sweep.trial.tasks import get_task

MB = 2**20


def _memory() -> dict[str, int]:
    """RssAnon and RssShmem of this process, in bytes."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("RssAnon", "RssShmem"):
            fields[name] = int(value.split()[0]) * 1024
    return fields


def _touch(obj) -> int:
    """Read every token once, as an epoch of training does."""
    if isinstance(obj, data.TokenizedSplit):
        return int(obj.input_ids.sum()) + (0 if obj.token_type_ids is None else int(obj.token_type_ids.sum()))
    return sum(sum(s) for s in obj["input_ids"]) + sum(sum(s) for s in obj["token_type_ids"] or [])


def _trial_actor(ray):
    @ray.remote(num_cpus=0)
    class Trial:
        """One trial's worker process: fetches the data and says what that cost it."""

        def __init__(self):
            import torch  # noqa: F401  what a trial has loaded before its data (not counted)

            self.kept = None

        def load(self, box: list) -> dict:
            gc.collect()
            before = _memory()
            started = time.perf_counter()
            self.kept = ray.get(box[0])  # box: a ref inside a list reaches the actor unresolved, as in Tune
            load_s = time.perf_counter() - started
            _touch(self.kept)
            after = _memory()
            return {
                "load_s": load_s,
                "private": after["RssAnon"] - before["RssAnon"],
                "shared": after["RssShmem"] - before["RssShmem"],
            }

    return Trial


def sst2_train(glue_dir: str) -> data.TokenizedSplit:
    task = get_task("sst2")
    train = data.load_glue(task, glue_dir)["train"]
    return data.tokenize_split(train, models.load_tokenizer("minilm"), task, max_length=128)


def synthetic_mnli(pairs: int, seed: int = 0) -> data.TokenizedSplit:
    """Pairs of random ids laid out as [CLS] premise [SEP] hypothesis [SEP]: about 24 + 13 + 3 tokens."""
    rng = np.random.default_rng(seed)
    premise = np.clip(rng.normal(24, 11, pairs), 3, 200).astype(np.int64)
    hypothesis = np.clip(rng.normal(13, 5, pairs), 2, 80).astype(np.int64)
    lengths = premise + hypothesis + 3
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    ids = rng.integers(1000, 30_522, int(offsets[-1]), dtype=np.int32)
    # Segment 1 starts after [CLS] premise [SEP] of each pair.
    tti = np.zeros(len(ids), dtype=np.int8)
    starts = offsets[:-1] + premise + 2
    np.add.at(tti, starts, 1)
    np.subtract.at(tti, offsets[1:-1], 1)
    tti = np.cumsum(tti, dtype=np.int8)
    return data.TokenizedSplit(ids, offsets, tti, rng.integers(0, 3, pairs))


def as_lists(split: data.TokenizedSplit) -> dict:
    """The form prepared data had before the flat arrays: a list of ints per example."""
    ids, tti = split.as_lists()
    return {"input_ids": ids, "token_type_ids": tti, "labels": split.labels}


def measure(ray, name: str, form: str, obj, trials: int) -> dict:
    size = len(pickle.dumps(obj, protocol=5))  # in-band: every buffer counted, as the store holds them
    started = time.perf_counter()
    ref = ray.put(obj)
    put_s = time.perf_counter() - started
    actors = [_trial_actor(ray).remote() for _ in range(trials)]
    runs = [ray.get(actor.load.remote([ref])) for actor in actors]  # one after the other: load times unshared
    for actor in actors:
        ray.kill(actor)
    del ref
    return {
        "dataset": name,
        "form": form,
        "MB": size / MB,
        "put_s": put_s,
        "load_s": statistics.median(r["load_s"] for r in runs),
        "private_MB": max(r["private"] for r in runs) / MB,
        "shared_MB": max(r["shared"] for r in runs) / MB,
    }


def table(rows: list[dict]) -> str:
    head = "| data | form | object MB | ray.put s | ray.get s per trial | private MB per trial | shared MB per node |"
    lines = [head, "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['dataset']} | {r['form']} | {r['MB']:.1f} | {r['put_s']:.2f} | {r['load_s']:.3f} | "
            f"{r['private_MB']:.0f} | {r['shared_MB']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--glue-dir", default=os.environ.get("GLUE_DIR"), help="GLUE folder (default: $GLUE_DIR)")
    parser.add_argument("--mnli-pairs", type=int, default=393_000)
    parser.add_argument("--trials", type=int, default=2, help="worker processes that fetch each object")
    args = parser.parse_args(argv)
    if not args.glue_dir or not (Path(args.glue_dir) / "SST-2" / "train.tsv").is_file():
        print(f"measure_data_shipping: no SST-2/train.tsv in --glue-dir/GLUE_DIR ({args.glue_dir})", file=sys.stderr)
        return 2
    if not Path("/proc/self/status").is_file():
        print("measure_data_shipping: needs Linux /proc to read memory", file=sys.stderr)
        return 2
    import ray

    datasets = {
        "SST-2 train": lambda: sst2_train(args.glue_dir),
        f"MNLI-sized, synthetic ({args.mnli_pairs:,} pairs)": lambda: synthetic_mnli(args.mnli_pairs),
    }
    rows = []
    with ray_ports.loopback_only():
        ray.init(
            address="local",
            num_cpus=1,
            include_dashboard=False,
            object_store_memory=2 * 2**30,
            _node_ip_address="127.0.0.1",
            log_to_driver=False,
        )
    try:
        for name, build in datasets.items():
            split = build()
            print(f"{name}: {len(split):,} examples, {len(split.input_ids):,} tokens", flush=True)
            rows.append(measure(ray, name, "lists (before)", as_lists(split), args.trials))
            gc.collect()
            rows.append(measure(ray, name, "flat arrays (now)", split, args.trials))
    finally:
        ray.shutdown()
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

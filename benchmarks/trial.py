"""Benchmark cases 3 and 5, on real SST-2 data with MiniLM: a whole trial against Hugging Face's Trainer + PEFT,
and dynamic padding against padding to the maximum length. Same result shape as benchmarks.cases.
"""

from __future__ import annotations

import statistics
import tempfile
import time

import torch

from benchmarks.cases import (
    Settings,
    add_peft_lora,
    autocast,
    free_memory,
    interleave,
    make_result,
    paired_ratios,
    spread,
    synchronizer,
)
from lora_sweep.trial import models


def _trial_config(s: Settings, train_samples: int, eval_samples: int | None):
    from lora_sweep.trial.config import TrialConfig

    return TrialConfig(
        model=s.trial_model,
        task="sst2",
        method="lora",
        r=s.r,
        alpha=s.alpha,
        dropout=0.0,
        learning_rate=1e-3,
        epochs=1,
        batch_size=32,
        eval_batch_size=128,
        max_length=s.trial_max_length,
        weight_decay=0.01,
        warmup_ratio=0.06,
        seed=0,
        max_train_samples=train_samples,
        max_eval_samples=eval_samples,
        glue_dir=s.glue_dir,
        device=s.device,
    )


def case_trial_vs_trainer(s: Settings) -> dict:
    """Case 3: one epoch of train_and_evaluate against transformers.Trainer + PEFT at the same settings."""
    from lora_sweep.trial import train

    cfg = _trial_config(s, s.trial_samples, s.trial_eval_samples)
    prepared = train.prepare_data(cfg)  # tokenized once, outside the timings, for both sides
    runs: dict[str, list[dict]] = {"ours": [], "trainer": []}
    sides = {"ours": lambda: _run_ours(cfg, prepared), "trainer": lambda: _run_trainer(cfg, prepared, s)}
    for rep in range(s.trial_repeats):
        for side in ("ours", "trainer") if rep % 2 == 0 else ("trainer", "ours"):
            runs[side].append(sides[side]())
            free_memory()
    for run in runs["ours"] + runs["trainer"]:
        # The whole trial: model built, one epoch trained, dev evaluated (what a sweep pays per trial).
        run["trial_samples_per_s"] = len(prepared.train) * cfg.epochs / run["wall_s"]

    def ratio(key: str) -> list[float]:
        return [o[key] / t[key] for o, t in zip(runs["ours"], runs["trainer"], strict=True)]

    acc = {k: [r["dev_accuracy"] for r in v] for k, v in runs.items()}
    sps = {k: spread([r["trial_samples_per_s"] for r in v]) for k, v in runs.items()}
    loop, per_token = ratio("samples_per_s"), ratio("tokens_per_s")
    detail = {
        "case": 3,
        "model": s.trial_model,
        "train_samples": len(prepared.train),
        "dev_samples": len(prepared.dev),
        "group_by_length": cfg.group_by_length,
        "trial_samples_per_s": sps,
        "train_loop_ratio": spread(loop),
        "tokens_per_s_ratio": spread(per_token),
        "dev_accuracy": acc,
        "runs": runs,
        "summary": f"whole trial ours {sps['ours']['median']:.1f}, Trainer {sps['trainer']['median']:.1f} "
        f"samples/s; train loop only {statistics.median(loop):.2f}, padded tokens/s {statistics.median(per_token):.2f}"
        f"; dev acc ours {statistics.median(acc['ours']):.3f}, Trainer {statistics.median(acc['trainer']):.3f}",
    }
    return make_result("3. trial throughput ours/Trainer+PEFT [sst2]", ratio("trial_samples_per_s"), ">= 1.0", detail)


def _run_ours(cfg, prepared) -> dict:
    from lora_sweep.trial import train

    rows: list[dict] = []
    started = time.perf_counter()
    train.train_and_evaluate(cfg, rows.append, prepared=prepared)
    row = rows[-1]
    # The padded tokens of epoch 1's batches, as train_and_evaluate made them: batches differ in padding between
    # the two sides, so tokens/s is the like-for-like speed.
    lengths = prepared.train.lengths
    batches = train.train_batch_indices(cfg, prepared.train, epoch=1)
    tokens = int(sum(len(b) * lengths[b].max() for b in batches))
    return {
        "samples_per_s": row["train_samples_per_s"],
        "padded_tokens": tokens,
        "tokens_per_s": tokens / row["epoch_time_s"],
        "epoch_s": row["epoch_time_s"],
        "wall_s": time.perf_counter() - started,
        "dev_accuracy": row["eval_accuracy"],
    }


def _run_trainer(cfg, prepared, s: Settings) -> dict:
    """Hugging Face's way: Trainer + PEFT, DataCollatorWithPadding, the same lr, schedule, decay and epochs."""
    import datasets
    import numpy as np
    from transformers import DataCollatorWithPadding, Trainer, TrainerCallback, TrainingArguments

    started = time.perf_counter()
    model = add_peft_lora(models.load_model(cfg.model, prepared.task.num_labels, seed=cfg.seed), cfg.model, s)
    tokenizer = models.load_tokenizer(cfg.model)
    epoch_times: list[float] = []

    class EpochTimer(TrainerCallback):  # the epoch loop only, as train_and_evaluate times it
        def on_epoch_begin(self, args, state, control, **kwargs):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, args, state, control, **kwargs):
            epoch_times.append(time.perf_counter() - self.t0)

    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out,
            per_device_train_batch_size=cfg.batch_size,
            per_device_eval_batch_size=cfg.eval_batch_size,
            learning_rate=cfg.learning_rate,
            num_train_epochs=cfg.epochs,
            warmup_steps=cfg.warmup_ratio,  # transformers 5: a float in [0, 1) is a ratio of the total steps
            lr_scheduler_type="linear",
            weight_decay=cfg.weight_decay,
            max_grad_norm=cfg.max_grad_norm,
            eval_strategy="no",
            save_strategy="no",
            logging_strategy="no",
            report_to="none",
            disable_tqdm=True,
            use_cpu=s.device == "cpu",
            bf16=s.device.startswith("cuda"),
            seed=cfg.seed,
            # Trainer's group_by_length (train and eval batches), as our group_by_length; "random" otherwise.
            train_sampling_strategy="group_by_length" if cfg.group_by_length else "random",
            include_num_input_tokens_seen="all",  # padded tokens, for tokens/s
        )
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=_hf_dataset(prepared.train, datasets),
            data_collator=DataCollatorWithPadding(tokenizer),
            callbacks=[EpochTimer()],
        )
        output = trainer.train()
        predictions = trainer.predict(_hf_dataset(prepared.dev, datasets))
    logits = predictions.predictions[0] if isinstance(predictions.predictions, tuple) else predictions.predictions
    accuracy = float((np.argmax(logits, axis=-1) == predictions.label_ids).mean())
    return {
        "samples_per_s": len(prepared.train) * cfg.epochs / sum(epoch_times),
        "padded_tokens": int(trainer.state.num_input_tokens_seen),
        "tokens_per_s": int(trainer.state.num_input_tokens_seen) / sum(epoch_times),
        "epoch_s": sum(epoch_times),
        "trainer_train_samples_per_second": output.metrics.get("train_samples_per_second"),
        "wall_s": time.perf_counter() - started,
        "dev_accuracy": accuracy,
    }


def _hf_dataset(split, datasets):
    input_ids, token_type_ids = split.as_lists()
    columns = {
        "input_ids": input_ids,
        "attention_mask": [[1] * len(ids) for ids in input_ids],
        "labels": split.labels.tolist(),
        "length": split.lengths.tolist(),  # read by Trainer's length-grouped sampler
    }
    if token_type_ids is not None:
        columns["token_type_ids"] = token_type_ids
    return datasets.Dataset.from_dict(columns)


def case_dynamic_padding(s: Settings) -> dict:
    """Case 5: evaluating SST-2 dev with dynamic padding (as evaluate does) against padding to max_length."""
    from lora_sweep.trial import data, train

    cfg = _trial_config(s, 64, s.padding_eval_samples)
    prepared = train.prepare_data(cfg)
    device = torch.device(s.device)
    model = models.load_model(cfg.model, prepared.task.num_labels, seed=0).to(device).eval()
    dev, pad = prepared.dev, prepared.pad_token_id
    predictions: dict[str, torch.Tensor] = {}

    def evaluate(name: str, sort: bool, pad_to: int | None):
        def run():
            preds = torch.empty(len(dev), dtype=torch.long)
            for idx in data.batch_indices(dev.lengths, cfg.eval_batch_size, False, 0, sort_by_length=sort):
                batch = data.collate(dev, idx, pad, pad_to)
                batch.pop("labels")
                with torch.inference_mode(), autocast(device):
                    logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
                preds[torch.as_tensor(idx)] = logits.argmax(-1).cpu()
            predictions[name] = preds

        return run

    sides = {
        "dynamic": evaluate("dynamic", True, None),  # what train.evaluate does: sorted by length, padded per batch
        "padded": evaluate("padded", False, cfg.max_length),
        "dynamic_unsorted": evaluate("dynamic_unsorted", False, None),
    }
    times = interleave(sides, s.padding_repeats, 1, 1 if s.padding_repeats > 1 else 0, synchronizer(device))
    labels = torch.as_tensor(dev.labels)
    acc = {k: (v == labels).float().mean().item() for k, v in predictions.items()}
    unsorted = paired_ratios(times, "padded", "dynamic_unsorted")
    sps = {k: spread([len(dev) / t for t in v]) for k, v in times.items()}
    detail = {
        "case": 5,
        "model": s.trial_model,
        "dev_samples": len(dev),
        "mean_tokens": float(dev.lengths.mean()),
        "max_length": cfg.max_length,
        "samples_per_s": sps,
        "dynamic_unsorted_over_padded": spread(unsorted),
        "accuracy": acc,
        "summary": f"dynamic {sps['dynamic']['median']:.0f}, padded {sps['padded']['median']:.0f} samples/s; "
        f"unsorted dynamic/padded {statistics.median(unsorted):.2f}; mean length {dev.lengths.mean():.1f} tokens",
    }
    # Throughput ratio dynamic/padded = padded time / dynamic time.
    return make_result(
        "5. eval throughput dynamic/padded [sst2]", paired_ratios(times, "padded", "dynamic"), None, detail
    )

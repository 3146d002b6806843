"""What a researcher takes home: the best adapter of each study, in PEFT's format (issue 15).

During a sweep each LoRA trial keeps, per seed, the LoRA and head weights of its best epoch so far in
`<results>/adapters/.trials/<trial number>/seed_<seed>/` (rewritten whenever an epoch beats that seed's best;
on the sweep's storage, like its checkpoints). At the end the driver picks per study the best configuration (the
median over seeds, as the tables rank them) and, of its seeds, the one with the best dev score, and copies that
adapter to `<results>/adapters/<study>/` with the tokenizer files and a model card (README.md: base model, task,
settings, dev metrics per epoch, parameter counts, the command that trains it again); `.trials` is then removed.
`PeftModel.from_pretrained(base, folder)` loads it, and `python -m lora_sweep.train --init-adapter folder`
starts from it. Full fine-tuning is exported only when the spec says `keep_full_models: true` (a whole model
per seed and study: 500 MB for RoBERTa-base, 3.5 GB for DeBERTa-v2-xlarge), the same way, as
`save_pretrained` writes it, to `<results>/models/<study>/` (AutoModelForSequenceClassification loads it).
Head-only and BitFit trials are not exported.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import fields
from pathlib import Path

from lora_sweep.results import storage
from lora_sweep.spec import space

FOLDER = "adapters"
TRIALS = ".trials"
FILES = ("adapter_config.json", "adapter_model.safetensors")
EXPORTED = {"lora": FOLDER, "full": "models"}  # method -> the results subfolder its best models go to
FIRST_FILE = {"lora": FILES[0], "full": "config.json"}  # a seed's kept weights are there when this file is
SETTINGS_FILE = "lora_sweep.json"  # the trial's settings and reported dev metrics (python -m lora_sweep.evaluate)
# TrialConfig settings a model card's command repeats (others keep their defaults).
COMMAND_KEYS = ("model", "task", "method", "r", "alpha", "dropout", "target_modules", "learning_rate", "epochs",
                "batch_size", "max_length", "weight_decay", "warmup_ratio", "max_train_samples", "seed",
                "data_seed", "revision")  # fmt: skip
# Settings of this machine or of the sweep's run, not of the trained model: not repeated in SETTINGS_FILE.
LOCAL_KEYS = ("glue_dir", "cache_dir", "device", "save_adapter", "init_adapter")
FLOAT_KEYS = ("learning_rate", "alpha", "dropout", "weight_decay", "warmup_ratio", "max_grad_norm")


def trial_location(results: storage.Location, trial_id: str, seed) -> storage.Location:
    return storage.join(results, FOLDER, TRIALS, str(trial_id), f"seed_{int(seed)}")


def kept_methods(keep_full_models: bool) -> tuple[str, ...]:
    """The methods whose trials keep each seed's best weights during a sweep."""
    return ("lora", "full") if keep_full_models else ("lora",)


def save_best(model, cfg, heads, location: storage.Location) -> None:
    """The trial's weights now, at location (a folder or a URI): LoRA and head in PEFT's format for LoRA, the
    whole model as save_pretrained writes it for full fine-tuning."""
    from lora_sweep.trial import lora, models

    with tempfile.TemporaryDirectory(prefix="lora_sweep_adapter_") as tmp:
        if cfg.method == "lora":
            targets = cfg.target_modules or models.default_targets(model.config.model_type)
            # base_model_name_or_path: the name the user gave (a hub id, a short name), not a path in a virtualenv
            lora.save_adapter(model, tmp, targets, heads, base_model_name_or_path=cfg.model)
        else:
            model.save_pretrained(tmp)
        for name in sorted(os.listdir(tmp)):
            storage.write(storage.join(location, name), lambda dst, n=name: shutil.copyfile(os.path.join(tmp, n), dst))


def export(out: storage.Location, trials, epochs, log=print) -> list[storage.Location]:
    """Copy each study's best kept weights to adapters/<study>/ or models/<study>/ (see the module); return the
    folders written."""
    from analysis.configs import best_configurations, configurations, with_config_ids

    kept = trials[trials["method"].isin(list(EXPORTED))] if len(trials) else trials
    written = []
    if len(kept):
        best = best_configurations(configurations(kept), ["study"])
        ided = with_config_ids(kept)
        for _, config in best.iterrows():
            rows = ided[(ided["config"] == config["config"]) & ided["best_metric"].notna()]
            if rows.empty:
                continue
            seed_row = rows.loc[rows["best_metric"].idxmax()]
            method = seed_row["method"]
            source = trial_location(out, seed_row["trial_id"], seed_row["seed"])
            if not storage.is_file(storage.join(source, FIRST_FILE[method])):
                continue  # a trial that kept none (full fine-tuning unless keep_full_models, a stand-in, ...)
            dest = storage.join(out, EXPORTED[method], space.study_slug(config["study"]))
            _copy(source, dest, seed_row["model"])
            _tokenizer(seed_row, dest)
            storage.write_text(storage.join(dest, "README.md"), model_card(seed_row, epochs, dest))
            storage.write_text(
                storage.join(dest, SETTINGS_FILE), json.dumps(settings_record(seed_row, epochs), indent=2)
            )
            written.append(dest)
            what = "adapter" if method == "lora" else "model"
            log(f"[lora_sweep] {what} of {config['study']} (seed {int(seed_row['seed'])}): {dest}")
    _remove_trials(out)
    return written


def _copy(source: storage.Location, dest: storage.Location, model: str) -> None:
    """The kept files; an adapter's config names the base model as the trials table does (a path of this
    machine written ~/... or ./..., unless record_paths)."""
    for name, is_folder in storage.entries(source):
        if is_folder:
            continue
        if name == "adapter_config.json":
            config = json.loads(storage.read_bytes(storage.join(source, name)))
            config["base_model_name_or_path"] = model
            data = json.dumps(config, indent=2).encode()
            storage.write(storage.join(dest, name), lambda dst, d=data: Path(dst).write_bytes(d))
        else:
            _copy_file(storage.join(source, name), storage.join(dest, name))


def _copy_file(source: storage.Location, dest: storage.Location) -> None:
    """One file, streamed (a full model's weights can be gigabytes)."""
    if not storage.is_uri(source):
        storage.write(dest, lambda dst: shutil.copyfile(source, dst))
        return
    fs, path = storage.filesystem(source)

    def fetch(dst: str) -> None:
        with fs.open_input_stream(path) as reader, open(dst, "wb") as writer:
            shutil.copyfileobj(reader, writer, 8 * 1024 * 1024)

    storage.write(dest, fetch)


def _tokenizer(row, dest: storage.Location) -> None:
    from lora_sweep.trial import models

    try:
        tokenizer = models.load_tokenizer(row["model"], row.get("revision") or None)
    except (OSError, ValueError):  # random: models have none; a hub model may be out of reach here
        return
    with tempfile.TemporaryDirectory(prefix="lora_sweep_tokenizer_") as tmp:
        tokenizer.save_pretrained(tmp)
        for name in sorted(os.listdir(tmp)):
            storage.write(storage.join(dest, name), lambda dst, n=name: shutil.copyfile(os.path.join(tmp, n), dst))


def trial_settings(row, keys) -> dict:
    """The row's values of these TrialConfig settings as plain Python values (absent and empty ones left out;
    integers a table stored as floats made integers again)."""
    settings = {}
    for key in keys:
        value = row.get(key)
        if hasattr(value, "item"):
            value = value.item()  # numpy scalars
        if value is None or (isinstance(value, float) and value != value) or value == "":
            continue
        if isinstance(value, float) and value.is_integer() and key not in FLOAT_KEYS:
            value = int(value)
        settings[key] = value
    return settings


def settings_record(row, epochs) -> dict:
    """SETTINGS_FILE: what the trial trained with and the dev metrics reported at the kept epoch."""
    from lora_sweep.trial.config import TrialConfig

    keys = [f.name for f in fields(TrialConfig) if f.name not in (*LOCAL_KEYS, "extra")]
    epoch = epochs[
        (epochs["trial_id"] == row["trial_id"])
        & (epochs["seed"] == row["seed"])
        & (epochs["epoch"] == row["best_epoch"])
    ]
    reported = epoch.iloc[0] if len(epoch) else {}
    metrics = {
        k: float(reported[k]) for k in reported.keys() if str(k).startswith("eval_") and reported[k] == reported[k]
    }
    return {
        "settings": trial_settings(row, keys),
        "trial_id": row["trial_id"],
        "epoch": int(row["best_epoch"]),
        "reported": metrics,
    }


def _command(row) -> str:
    flags = [f"--{key.replace('_', '-')} {value}" for key, value in trial_settings(row, COMMAND_KEYS).items()]
    return "python -m lora_sweep.train " + " ".join(flags) + " --save-adapter ADAPTER_DIR"


def model_card(row, epochs, dest) -> str:
    mine = epochs[(epochs["trial_id"] == row["trial_id"]) & (epochs["seed"] == row["seed"])].sort_values("epoch")
    metric = row["metric"]
    shown = [c for c in ("epoch", metric, "eval_loss", "train_loss") if c in mine]
    table = ["| " + " | ".join(shown) + " |", "|" + "---|" * len(shown)]
    table += ["| " + " | ".join(f"{r[c]:.4f}" if isinstance(r[c], float) else str(r[c]) for c in shown) + " |"
              for _, r in mine.iterrows()]  # fmt: skip
    settings = ", ".join(f"{k} {row[k]}" for k in COMMAND_KEYS[2:] if k in row and str(row[k]) not in ("", "nan"))
    if row["method"] == "lora":
        title = "LoRA adapter"
        load = ("Load it: `PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(BASE, "
                "num_labels=N), this_folder)`; start a trial from it: `python -m lora_sweep.train --init-adapter "
                "this_folder ...`.")  # fmt: skip
    else:
        title = "Fully fine-tuned model"
        load = "Load it: `AutoModelForSequenceClassification.from_pretrained(this_folder)`."
    load += " Measure it again on its dev examples: `python -m lora_sweep.evaluate this_folder`."
    return "\n".join([
        f"# {title}: {row['model']} on {row['task']} ({row['study']})",
        "",
        f"- Base model: `{row['model']}`; task: {row['task']}; from trial {row['trial_id']}, seed {int(row['seed'])}"
        f" (the best seed of the study's best configuration by the median over its seeds).",
        f"- Settings: {settings}.",
        f"- Best dev {metric}: {row['best_metric']:.4f} at epoch {int(row['best_epoch'])} (these weights).",
        f"- Parameters: LoRA {int(row['lora_params']):,}, head {int(row['head_params']):,}, trainable "
        f"{int(row['trainable_params']):,} of {int(row['total_params']):,}.",
        "",
        "Dev metrics per epoch:",
        "",
        *table,
        "",
        load,
        "",
        f"Train it again: `{_command(row)}`",
        "",
    ])  # fmt: skip


def _remove_trials(out: storage.Location) -> None:
    folder = storage.join(out, FOLDER, TRIALS)
    if storage.is_uri(folder):
        fs, path = storage.filesystem(folder)
        try:
            fs.delete_dir(path)
        except (FileNotFoundError, OSError):
            pass
        return
    folder = Path(folder)
    if folder.is_dir() and not folder.is_symlink() and folder.resolve().is_relative_to(Path(out).resolve()):
        shutil.rmtree(folder)

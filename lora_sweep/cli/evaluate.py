"""`lora-sweep evaluate FOLDER` (also `python -m lora_sweep.evaluate`): measure an exported model on its dev set again.

FOLDER is what a sweep exported (results/adapters.py): `<results>/adapters/<study>/`, a LoRA adapter loaded
with PEFT's `PeftModel.from_pretrained` onto the base model it names, or `<results>/models/<study>/`, a fully
fine-tuned model loaded with `AutoModelForSequenceClassification.from_pretrained`. Its `lora_sweep.json` holds
the trial's settings and the dev metrics the sweep reported for these weights; the command evaluates on the
same dev examples (the trial's max_length and max_eval_samples) and prints one JSON line with both. GLUE comes
from --glue-dir, else $GLUE_DIR, else the hub, as for a trial; --model names the base model where the recorded
name does not reach it here (a path of another machine). Exit 2 on a folder that is not such an export.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from lora_sweep.cli import terminal
from lora_sweep.cli.args import verb_parser
from lora_sweep.results.adapters import FILES, SETTINGS_FILE

EPILOG = """examples:
  lora-sweep evaluate results/smoke/adapters/minilm-sst2-lora-r8
  lora-sweep evaluate results/glue/models/roberta-base-mrpc-full --glue-dir ~/glue

prints one JSON line: the measured dev metrics beside the ones the sweep reported for these weights.
exit codes: 0 measured; 2 not an export of a lora_sweep sweep, or unreadable (one line on stderr)."""


def _parser() -> argparse.ArgumentParser:
    parser = verb_parser("evaluate", "Measure an exported adapter or model on the dev examples its trial used.", EPILOG)
    parser.add_argument("folder", help="an exported adapter (<results>/adapters/<study>) or model (models/<study>)")
    parser.add_argument("--glue-dir", help="GLUE folder (default: $GLUE_DIR, else the hub)")
    parser.add_argument("--model", help="the base model of a LoRA adapter, where the recorded name does not reach it")
    parser.add_argument("--device", default="auto", help="auto (cuda if present), cpu or cuda")
    return parser


def _read_record(folder: Path) -> dict:
    path = folder / SETTINGS_FILE
    if not path.is_file():
        raise ValueError(f"{folder}: no {SETTINGS_FILE}; not a model a lora_sweep sweep exported")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        record["settings"]["model"], record["settings"]["task"]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: unreadable ({type(err).__name__}: {err})") from None
    settings = record["settings"]
    if not isinstance(record, dict) or not isinstance(settings, dict):
        raise ValueError(f"{path}: its settings are not a mapping; not a record a lora_sweep sweep wrote")
    for key in ("model", "task"):
        if not isinstance(settings[key], str) or not settings[key]:
            raise ValueError(f"{path}: settings.{key} is {settings[key]!r}; must be a name")
    return record


def _load(folder: Path, cfg, num_labels: int):
    from transformers import AutoModelForSequenceClassification

    from lora_sweep.trial import models

    if cfg.method != "lora":
        return AutoModelForSequenceClassification.from_pretrained(folder)
    if not (folder / FILES[0]).is_file():
        raise ValueError(f"{folder}: no {FILES[0]}; not a LoRA adapter")
    from peft import PeftModel

    base = models.load_model(cfg.model, num_labels, revision=cfg.revision)
    return PeftModel.from_pretrained(base, folder)


def measure(folder: Path, glue_dir: str | None = None, model: str | None = None, device: str = "auto") -> dict:
    """The record's reported dev metrics and the ones measured now on the same examples."""
    from lora_sweep.trial import train
    from lora_sweep.trial.config import TrialConfig

    record = _read_record(folder)
    settings = dict(record["settings"])
    settings["model"] = model or os.path.expanduser(settings["model"])
    # A record from elsewhere does not choose where this command writes (a tokenized-data cache) or what it loads
    # besides the export itself.
    for key in ("cache_dir", "save_adapter", "init_adapter"):
        settings.pop(key, None)
    cfg = TrialConfig.from_dict({**settings, "glue_dir": glue_dir, "device": device})
    data = train.prepare_data(cfg)
    try:
        loaded = _load(folder, cfg, data.task.num_labels)
    except (ValueError, OSError):
        raise
    except Exception as err:  # noqa: BLE001 - PEFT, transformers and safetensors raise many types for bad files
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise ValueError(f"{folder}: cannot load the exported weights ({type(err).__name__}: {reason})") from None
    target = train.pick_device(cfg.device)
    measured = train.evaluate(loaded.to(target), data.dev, data.task, cfg, data.pad_token_id, target)
    return {
        "folder": str(folder),
        "model": cfg.model,
        "task": cfg.task,
        "method": cfg.method,
        "epoch": record.get("epoch"),
        "dev_examples": len(data.dev.labels),
        "measured": measured,
        "reported": record.get("reported", {}),
    }


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    folder = Path(args.folder).expanduser()
    if not folder.is_dir():
        terminal.error(f"{folder}: no such folder")
        return 2
    try:
        result = measure(folder, args.glue_dir, args.model, args.device)
    except (ValueError, OSError) as err:
        terminal.error(f"{str(err).splitlines()[0]}")
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m lora_sweep.train`: run one trial without Ray and print one JSON line per epoch.

Every TrialConfig field is a flag (--max-train-samples 4000, --target-modules query,key); bad values exit 2
with the one-line message from config.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields

from lora_sweep.cli import terminal
from lora_sweep.cli.args import verb_parser
from lora_sweep.cli.trial_help import flag_help
from lora_sweep.trial.config import TrialConfig
from lora_sweep.trial.progress import EpochProgress, Snapshot

TEXT_KEYS = ("revision", "data_revision")


EPILOG = """examples:
  lora-sweep train --task sst2 --method lora --r 8 --max-train-samples 200 --epochs 1
  lora-sweep train --model roberta-base --task mrpc --method full --learning-rate 2e-5
  lora-sweep train --task rte --method lora --init-adapter results/mnli/adapters/roberta-base-mnli-lora-r8

stdout: one JSON line per epoch; stderr: progress within each epoch, then one JSON line with the outcome.
exit codes: 0 completed; 1 diverged (a non-finite training loss); 2 bad flag or input (one line on stderr)."""


def _parser() -> argparse.ArgumentParser:
    parser = verb_parser(
        "train", "Train and evaluate one configuration (no Ray); prints one JSON line per epoch.", EPILOG
    )
    defaults = TrialConfig()
    for f in fields(TrialConfig):
        if f.name == "extra":
            continue
        default = getattr(defaults, f.name)
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            default=None,
            metavar=f.name.upper(),
            help=flag_help(f.name, default),
        )
    return parser


def stderr_progress(stream) -> EpochProgress:
    """Progress within each epoch on stderr: one redrawn line on a terminal, a plain line every 10 s otherwise."""
    tty = stream.isatty()

    def show(snap: Snapshot) -> None:
        end = "\n" if not tty or snap.step == snap.steps else ""
        stream.write(("\r\x1b[K" if tty else "") + snap.text() + end)
        stream.flush()

    return EpochProgress(show, every_s=0.5 if tty else 10.0)


def _parse_value(text: str):
    """YAML-style scalars: 8 -> int, 1e-3 -> float, null -> None, anything else a string."""
    from lora_sweep.spec.spec import parse_yaml

    value = parse_yaml(text)
    return value if isinstance(value, (int, float, type(None))) else text


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # A revision is text even when it looks like a number (a short commit such as 1234567).
    values = {k: v if k in TEXT_KEYS else _parse_value(v) for k, v in vars(args).items() if v is not None}
    try:
        cfg = TrialConfig.from_dict(values)
        # Imported here so that --help and bad flags answer without loading torch.
        from lora_sweep.trial.lora import AdapterError
        from lora_sweep.trial.train import prepare_data, train_and_evaluate

        prepared = prepare_data(cfg)
    except ValueError as err:
        terminal.error(f"{err}")
        return 2
    last: dict = {}

    def emit(row: dict) -> None:  # the row says what the trial used: host, weights, data (trial/fingerprints.py)
        last.update(row)
        print(json.dumps(row), flush=True)

    try:
        result = train_and_evaluate(cfg, emit, prepared=prepared, progress=stderr_progress(sys.stderr))
    except AdapterError as err:  # an --init-adapter that does not fit: found once the model is built
        terminal.error(f"{err}")
        return 2
    print(
        json.dumps(
            {
                "status": result.status,
                "best_metric": result.best_metric,
                "best_epoch": result.best_epoch,
                "adapter_bytes": last.get("adapter_bytes"),  # the trainable tensors' bytes, as in the rows
                "saved_bytes": result.saved_bytes,  # what --save-adapter wrote (null: nothing saved)
                "reason": result.reason,
            }
        ),
        file=sys.stderr,
    )
    return 0 if result.status == "completed" else 1

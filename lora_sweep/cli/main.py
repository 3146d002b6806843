"""`lora-sweep VERB ...`: the one command line. Each verb is a module of this folder with `main(argv) -> int`;
it is imported only when named, so `lora-sweep --help` and every `lora-sweep VERB --help` answer at once."""

from __future__ import annotations

import sys

from lora_sweep.cli import terminal

VERBS = {  # verb: (module, what it does)
    "run": ("lora_sweep.cli.run", "run a sweep from a spec file or a shipped spec's name"),
    "train": ("lora_sweep.cli.train", "train and evaluate one configuration, no Ray (JSON line per epoch)"),
    "evaluate": ("lora_sweep.cli.evaluate", "measure an exported adapter or model on its dev set again"),
    "report": ("lora_sweep.cli.report", "tables and report.html from one or several results folders"),
    "ls": ("lora_sweep.cli.ls", "list the sweeps under a storage folder or URI"),
    "init": ("lora_sweep.cli.init", "print a shipped spec to edit (lora-sweep init smoke > my.yaml)"),
}
USAGE = """usage: lora-sweep VERB [ARGS ...]    (lora-sweep VERB --help for each)

Sweeps of LoRA against full fine-tuning on GLUE, on Ray Tune, with tables and a report.

verbs:
{verbs}

examples:
  lora-sweep run smoke                          the shipped smoke sweep on this machine
  lora-sweep run sweeps/glue_ranks.yaml --dry-run
  lora-sweep init smoke > my.yaml               a spec to edit
  lora-sweep train --task sst2 --method lora --r 8 --max-train-samples 200 --epochs 1
  lora-sweep ls results                         the sweeps under ./results
  lora-sweep report results/a results/b --out compare    two sweeps in one report

exit codes: 0 done; 1 done but something failed (failed trials); 2 bad input (nothing started or written);
130 / 143 stopped by SIGINT / SIGTERM (run: --resume continues).
"""


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("lora_sweep")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        width = max(map(len, VERBS))
        print(USAGE.format(verbs="\n".join(f"  {v:<{width}}  {what}" for v, (_, what) in VERBS.items())))
        return 0 if argv else 2
    if argv[0] == "--version":
        print(f"lora-sweep {version()}")
        return 0
    verb, rest = argv[0], argv[1:]
    if verb not in VERBS:
        if verb.endswith((".yaml", ".yml")):  # `lora-sweep SPEC ...`, as before there were verbs
            verb, rest = "run", argv
        else:
            terminal.error(f"unknown verb {verb!r}; one of: {', '.join(VERBS)} (lora-sweep --help)")
            return 2
    from importlib import import_module

    return import_module(VERBS[verb][0]).main(rest)


def entry() -> None:
    """The `lora-sweep` console script: exits as `python -m lora_sweep.run` does (run._exit)."""
    from lora_sweep.cli.exit import exit_now

    exit_now(main())


if __name__ == "__main__":
    entry()

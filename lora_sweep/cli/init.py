"""`lora-sweep init NAME`: print a shipped spec, comments included, to start your own from."""

from __future__ import annotations

import argparse
import sys

from lora_sweep.cli import terminal
from lora_sweep.cli.args import verb_parser
from lora_sweep.spec import shipped

EPILOG = """examples:
  lora-sweep init                   list the shipped specs
  lora-sweep init smoke > my.yaml   then edit my.yaml and: lora-sweep run my.yaml

exit codes: 0 printed; 2 no shipped spec of that name."""


def parser() -> argparse.ArgumentParser:
    p = verb_parser("init", "Print a shipped spec to standard output.", EPILOG)
    p.add_argument("name", nargs="?", help=f"one of: {', '.join(shipped.names())}")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.name is None:
        for name in shipped.names():
            print(name)
        return 0
    if args.name not in shipped.names():
        terminal.error(f"no shipped spec {args.name!r}; one of: {', '.join(shipped.names())}")
        return 2
    sys.stdout.write((shipped.SHIPPED / f"{args.name}.yaml").read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

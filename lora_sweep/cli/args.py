"""The parser every `lora-sweep VERB` starts from: its prog, one-line description, and an epilog of examples and
exit codes printed as written."""

from __future__ import annotations

import argparse


def verb_parser(verb: str, description: str, epilog: str, prog: str | None = None) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog=prog or f"lora-sweep {verb}",
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

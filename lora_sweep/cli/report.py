"""`lora-sweep report RESULTS ...`: the tables and report.html (the analysis package: pandas and plotly only)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from analysis.report_args import parser

    parser("lora-sweep report").parse_args(argv)  # --help and usage errors before pandas and plotly load
    from analysis.report import main as report

    return report(argv, prog="lora-sweep report")


if __name__ == "__main__":
    sys.exit(main())

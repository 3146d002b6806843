"""The report's command line (`lora-sweep report`, `python -m analysis.report`): argparse alone, so that --help
answers without importing pandas or plotly."""

from __future__ import annotations

import argparse

EPILOG = """examples:
  lora-sweep report results/smoke                      tables and report.html inside the results folder
  lora-sweep report results/smoke --open               and open it in a browser
  lora-sweep report s3://bucket/sweeps/smoke           a results folder under a storage URI

Works on finished, running and interrupted sweeps.
exit codes: 0 written; 2 not a results folder, or unreadable (one line on stderr)."""


def parser(prog: str = "python -m analysis.report") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Tables (Markdown, CSV) and one self-contained report.html from a sweep's results.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("results_dir", help="a sweep's results directory (trials.parquet/csv), or its storage URI")
    p.add_argument("--open", action="store_true", help="open the report in a web browser")
    return p

"""The report's command line (`lora-sweep report`, `python -m analysis.report`): argparse alone, so that --help
answers without importing pandas or plotly."""

from __future__ import annotations

import argparse

EPILOG = """examples:
  lora-sweep report results/smoke                      tables and report.html inside the results folder
  lora-sweep report results/smoke --open               and open it in a browser
  lora-sweep report s3://bucket/sweeps/smoke           a results folder under a storage URI
  lora-sweep report results/a results/b --out compare  several sweeps compared in one report

Works on finished, running and interrupted sweeps.
exit codes: 0 written; 2 not a results folder, unreadable, or several inputs without --out (one line)."""


def parser(prog: str = "python -m analysis.report") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Tables (Markdown, CSV) and one self-contained report.html from a sweep's results.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("results", nargs="+", help="results folder(s), trials.csv/.parquet file(s) or storage URI(s)")
    p.add_argument("--out", help="folder for the report and tables (default: inside the one results folder)")
    p.add_argument("--open", action="store_true", help="open the report in a web browser")
    return p

"""Results directory -> tables (Markdown, CSV) and one self-contained report.html (plotly.js inlined).

Usage: python -m analysis.report RESULTS [RESULTS ...] [--out DIR] [--open]
RESULTS is a results folder, a trials.csv/trials.parquet file (its folder is read), or a storage URI
(s3://bucket/prefix/NAME). Several RESULTS are compared in one report: their trials are read together, each
row's study prefixed with the RESULTS as typed. Works on finished, running and interrupted sweeps; exits 2 with
one line when an input holds no trials table. The report and tables go beside the (single) results, or into
--out (needed for several inputs, or a trials file's folder you want left alone).
"""

from __future__ import annotations

import contextlib
import html
import sys
import tempfile
import webbrowser
from pathlib import Path

import plotly.graph_objects as go

from analysis import figures, report_args, run_info
from analysis.headline import headline
from analysis.results import Results, ResultsError, load_results
from analysis.tables import TITLES, build_tables, write_tables
from analysis.writers import to_html_table, write_atomic

REPORT_NAME = "report.html"
# What the report reads from a results folder under a storage URI (copied to a local folder first).
INPUTS = ("trials.parquet", "trials.csv", "epochs.parquet", "epochs.csv", "sweep.json", "versions.json", "runs.jsonl")
_PLOTLY_CONFIG = {"responsive": True, "displaylogo": False}
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1350px; color: #222; }
h1 { margin-bottom: 0.2em; } .meta { color: #666; margin-top: 0; }
.notes { background: #fff7e0; border-left: 4px solid #e0a800; padding: 0.6em 1.2em; }
table.results { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }
table.results th, table.results td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: right;
  white-space: nowrap; }
table.results th { background: #f3f3f3; } section { margin-bottom: 2em; overflow-x: auto; }
"""


def build_figures(results: Results, tables: dict) -> list[tuple[str, go.Figure]]:
    """The report's figures that have data, as (id, figure), in page order."""
    searched = list(((results.sweep or {}).get("searched") or {}).keys())
    candidates = [
        ("headline", headline(tables["rank_vs_accuracy"], tables["parameter_efficiency"], results.mode)),
        ("rank", figures.rank_curve(tables["rank_vs_accuracy"])),
        ("curves", figures.learning_curves(results.trials, results.epochs, results.mode, searched)),
        ("search", figures.search_settings(results.trials, results.sweep, results.mode)),
    ]
    return [(name, fig) for name, fig in candidates if fig is not None]


def _plain(text):
    """Text from the results as plotly shows it: its pseudo-HTML (<a href>, <b>, ...) escaped, the line breaks the
    figures put between fields (<br>) kept."""
    if not isinstance(text, str):
        return text
    return html.escape(text, quote=False).replace("&lt;br&gt;", "<br>")


def escape_labels(fig: go.Figure) -> go.Figure:
    """Legend names, hover texts and subplot titles come from model, task and study names: plotly renders HTML
    in them (a name holding <a href> would be a live link in the legend), so it is escaped here, in one place."""
    for trace in fig.data:
        trace.name = _plain(trace.name)
        hover = getattr(trace, "hovertext", None)
        if hover is not None:
            trace.hovertext = [_plain(t) for t in hover] if not isinstance(hover, str) else _plain(hover)
    for note in fig.layout.annotations or ():
        note.text = _plain(note.text)
    return fig


def _figure_html(name: str, fig: go.Figure, first: bool) -> str:
    # The first figure carries the whole plotly.js bundle inline (no CDN): the page opens offline.
    fig = escape_labels(fig)
    return fig.to_html(
        full_html=False, include_plotlyjs=first, div_id=f"fig-{name}", config=_PLOTLY_CONFIG,
        default_width="100%",
    )  # fmt: skip


def _notes_html(notes: list[str]) -> str:
    if not notes:
        return "<p class='meta'>All planned trials have results.</p>"
    items = "".join(f"<li>{html.escape(note)}</li>" for note in notes)
    return f"<div class='notes'><strong>Missing or partial data</strong><ul>{items}</ul></div>"


def render_html(results: Results, tables: dict, figs: list[tuple[str, go.Figure]], title: str | None = None) -> str:
    """The whole report page as one string: title, notes, figures, then the tables. title: the results as the
    user named them (default: the folder's name only, never an absolute path of this machine)."""
    n = len(results.trials)
    done = int(results.trials["best_metric"].notna().sum())
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>LoRA sweep report: {html.escape(results.name)}</title>",
        f"<style>{_STYLE}{run_info.STYLE}</style></head><body>",
        f"<h1>LoRA sweep report: {html.escape(results.name)}</h1>",
        # The folder's name only: an absolute path would tell where (and whose home) the report was made.
        f"<p class='meta'>{html.escape(title or Path(results.directory).name)} &middot; {done} of {n} trials with a"
        " result"
        " &middot; scores are dev metrics in percent: per variant the best configuration's median over seeds"
        " (each seed at its best epoch), with that configuration's min-max; paper: Hu et al., ICLR 2022,"
        " Table 2</p>",
        run_info.used_html(results.directory, results.trials),
        _notes_html(results.notes),
    ]
    parts += [f"<section>{_figure_html(name, fig, i == 0)}</section>" for i, (name, fig) in enumerate(figs)]
    for stem, table in tables.items():
        parts.append(f"<section><h2>{html.escape(TITLES[stem])}</h2>{to_html_table(table)}</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def build_report(results_dir: str | Path) -> Path | str:
    """Write the tables and report.html into results_dir (a folder or a storage URI); return the report's path.
    Raises ResultsError when results_dir holds no trials table."""
    with _opened(results_dir) as (results, publish):
        return publish(*write_report(results))[0]


@contextlib.contextmanager
def _opened(results_dir: str | Path):
    """(Results, publish): publish(report, tables) puts what write_report wrote where the results are and returns
    their paths there. Under a storage URI the inputs are read into a local folder first, and published back."""
    if "://" not in str(results_dir):
        yield load_results(results_dir), lambda report, paths: (report, paths)
        return
    # Only for a storage URI (pyarrow.fs): the analysis alone needs no lora_sweep.
    from lora_sweep.results import storage

    uri = str(results_dir)
    with tempfile.TemporaryDirectory(prefix="lora_sweep_report_") as tmp:
        local = Path(tmp, storage.basename(uri))
        local.mkdir()
        if not storage.has_entries(uri):
            raise ResultsError(f"{uri} holds no results (nothing is stored there)")
        storage.download_files(uri, INPUTS, local)
        try:
            results = load_results(local)
        except ResultsError as exc:
            raise ResultsError(str(exc).replace(str(local), uri)) from None

        def publish(report: Path, paths: list[Path]):
            for path in (*paths, report):
                storage.upload(path, storage.join(uri, path.name))
            return storage.join(uri, report.name), [storage.join(uri, p.name) for p in paths]

        yield results, publish


def write_report(results: Results, title: str | None = None) -> tuple[Path, list[Path]]:
    """Write the tables and report.html into results.directory; return (report path, table paths).
    title: what the header names the results by (the folder as the user typed it); default its name."""
    tables = build_tables(results)
    paths = write_tables(results, tables)
    page = render_html(results, tables, build_figures(results, tables), title)
    return write_atomic(results.directory / REPORT_NAME, page), paths


def _local_dir(arg: str) -> str:
    """A trials.csv/.parquet file stands for its folder; anything else as given."""
    path = Path(arg)
    if path.suffix not in (".csv", ".parquet") or not path.is_file():
        return arg
    if path.stem == "trials":
        return str(path.parent)
    # A trials table under another name (docs/smoke_trials.csv): read from a folder of its own.
    folder = Path(tempfile.mkdtemp(prefix="lora_sweep_trials_"))
    (folder / f"trials{path.suffix}").write_bytes(path.read_bytes())
    return str(folder)


def _combined(inputs: list[str], out: Path) -> Results:
    """Several inputs as one Results in `out`: each row's study prefixed with its input as the user typed it."""
    import pandas as pd

    frames, epochs, notes, sweep = [], [], [], None
    for arg in inputs:
        with _opened(_local_dir(arg)) as (results, _publish):
            # The model names carry the input too, so each input's variants stay its own rows in every table.
            tag = lambda frame, arg=arg: frame.assign(  # noqa: E731
                study=arg + ": " + frame["study"].astype(str), model=f"[{arg}] " + frame["model"].astype(str)
            )
            frames.append(tag(results.trials).assign(trial_id=arg + ":" + results.trials["trial_id"]))
            if len(results.epochs):
                epochs.append(results.epochs.assign(trial_id=arg + ":" + results.epochs["trial_id"]))
            notes += [f"{arg}: {note}" for note in results.notes]
            sweep = sweep or results.sweep
    trials = pd.concat(frames, ignore_index=True)
    all_epochs = pd.concat(epochs, ignore_index=True) if epochs else pd.DataFrame(columns=["trial_id", "epoch"])
    sweep = {**(sweep or {}), "name": " vs ".join(inputs), "searched_by_study": {}}
    return Results(directory=out, trials=trials, epochs=all_epochs, sweep=sweep, notes=notes)


def main(argv: list[str] | None = None, prog: str = "python -m analysis.report") -> int:
    """CLI: build the report, print its path, the tables' paths and the notes; 2 on bad input (nothing written)."""
    args = report_args.parser(prog).parse_args(argv)
    if len(args.results) > 1 and not args.out:
        print("error: several results need --out (a folder for the comparison report)", file=sys.stderr)
        return 2
    try:
        if args.out or len(args.results) > 1:
            out = Path(args.out)
            if out.exists() and not out.is_dir():
                raise ResultsError(f"--out {out} is not a folder")
            if len(args.results) == 1:
                with _opened(_local_dir(args.results[0])) as (one, _publish):
                    results = Results(out, one.trials, one.epochs, one.sweep, one.notes)
            else:
                results = _combined(args.results, out)
            out.mkdir(parents=True, exist_ok=True)
            report, paths = write_report(results, title=" vs ".join(args.results))
        else:
            with _opened(_local_dir(args.results[0])) as (results, publish):
                report, paths = publish(*write_report(results, title=args.results[0]))
    except ResultsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"report: {report}")
    for path in paths:
        print(f"table:  {path}")
    for note in results.notes:
        print(f"note:   {note}")
    if args.open and "://" not in str(report):
        webbrowser.open(Path(report).resolve().as_uri())
    return 0


if __name__ == "__main__":
    sys.exit(main())

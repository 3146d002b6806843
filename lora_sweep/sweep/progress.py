"""What the terminal and Ray's trial folders show of a running sweep: settings as columns, short trial names.

Ray Tune's default (new) status table infers its columns from the param space, so a grid over whole configurations
(one `trial` key) shows one column cut to 20 characters. Its CLIReporter takes the columns to show by path, so
the sweep turns the new output off (RAY_AIR_NEW_OUTPUT=0) and names them: model, task, method, r, learning rate,
seeds, then the score (median over seeds) with its min and max.
"""

from __future__ import annotations

import os

from ray.tune import CLIReporter

from lora_sweep.spec import space
from lora_sweep.sweep import progress_board

SHOWN = ("model", "task", "method", "r", "learning_rate", "seeds")
HEADERS = {"learning_rate": "lr"}
IN_EPOCH = "lora_sweep_in_epoch"  # a running trial's steps within its epoch (progress_board.py)
METRICS = {"epoch": "epoch", IN_EPOCH: "in epoch", "score": "score", "score_min": "min", "score_max": "max"}


def use_column_reporter() -> None:
    """Before the Tuner starts: Ray ignores a progress_reporter while its new output is on."""
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"


class SettingsReporter(CLIReporter):
    """Ray's CLIReporter with the table sorted best first and without its "Current best trial" line: that line
    looks every column up strictly and fails on a setting a trial does not have (a full fine-tuning trial's r).
    With a progress board, running trials show their steps within the epoch (`in epoch`)."""

    def _current_best_trial(self, trials):
        return None, None

    def report(self, trials, done, *sys_info):
        lines = {} if done else progress_board.read()
        shown = [t for t in trials if t.status == "RUNNING" and t.trial_id in lines]
        for trial in shown:  # for this drawing only: the column reads the trial's last result
            trial.last_result[IN_EPOCH] = lines[trial.trial_id]
        try:
            super().report(trials, done, *sys_info)
        finally:
            for trial in shown:
                trial.last_result.pop(IN_EPOCH, None)


def reporter(nested: bool, every_s: float = 30, searched=()) -> CLIReporter:
    """Grid trials keep their settings under config["trial"]; Optuna's are top-level keys (`nested` False).
    Every other searched setting (precision, max_length, ...) gets a column too: trials differ in it."""
    prefix = "trial/" if nested else ""
    shown = [*SHOWN, *(key for key in searched if key not in SHOWN and key != "seed")]
    return SettingsReporter(
        parameter_columns={prefix + key: HEADERS.get(key, key) for key in shown},
        metric_columns=dict(METRICS),
        max_column_length=32,
        max_report_frequency=every_s,
        # The table while trials run, always: left unset, Ray decides from a process-wide verbosity that an
        # earlier Tuner in the same process (verbose=0) turns down.
        print_intermediate_tables=True,
        sort_by_metric=True,
    )


def trial_dirname(trial) -> str:
    """`trial_00007_minilm-sst2-lora-r8`: the trial's number in the sweep, then its study, the model named by the
    last part of its hub id or path."""
    number = trial.trial_id.rsplit("_", 1)[-1]
    values = trial.config.get("trial", trial.config)
    study = space.study_slug(str(values.get("study", "")))
    return f"trial_{number}_{study}"[:80] if study else f"trial_{number}"

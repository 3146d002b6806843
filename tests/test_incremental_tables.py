"""The results tables kept current without a rewrite per report (lora_sweep/write_schedule.py, issue 16)."""

from __future__ import annotations

import io
import json
import threading
import time

import pandas as pd
import pytest

from lora_sweep.sweep.write_schedule import MIN_INTERVAL_S, SHARE, WriteSchedule


def test_rewrites_wait_for_a_change_the_interval_and_twenty_times_the_last_rewrite():
    schedule = WriteSchedule()
    assert not schedule.due(now=0.0)  # nothing changed yet
    schedule.changed()
    assert schedule.due(now=0.0)  # the first change is written at once
    schedule._last_end, schedule._last_duration, schedule.pending = 100.0, 0.01, True
    assert not schedule.due(now=100.0 + MIN_INTERVAL_S - 0.1) and schedule.due(now=100.0 + MIN_INTERVAL_S)
    schedule._last_duration = 2.0  # a slow rewrite (a big sweep): wait 19 times as long
    assert not schedule.due(now=100.0 + SHARE * 2.0 - 0.1) and schedule.due(now=100.0 + SHARE * 2.0)
    schedule.pending = False
    assert not schedule.due(now=1e9)  # nothing new: no rewrite however long it has been
    calls = []
    schedule.run(lambda: calls.append(time.monotonic()))
    assert calls and not schedule.pending
    assert not schedule.run_if_due(lambda: calls.append(0.0)) and len(calls) == 1  # nothing new
    schedule.changed()
    schedule._last_end = float("-inf")
    assert schedule.run_if_due(lambda: calls.append(0.0)) and len(calls) == 2 and not schedule.pending


@pytest.mark.slow
def test_tables_read_during_a_sweep_are_whole_and_the_final_ones_hold_every_report(tmp_path):
    """A reader polling the tables while 30 stand-in configurations x 2 seeds run always finds whole files; at the
    end every (trial, seed, epoch) that Ray recorded in the trials' result.json is in epochs.csv exactly once."""
    from tests.standin import cli, spec_file

    rates = [round(1e-4 * (1.2**i), 8) for i in range(30)]
    spec = spec_file(tmp_path / "s.yaml", rates, epochs=3, seeds=2)
    out = tmp_path / "store" / "standin"
    reads, problems, done = [], [], threading.Event()

    def reader():
        while not done.is_set():
            for name in ("trials.csv", "epochs.csv", "trials.parquet", "epochs.parquet"):
                path = out / name
                if not path.is_file():
                    continue
                try:
                    # The bytes once, then parsed: pyarrow reading by path opens the file more than once and
                    # could mix two whole versions (analysis.results reads it this way too).
                    data = io.BytesIO(path.read_bytes())
                    frame = pd.read_csv(data) if name.endswith(".csv") else pd.read_parquet(data)
                    reads.append((name, len(frame)))
                except Exception as err:  # noqa: BLE001 - any failure to read is what this test looks for
                    problems.append(f"{name}: {type(err).__name__}: {err}")
            time.sleep(0.05)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        finished = cli([spec, "--storage", tmp_path / "store", "--set", "search.max_concurrent=4"], epoch_s=0.05)
    finally:
        done.set()
        thread.join()
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert not problems, problems[:5]
    assert len(reads) > 20, len(reads)  # the reader did look while the sweep ran
    epochs = pd.read_csv(out / "epochs.csv")
    assert not epochs.duplicated(["trial_id", "seed", "epoch"]).any()
    reported = set()
    for path in out.glob("trial_*/result.json"):
        for line in path.read_text().splitlines():
            result = json.loads(line)
            for seed, row in result["by_seed"].items():
                reported.add((result["trial_id"], int(seed), int(row["epoch"])))
    assert reported and set(zip(epochs["trial_id"], epochs["seed"], epochs["epoch"], strict=True)) == reported
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 60 and set(trials["status"]) == {"completed"}


def test_rows_since_the_last_rewrite_survive_a_kill_through_rays_state_saves(tmp_path, monkeypatch):
    """Whenever Ray saves its state the callback writes only the rows the tables lack (unwritten_epochs.jsonl), and
    a resumed callback reads them back with the tables; a trial the resume restores from an older checkpoint
    reports those epochs again, and each (trial, seed, epoch) stays one row."""
    from types import SimpleNamespace

    from lora_sweep.sweep import driver as sweep

    clock = [1000.0]
    monkeypatch.setattr("lora_sweep.sweep.write_schedule.time.monotonic", lambda: clock[0])
    trial = SimpleNamespace(trial_id="abc_00000", config={"trial": {"model": "m", "task": "sst2", "method": "lora",
                            "study": "m/sst2/lora-r8", "seeds": [0]}}, status="RUNNING")  # fmt: skip
    callback = sweep.ResultsCallback(tmp_path)
    callback.setup()
    try:
        for epoch in (1, 2, 3):
            clock[0] += 1.0  # one second per epoch: only the first report is rewritten into the tables at once
            row = {"epoch": epoch, "eval_accuracy": 0.5 + epoch / 10, "eval_loss": 1.0 / epoch}
            callback.on_trial_result(0, [trial], trial, {"by_seed": {"0": row}})
            callback.get_state()  # Ray saves after the trial's checkpoint
        assert pd.read_csv(tmp_path / "epochs.csv")["epoch"].tolist() == [1]
        assert len((tmp_path / sweep.UNWRITTEN).read_text().splitlines()) == 2
        # The driver is killed here. A resumed callback starts from the tables and the unwritten rows.
        resumed = sweep.ResultsCallback(tmp_path)
        resumed.setup()
        assert resumed.previous[1]["epoch"].tolist() == [1, 2, 3]
        for epoch in (2, 3):  # Ray's saved state recorded the checkpoint of epoch 1: epochs 2 and 3 run again
            row = {"epoch": epoch, "eval_accuracy": 0.5 + epoch / 10, "eval_loss": 1.0 / epoch}
            resumed.on_trial_result(0, [trial], trial, {"by_seed": {"0": row}})
        clock[0] += 10.0
        resumed.on_trial_complete(0, [trial], trial)  # a rewrite now: the tables take the rows, the file empties
        assert pd.read_csv(tmp_path / "epochs.csv")["epoch"].tolist() == [1, 2, 3]
        assert (tmp_path / sweep.UNWRITTEN).read_text() == ""
    finally:
        sweep.STOP.uninstall()

"""End-to-end sweeps through the CLI on a tiny model: results, Optuna, faults, resume after SIGKILL."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.dashboard_watch import run_watching_dashboard
from tests.sweep_support import cli_env, run_cli, start_cli, tiny_world, write_spec
from tests.tiny_models import save_tiny_config

pytestmark = pytest.mark.slow

TRIAL_COLUMNS = {
    "trial_id",
    "study",
    "model",
    "task",
    "method",
    "r",
    "alpha",
    "learning_rate",
    "epochs",
    "seed",
    "status",
    "error",
    "best_metric",
    "best_epoch",
    "epochs_run",
    "lora_params",
    "head_params",
    "trainable_params",
    "total_params",
    "train_time_s",
    "peak_memory_mb",
    "node",
}
EPOCH_COLUMNS = {
    "trial_id",
    "study",
    "epoch",
    "eval_accuracy",
    "eval_loss",
    "train_loss",
    "lr",
    "epoch_time_s",
    "train_samples_per_s",
    "peak_memory_mb",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return tiny_world(tmp_path_factory.mktemp("world"))


def test_grid_sweep_with_asha_writes_results_and_report(world, tmp_path):
    model, glue = world
    mlflow_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    spec = write_spec(
        tmp_path / "s.yaml",
        model,
        scheduler={"type": "asha", "grace_period": 1, "reduction_factor": 2},
        variants=[
            {"method": "full", "learning_rate": {"grid": [1e-3, 1e-6]}},
            {"method": "lora", "r": {"grid": [2, 4]}, "learning_rate": 5e-3},
        ],
        tracking={"mlflow": mlflow_uri, "experiment": "tiny-mlflow"},
        keep_full_models=True,
    )
    # The dashboard's Jobs and Actors views are read while the sweep runs.
    done, jobs, actors = run_watching_dashboard([str(spec), "--storage", str(tmp_path / "store")], glue, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = tmp_path / "store" / "tiny"
    trials = pd.read_parquet(out / "trials.parquet")
    epochs = pd.read_csv(out / "epochs.csv")
    assert TRIAL_COLUMNS <= set(trials.columns) and EPOCH_COLUMNS <= set(epochs.columns)
    assert sorted(trials["study"]) == sorted(
        [f"{model}/sst2/full"] * 2 + [f"{model}/sst2/lora-r2", f"{model}/sst2/lora-r4"]
    )
    assert trials["trial_id"].is_unique and set(trials["status"]) <= {"completed", "early_stopped"}
    # Full fine-tuning is not duplicated across ranks: its rows carry no rank.
    assert trials.loc[trials["method"] == "full", "r"].isna().all()
    assert (trials.loc[trials["method"] == "lora", "lora_params"] > 0).all()
    # One epoch row per trial-epoch, and best metrics match the epoch rows.
    assert len(epochs) == trials["epochs_run"].sum()
    for _, row in trials.iterrows():
        mine = epochs[epochs["trial_id"] == row["trial_id"]]
        assert row["best_metric"] == pytest.approx(mine["eval_accuracy"].max())
    for name in ("spec.yaml", "versions.json", "sweep.json", "report.html", "rank_vs_accuracy.md"):
        assert (out / name).is_file(), name
    assert json.loads((out / "versions.json").read_text())["ray"]
    assert "best configuration per study" in done.stdout and "report:" in done.stdout
    # Tokenized once for the sweep (one model, one task), not once per trial.
    assert done.stdout.count("[lora_sweep] tokenized") == 1
    # The live view: settings and score as columns, short trial folders (study and trial number).
    assert _columns(done.stdout) == STATUS_COLUMNS
    folders = sorted(p.name for p in out.glob("trial_*"))
    assert [f.split("_", 2)[2] for f in folders] == [
        f"{model.name}-sst2-{s}" for s in ("full", "full", "lora-r2", "lora-r4")
    ]
    assert all(len(f) <= 80 for f in folders), folders
    _check_dashboard(jobs, actors, spec, folders)
    _check_mlflow(mlflow_uri, trials, epochs)
    _check_adapters(out, model, glue, trials, epochs)
    _check_full_model(out, model, glue, trials, epochs)
    # TensorBoard's HParams tab: each trial's settings as separate columns in the event file Ray wrote.
    lora = next(f for f in out.glob("trial_*") if f.name.endswith("lora-r4"))
    hparams = _hparams(next(lora.glob("events.out.tfevents*")))
    assert hparams["trial/method"] == "lora" and hparams["trial/r"] == 4 and hparams["trial/learning_rate"] == 5e-3


def _check_dashboard(jobs: dict, actors: dict, spec: Path, folders: list[str]) -> None:
    """Jobs view: the driver's job is named after the sweep (metadata job_name) and names its spec. Actors view:
    each trial actor's repr names the sweep and the trial it ran first (Ray reads a repr once; actors are reused)."""
    named = [j for j in jobs.values() if (j.get("metadata") or {}).get("job_name") == "tiny"]
    assert len(named) == 1, [j.get("metadata") for j in jobs.values()]
    assert named[0]["type"] == "DRIVER" and named[0]["metadata"]["lora_sweep_spec"].endswith(spec.name), named
    mine = [a for a in actors.values() if a["job_id"] == named[0]["job_id"]]
    trial_actors = [a for a in mine if a["class_name"] == "ImplicitFunc"]
    reprs = sorted({a["repr_name"] for a in trial_actors})
    assert trial_actors and all(re.fullmatch(r"tiny worker \((trial_\d{5}_\S+) first\)", r) for r in reprs), reprs
    assert {r.split("(")[1].split(" ")[0] for r in reprs} <= set(folders), (reprs, folders)


def _hparams(events: Path) -> dict:
    """The HParams plugin's session_start_info in a TensorBoard event file (TFRecord framing, read by hand)."""
    import struct

    from tensorboardX.proto import event_pb2, plugin_hparams_pb2

    data, pos, found = events.read_bytes(), 0, {}
    while pos < len(data):
        (length,) = struct.unpack("<Q", data[pos : pos + 8])
        event = event_pb2.Event.FromString(data[pos + 12 : pos + 12 + length])
        pos += 12 + length + 4
        for value in event.summary.value:
            if value.metadata.plugin_data.plugin_name == "hparams":
                info = plugin_hparams_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
                for key, v in info.session_start_info.hparams.items():
                    found[key] = getattr(v, v.WhichOneof("kind"))
    return found


def _check_adapters(out: Path, model: Path, glue: Path, trials: pd.DataFrame, epochs: pd.DataFrame) -> None:
    """Each LoRA study's best adapter in PEFT's format, which PeftModel loads to the dev metric the sweep reported
    (lora_sweep.evaluate.measure: PeftModel.from_pretrained on the base model, then the trial's evaluation)."""
    from lora_sweep.cli.evaluate import measure

    folders = sorted(p.name for p in (out / "adapters").iterdir())
    assert folders == [f"{model.name}-sst2-lora-r2", f"{model.name}-sst2-lora-r4"], folders  # .trials removed
    for r in (2, 4):
        folder = out / "adapters" / f"{model.name}-sst2-lora-r{r}"
        config = json.loads((folder / "adapter_config.json").read_text())
        assert config["base_model_name_or_path"] == str(model) and config["r"] == r  # the name the spec gave
        assert (folder / "tokenizer_config.json").is_file()
        card = (folder / "README.md").read_text()
        assert f"python -m lora_sweep.train --model {model} --task sst2 --method lora --r {r}" in card
        row = trials[(trials["method"] == "lora") & (trials["r"] == r)].iloc[0]
        reported = epochs[(epochs["trial_id"] == row["trial_id"]) & (epochs["epoch"] == row["best_epoch"])].iloc[0]
        metrics = measure(folder, str(glue))["measured"]
        assert metrics["eval_accuracy"] == reported["eval_accuracy"]
        assert metrics["eval_loss"] == pytest.approx(reported["eval_loss"], rel=1e-5)


def _check_full_model(out: Path, model: Path, glue: Path, trials: pd.DataFrame, epochs: pd.DataFrame) -> None:
    """keep_full_models: the full study's best model, as save_pretrained writes it, loads to the reported metric
    (measured with `python -m lora_sweep.evaluate`, which loads it with AutoModelForSequenceClassification)."""
    from analysis.configs import best_configurations, configurations, with_config_ids

    assert sorted(p.name for p in (out / "models").iterdir()) == [f"{model.name}-sst2-full"]
    folder = out / "models" / f"{model.name}-sst2-full"
    assert "# Fully fine-tuned model" in (folder / "README.md").read_text()
    full = with_config_ids(trials[trials["method"] == "full"])
    best = best_configurations(configurations(full), ["study"]).iloc[0]
    row = full[full["config"] == best["config"]].iloc[0]
    reported = epochs[(epochs["trial_id"] == row["trial_id"]) & (epochs["epoch"] == row["best_epoch"])].iloc[0]
    done = subprocess.run(
        [sys.executable, "-m", "lora_sweep.evaluate", str(folder)], capture_output=True, text=True, env=cli_env(glue)
    )
    assert done.returncode == 0, done.stderr[-2000:]
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    assert measured["epoch"] == row["best_epoch"] and measured["method"] == "full"
    assert measured["measured"]["eval_accuracy"] == reported["eval_accuracy"]
    assert measured["measured"]["eval_loss"] == pytest.approx(reported["eval_loss"], rel=1e-5)
    assert measured["reported"]["eval_accuracy"] == reported["eval_accuracy"]


def _check_mlflow(uri: str, trials: pd.DataFrame, epochs: pd.DataFrame) -> None:
    """The tracking section: one MLflow run per trial (named like its folder) with its settings, and its score
    at every epoch it ran (one seed here, so the score is that seed's accuracy)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("tiny-mlflow")
    runs = {run.info.run_name.split("_")[1]: run for run in client.search_runs([experiment.experiment_id])}
    assert sorted(runs) == sorted(t.split("_")[1] for t in trials["trial_id"])
    for _, trial in trials.iterrows():
        run = runs[trial["trial_id"].split("_")[1]]
        assert run.info.status == "FINISHED"
        params = run.data.params
        assert (
            params["trial/method"] == trial["method"] and float(params["trial/learning_rate"]) == trial["learning_rate"]
        )
        history = client.get_metric_history(run.info.run_id, "score")
        mine = epochs[epochs["trial_id"] == trial["trial_id"]].sort_values("epoch")
        assert [m.value for m in history] == mine["eval_accuracy"].tolist()
        assert len(history) == trial["epochs_run"]


def test_optuna_sweep_runs_each_arm_and_keeps_its_study_in_sqlite(world, tmp_path):
    import optuna

    model, glue = world
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    spec = write_spec(
        tmp_path / "s.yaml",
        model,
        variants=[{"method": "lora", "r": {"grid": [2, 4]}, "learning_rate": {"loguniform": [1e-4, 1e-2]}}],
        train={"epochs": 1, "batch_size": 16, "max_length": 32},
        search={"algorithm": "optuna", "num_samples": 2, "sampler_seed": 3, "max_concurrent": 2, "storage": url},
    )
    done = run_cli([str(spec), "--storage", str(tmp_path / "store")], glue)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    trials = pd.read_csv(tmp_path / "store" / "tiny" / "trials.csv")
    assert trials["study"].value_counts().to_dict() == {f"{model}/sst2/lora-r2": 2, f"{model}/sst2/lora-r4": 2}
    assert trials["learning_rate"].between(1e-4, 1e-2).all() and trials["learning_rate"].nunique() == 4
    assert _columns(done.stdout) == STATUS_COLUMNS  # Optuna's settings are top-level keys, not under "trial"
    # The study outlives the sweep in the SQLite file (what optuna-dashboard reads), named after the sweep.
    study = optuna.load_study(study_name="tiny", storage=url)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 4
    drawn = sorted(v for t in study.trials for k, v in t.params.items() if k.endswith("/learning_rate"))
    assert drawn == pytest.approx(sorted(trials["learning_rate"]))
    # A new sweep of that name does not mix its trials into the old study (the results folder is gone here).
    shutil.rmtree(tmp_path / "store")
    again = run_cli([str(spec), "--storage", str(tmp_path / "store")], glue)
    assert again.returncode == 2 and "Optuna study named 'tiny' exists" in again.stderr, again.stderr
    assert not (tmp_path / "store").exists() and len(optuna.load_study(study_name="tiny", storage=url).trials) == 4


STATUS_COLUMNS = [
    "Trial name",
    "status",
    "loc",
    "model",
    "task",
    "method",
    "r",
    "lr",
    "seeds",
    "epoch",
    "score",
    "min",
    "max",
]


def _columns(stdout: str) -> list[str]:
    """The header of Ray's last status table."""
    header = [line for line in stdout.splitlines() if line.startswith("| Trial name")][-1]
    return [cell.strip() for cell in header.strip("|").split("|")]


def test_failing_trial_is_retried_then_recorded_and_others_finish(world, tmp_path):
    model, glue = world
    # A folder with only config.json passes the checks before start, then every attempt to load it fails.
    missing = Path(save_tiny_config("bert", tmp_path / "no-such-model"))
    spec = write_spec(
        tmp_path / "s.yaml",
        model,
        max_failures=1,
        experiments=[{"model": str(model), "task": "sst2"}, {"model": str(missing), "task": "sst2"}],
        variants=[{"method": "lora", "r": 2, "learning_rate": 5e-3}],
    )
    done = run_cli([str(spec), "--storage", str(tmp_path / "store")], glue)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    out = tmp_path / "store" / "tiny"
    trials = pd.read_csv(out / "trials.csv").set_index("model")
    assert trials.loc[str(model), "status"] == "completed"
    bad = trials.loc[str(missing)]
    assert bad["status"] == "error" and "no-such-model" in bad["error"]
    assert "failed:" in done.stdout
    # Retried as configured: Ray counts the failures in its experiment state.
    state = json.loads(next(out.glob("experiment_state-*.json")).read_text())
    failures = [json.loads(t[1])["num_failures"] for t in state["trial_data"] if "no-such-model" in t[0]]
    assert failures == [2]


def _completed(out) -> set[str]:
    path = out / "trials.csv"
    if not path.is_file():
        return set()
    try:
        trials = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError):  # pragma: no cover - files are written atomically
        raise
    return set(trials.loc[trials["status"] == "completed", "trial_id"])


def _result_lines(out, trial_id: str) -> int:
    """Lines of the trial's result.json in the results folder (0 before Ray has synced it there)."""
    number = trial_id.rsplit("_", 1)[-1]  # trial folders are trial_<number>_<study> (sweep/progress.py)
    folder = next((p for p in out.iterdir() if p.is_dir() and p.name.startswith(f"trial_{number}_")), None)
    path = folder / "result.json" if folder else None
    return len(path.read_text().splitlines()) if path and path.is_file() else 0


def test_resume_after_sigkill_finishes_without_rerunning(world, tmp_path):
    model, glue = world
    spec = write_spec(
        tmp_path / "s.yaml",
        model,
        variants=[{"method": "lora", "r": {"grid": [2, 4, 8]}, "learning_rate": {"grid": [5e-3, 1e-3]}}],
        train={"epochs": 3, "batch_size": 8, "max_length": 32},
        search={"algorithm": "grid", "max_concurrent": 1},
    )
    store = tmp_path / "store"
    out = store / "tiny"
    driver = start_cli([str(spec), "--storage", str(store)], glue, tmp_path / "first.log")
    deadline = time.time() + 240
    while len(_completed(out)) < 2 and time.time() < deadline and driver.poll() is None:
        time.sleep(0.5)
    assert driver.poll() is None, "the sweep ended before it could be interrupted"
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    before = _completed(out)
    assert len(before) >= 2

    done = run_cli([str(spec), "--storage", str(store), "--resume"], glue)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    trials = pd.read_csv(out / "trials.csv")
    epochs = pd.read_csv(out / "epochs.csv")
    assert len(trials) == 6 and trials["trial_id"].is_unique
    assert (trials["status"] == "completed").all()
    assert not epochs.duplicated(["trial_id", "epoch"]).any()
    assert len(epochs) == 6 * 3
    # Finished trials were not run again: their result.json holds one line per epoch, none appended. (Counted
    # after the resume: at the kill, Ray may not yet have copied a just-finished trial's file to the folder.)
    assert {t: _result_lines(out, t) for t in before} == {t: 3 for t in before}

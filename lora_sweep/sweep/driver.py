"""Run a sweep: connect to or start Ray, prepare data once, build and run (or resume) the Tuner, write results.

Ray is imported here and in the modules that talk to it: scheduler, trial, checkpoints, cluster, progress,
state_snapshot, bench_scale and standin; the training function never imports it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import ray
from ray import tune
from ray.tune.search import ConcurrencyLimiter

from lora_sweep.cluster import join as cluster
from lora_sweep.cluster import ray_ports, ray_reaper
from lora_sweep.results import adapters, provenance, storage
from lora_sweep.results import folder as results_folder
from lora_sweep.results import rows as results
from lora_sweep.spec import optuna_store, redact, space
from lora_sweep.spec.spec import SpecError, SweepSpec
from lora_sweep.sweep import checkpoints, dashboard_names, progress, progress_board, relocate, state_snapshot
from lora_sweep.sweep.scheduler import FairASHA, flush_all
from lora_sweep.sweep.trial_body import run_trial, share_data
from lora_sweep.sweep.write_schedule import WriteSchedule
from lora_sweep.trial import fingerprints
from lora_sweep.trial.seeds import BY_SEED, SCORE
from lora_sweep.trial.train import data_key, prepare_data

# Fair ASHA's rungs (JSON), kept beside the tables so --resume continues the race. Not named *.json: on restore Ray
# copies every *.json and *.pkl at the experiment's top level into its staging folder and uploads that copy again at
# every snapshot, over the newer file (seen with Ray 2.60: the rungs recorded after a resume were lost).
ASHA_STATE = "fair_asha.state"
UNWRITTEN = "unwritten_epochs.jsonl"  # epoch rows reported since the last table rewrite (ResultsCallback.get_state)


@dataclass(frozen=True)
class SweepOutcome:
    results_dir: Path | str  # a local folder, or a storage URI
    trials: object  # pandas.DataFrame
    report: Path | str | None
    interrupted: int | None = None  # the signal that stopped the sweep (SIGINT or SIGTERM), if one did
    unfinished: bool = False  # trials left interrupted or pending although no signal was received


def results_dir(spec: SweepSpec) -> Path | str:
    """Where the tables go: beside Ray's experiment, <storage>/<name>, a local folder or a storage URI (storage.py).

    The storage folder is resolved, the sweep's own folder is not: a symlink there stays visible as one.
    """
    if spec.storage.lower().startswith("file://"):  # a local folder after all: local rules (symlinks, overwrite)
        return Path(spec.storage[len("file://") :]).expanduser().resolve() / spec.name
    if storage.is_uri(spec.storage):
        return storage.join(spec.storage, spec.name)
    return Path(spec.storage).expanduser().resolve() / spec.name


def storage_path(spec: SweepSpec) -> str:
    return spec.storage if "://" in spec.storage else str(Path(spec.storage).expanduser().resolve())


def start_ray(spec: SweepSpec, log=print, spec_path: str = "") -> str | None:
    """Connect to spec.address or start a local instance on loopback; return the dashboard URL.

    A local instance: every port on 127.0.0.1 (ray_ports), its token kept unless the spec says ray.auth: disabled,
    and a reaper that ends its processes when the driver goes, even by SIGKILL (ray_reaper). The driver's job
    metadata names the sweep in the dashboard's Jobs view (dashboard_names).
    """
    say = ray_ports.exposure_line(spec)
    if say:
        print(f"[lora_sweep] {say}", file=sys.stderr)
    if cluster.joining(spec):  # ray.init(address=None) joins $RAY_ADDRESS's cluster
        ray_ports.warn_cluster_auth(spec, lambda line: print(line, file=sys.stderr))
        # with the project's code and settings as runtime_env (cluster.py)
        context = cluster.join(spec.address, dashboard_names.job_config(spec, spec_path))
    else:
        context = _start_local(spec, dashboard_names.job_config(spec, spec_path))
    url = getattr(context, "dashboard_url", None)
    return f"http://{url}" if url and not url.startswith("http") else url


def _start_local(spec: SweepSpec, job_config):
    ray_ports.check_local_auth(spec)
    say = lambda line: print(line, file=sys.stderr)  # noqa: E731
    port = spec.dashboard_port
    if spec.include_dashboard:
        port = ray_ports.dashboard_port_to_ask(spec.dashboard_host, port, say)
    marker = uuid.uuid4().hex
    os.environ[ray_reaper.MARKER_ENV] = marker  # inherited by every process of the instance, for the reaper
    try:
        with ray_ports.loopback_only():
            context, port = _init_local(spec, port, marker, say, job_config)
    finally:
        os.environ.pop(ray_reaper.MARKER_ENV, None)
    if spec.include_dashboard and port is None:
        ray_ports.say_dashboard_port(spec, getattr(context, "dashboard_url", None), say)
    _start_reaper(marker)
    return context


def _init_local(spec: SweepSpec, port: int | None, marker: str, say, job_config):
    for attempt in (1, 2):
        try:
            context = ray.init(
                # "local": a new instance; None would join the latest `ray start` cluster on this machine
                # (/tmp/ray/ray_current_cluster), someone else's included.
                address="local",
                include_dashboard=spec.include_dashboard,
                dashboard_host=spec.dashboard_host,
                dashboard_port=port,
                _node_ip_address="127.0.0.1",
                log_to_driver=False,
                job_config=job_config,
            )
            return context, port
        except Exception as err:
            # Another run took the port between the check and Ray's bind: end the half-started instance and
            # let Ray pick a free port.
            if attempt == 2 or not port or not ray_ports.dashboard_port_taken(err):
                raise
            ray.shutdown()
            ray_reaper.reap(marker, "", os.getpid(), deadline_s=30)
            say(f"[lora_sweep] dashboard port {port} was taken while Ray started; retrying on a free port")
            port = 0
    raise AssertionError("unreachable")


_REAPER: list = []  # the reaper's pipe stays open while this driver lives; the kernel closes it on any exit


def _start_reaper(marker: str) -> None:
    session = ray._private.worker._global_node.get_session_dir_path()
    reaper = subprocess.Popen(
        [sys.executable, "-m", "lora_sweep.cluster.ray_reaper", str(os.getpid()), marker, session],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    _REAPER.append(reaper)


def stop_ray() -> None:
    """ray.shutdown, then let the reaper make sure nothing of the local instance is left."""
    ray.shutdown()
    while _REAPER:
        reaper = _REAPER.pop()
        reaper.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            reaper.wait(timeout=30)


def check_cluster_resources(spec: SweepSpec, log=print) -> None:
    """A trial no single node can hold would wait forever: refuse it now (on a cluster, probe every node first)."""
    if cluster.joining(spec):
        cluster.check_nodes(spec, storage_path(spec), log)
    cluster.check_resources(spec, log)


def enumerate_configs(spec: SweepSpec) -> list[dict]:
    """Every trial config the sweep can produce before it runs (grid: all; Optuna: each arm's fixed part)."""
    if spec.algorithm == "grid":
        return space.grid_trials(spec)
    return [{**arm.base(), "seed": spec.seeds[0], "study": space.study_name(arm.base())} for arm in space.arms(spec)]


def prepare_shared_data(configs: list[dict], log=print) -> dict:
    """Tokenize once per (model, task, length, subsample) for the whole sweep; trials read it from Ray's store.

    Settings searched by distribution (unknown until sampled) fall back to preparing inside the trial.
    """
    prepared = {}
    for values in configs:
        cfg, _ = space.trial_config(values)
        key = data_key(cfg)
        if key in prepared:
            continue
        started = time.perf_counter()
        try:
            prepared[key] = prepare_data(cfg)
        except (OSError, ValueError) as err:
            # The trial will fail with the same reason and be recorded as errored; the others go on.
            log(f"[lora_sweep] could not prepare data for {cfg.model}/{cfg.task}: {str(err).splitlines()[0]}")
            continue
        data = prepared[key]
        log(
            f"[lora_sweep] tokenized {cfg.task} for {cfg.model}: {len(data.train.labels)} train, "
            f"{len(data.dev.labels)} dev examples in {time.perf_counter() - started:.1f} s"
        )
    return prepared


def _resources(config: dict) -> dict:
    values = config.get("trial", config)
    return {"cpu": values.get("cpu", 1), "gpu": values.get("gpu", 0)}


def make_tune_config(spec: SweepSpec) -> tune.TuneConfig:
    scheduler = relocate.FollowStorage()  # FIFO; a resumed sweep's trials follow a moved results folder
    if spec.scheduler:
        s = spec.scheduler
        state = storage.join(results_dir(spec), ASHA_STATE)
        scheduler = FairASHA(s["max_epochs"], s["grace_period"], s["reduction_factor"], state_file=state)
    searcher, num_samples = None, 1
    if spec.algorithm == "optuna":
        import optuna
        from ray.tune.search.optuna import OptunaSearch

        # A define-by-run space gets no metric/mode from TuneConfig (Ray passes them only with a param space).
        sampler = optuna.samplers.TPESampler(seed=spec.sampler_seed)
        searcher = OptunaSearch(
            space=space.optuna_space(spec),
            metric=SCORE,
            mode="max",
            sampler=sampler,
            # search.storage: the study lives in that database too, named after the sweep (optuna_store.py)
            storage=optuna_store.storage(spec.optuna_storage) if spec.optuna_storage else None,
            study_name=spec.name if spec.optuna_storage else None,
        )
        num_samples = space.planned_trials(spec)
        if spec.max_concurrent:
            searcher = ConcurrencyLimiter(searcher, max_concurrent=spec.max_concurrent)
    max_concurrent = spec.max_concurrent if spec.algorithm == "grid" else None
    return tune.TuneConfig(
        metric=SCORE,
        mode="max",
        scheduler=scheduler,
        search_alg=searcher,
        num_samples=num_samples,
        max_concurrent_trials=max_concurrent,
        trial_name_creator=progress.trial_dirname,
        trial_dirname_creator=progress.trial_dirname,
        # One worker process runs trial after trial (same resources): torch, transformers and the shared data
        # are loaded once per worker, not once per trial (benchmark case 6).
        reuse_actors=True,
    )


def make_param_space(spec: SweepSpec) -> dict:
    return {"trial": tune.grid_search(space.grid_trials(spec))} if spec.algorithm == "grid" else {}


class ResultsCallback(tune.Callback):
    """Keeps a record per trial and rewrites the results tables as trials report and end: at most every few seconds
    (write_schedule.py), whenever Ray Tune saves its experiment state (get_state), and at the end.

    On a resumed sweep Ray restores callbacks without their state: the tables already written are read back, a
    trial that runs again starts from its earlier rows (so every epoch it ever reported stays in the tables),
    and rows of trials that do not run again are kept as they are. When a signal stopped the sweep (STOP), the
    trials that had not ended are `interrupted` (Ray's clean-up marks them TERMINATED), and planned configurations
    Ray had not yet created are written as `pending`.
    """

    def __init__(self, out_dir: Path | str, planned: list[dict] | None = None, clean=None):
        self.out_dir, self.clean = out_dir, clean
        self.planned = planned or []
        self.records: dict[str, results.TrialRecord] = {}
        self.previous = None
        self.schedule = WriteSchedule()
        self.unwritten: list[dict] = []  # epoch rows reported since the tables were last rewritten
        self.unwritten_kept = 0  # how many of them are in UNWRITTEN
        self.unwritten_on_disk = False  # UNWRITTEN holds rows (this run's or, after a resume, the last run's)

    def setup(self, **info):
        tables = results.read_tables(self.out_dir)
        self.records, self.previous = {}, results.with_unwritten(tables, storage.join(self.out_dir, UNWRITTEN))
        self.schedule = WriteSchedule()  # a resumed sweep restores this callback from a pickle
        self.unwritten, self.unwritten_kept, self.unwritten_on_disk = [], 0, self.previous is not tables
        STOP.install()  # Ray Tune's SIGINT handler is in place by now

    def _record(self, trial) -> results.TrialRecord:
        if trial.trial_id not in self.records:
            values = dict(trial.config.get("trial", trial.config))
            record = results.TrialRecord(trial.trial_id, values)
            epochs = self.previous[1] if self.previous is not None else None
            if epochs is not None and len(epochs) and "trial_id" in epochs:
                earlier = epochs[epochs["trial_id"] == trial.trial_id]
                record.add_rows([_clean(row) for row in earlier.to_dict("records")])
            self.records[trial.trial_id] = record
        return self.records[trial.trial_id]

    def on_trial_result(self, iteration, trials, trial, result, **info):
        shared = {k: result.get(k) for k in ("node", *fingerprints.PROVENANCE_KEYS) if k in result}
        rows = [{**row, **shared} for row in results.seed_rows(result, BY_SEED)]
        record = self._record(trial)
        record.add_rows(rows)
        self.unwritten += [results.epoch_row(trial.trial_id, record.config.get("study", ""), r) for r in rows]
        self._changed()

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._record(trial).ended = True
        self._changed()

    def on_trial_error(self, iteration, trials, trial, **info):
        record = self._record(trial)
        record.ended, record.error = True, _error_text(trial) or "trial raised an exception"
        self._changed()

    def _changed(self) -> None:
        self.schedule.changed()
        self.schedule.run_if_due(self.write)

    def on_step_end(self, iteration, trials, **info):
        self.schedule.run_if_due(self.write)  # a quiet spell after a report: the tables catch up within the interval

    def get_state(self):
        """Ray Tune is saving its experiment state: every result it will not report again is kept first. Ray
        saves every 10 s or more, so only the rows since the last rewrite are written then (UNWRITTEN, a small
        file); the tables themselves follow the schedule. A resume that restores a trial from an older checkpoint
        reports its later epochs again: each replaces the row of that (seed, epoch) (TrialRecord.add_rows)."""
        flush_all()  # Fair ASHA's rungs, as of this save (scheduler.py)
        if not self.schedule.run_if_due(self.write) and self.unwritten and len(self.unwritten) != self.unwritten_kept:
            lines = [json.dumps(redact.scrub(row, self.clean) if self.clean else row) for row in self.unwritten]
            storage.write_text(storage.join(self.out_dir, UNWRITTEN), "\n".join(lines) + "\n")
            self.unwritten_kept, self.unwritten_on_disk = len(self.unwritten), True
        return None

    def on_experiment_end(self, trials, **info):
        for trial in trials:
            record = self._record(trial)
            if record.ended or record.error:
                continue
            if STOP.received:  # Ray's clean-up after a signal marks running trials TERMINATED: they are not done
                record.interrupted = True
            elif trial.status == "TERMINATED":  # finished before a resume: Ray does not run it again
                record.ended = True
            elif trial.status == "ERROR":
                record.ended, record.error = True, _error_text(trial) or "trial raised an exception"
        if STOP.received:
            created = [dict(t.config.get("trial", t.config)) for t in trials]
            for index, values in enumerate(self.planned):
                if values not in created:
                    self.records[f"pending-{index}"] = results.TrialRecord("", dict(values))
        flush_all()
        self.schedule.run(self.write)

    def write(self):
        results.write_tables(list(self.records.values()), self.out_dir, previous=self.previous, clean=self.clean)
        if self.unwritten_on_disk:  # those rows are in the tables now
            storage.write_text(storage.join(self.out_dir, UNWRITTEN), "")
        self.unwritten, self.unwritten_kept, self.unwritten_on_disk = [], 0, False


def _clean(row: dict) -> dict:
    """A row read back from a table: NaN cells (columns other rows have) dropped."""
    return {k: v for k, v in row.items() if not (isinstance(v, float) and v != v)}


def _error_text(trial) -> str:
    path = getattr(trial, "error_file", None)
    if path and os.path.exists(path):
        lines = [ln for ln in Path(path).read_text(errors="replace").splitlines() if ln.strip()]
        return lines[-1] if lines else ""
    return str(getattr(trial, "error_msg", "") or "")


def write_run_info(spec: SweepSpec, out: Path | str, spec_path: str) -> None:
    """The spec as run, package versions and git revision (provenance.py), and sweep.json for the analysis."""
    import yaml

    clean = redact.scrubber(spec.record_paths)
    spec_text = yaml.safe_dump(redact.scrub(spec.raw, clean), sort_keys=False)
    storage.write_text(storage.join(out, "spec.yaml"), spec_text)
    storage.write_text(storage.join(out, provenance.VERSIONS_FILE), provenance.versions_json())
    info = json.dumps(redact.scrub(sweep_info(spec, spec_path), clean), indent=2)
    storage.write_text(storage.join(out, "sweep.json"), info)


def sweep_info(spec: SweepSpec, spec_path: str) -> dict:
    """sweep.json: what the analysis needs to know of the sweep, and what --resume must find unchanged."""
    return {
        "name": spec.name,
        "spec_file": spec_path,
        "mode": "max",
        "algorithm": spec.algorithm,
        "searched": space.searched_settings(spec),
        "searched_by_study": space.searched_by_study(spec),
        "seeds": list(spec.seeds),
        "scheduler": spec.scheduler,
        "n_trials_planned": space.planned_trials(spec),
        "n_seeds": len(spec.seeds),
    }


def check_resume_spec(spec: SweepSpec, out: Path | str) -> None:
    """--resume continues the same experiment: the searched settings must be those of the first run."""
    first = storage.join(out, "sweep.json")
    if not storage.is_file(first):
        return
    before = json.loads(storage.read_text(first))
    now = json.loads(json.dumps(sweep_info(spec, "")))  # tuples -> lists, as read back from JSON
    keys = ("algorithm", "scheduler", "searched_by_study", "seeds")
    differ = [k for k in keys if before.get(k) != now.get(k)]
    if differ:
        raise SpecError(
            f"--resume: the spec's {', '.join(differ)} differ from the first run's (in {first}); "
            "resume with the same spec, or start a new sweep with --name"
        )


class StopSignals:
    """Ctrl-C (SIGINT) and SIGTERM stop the sweep cleanly, and the sweep knows that they did.

    Ray Tune installs its own SIGINT handler when fit() starts (it saves the experiment and returns from fit()
    normally) and then stops the running trials as if they had completed. install() runs inside fit(), from the
    results callback's setup, after Ray Tune's handler is in place: both signals are noted, then handed to it.
    A second signal stops at once.
    """

    def __init__(self):
        self.received: int | None = None
        self._before: dict = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        tune_handler = signal.getsignal(signal.SIGINT)

        def on_signal(signum, frame):
            first, self.received = self.received is None, self.received or signum
            if first and callable(tune_handler) and tune_handler is not signal.default_int_handler:
                tune_handler(signal.SIGINT, frame)
            else:
                raise KeyboardInterrupt

        for sig in (signal.SIGINT, signal.SIGTERM):
            self._before.setdefault(sig, signal.getsignal(sig))
            signal.signal(sig, on_signal)

    def uninstall(self) -> None:
        for sig, handler in self._before.items():
            signal.signal(sig, handler)
        self._before = {}


STOP = StopSignals()  # one per driver process: Ray restores the results callback from a pickle on --resume


def run_sweep(spec: SweepSpec, spec_path: str, resume: bool = False, log=print) -> SweepOutcome:
    """Run (or resume) the sweep and write its results; the caller has checked the results folder."""
    out = results_dir(spec)
    if resume:
        check_resume_spec(spec, out)
    configs = enumerate_configs(spec)
    # Checkpointing every epoch is intended: do not warn about snapshot frequency on every trial.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    # Ray lists every checkpoint it keeps in the saved state: without their metrics that list stays small.
    os.environ.setdefault("TUNE_ONLY_STORE_CHECKPOINT_SCORE_ATTRIBUTE", "1")
    progress.use_column_reporter()
    dashboard = start_ray(spec, log, spec_path)
    board = progress_board.start()  # noqa: F841 - held for the sweep: the trials' steps within their epoch
    STOP.received = None
    try:
        check_cluster_resources(spec, log)
        if not storage.is_uri(out):
            out.mkdir(parents=True, exist_ok=True)
        # A resumed sweep keeps the first run's records.
        if not (resume and storage.is_file(storage.join(out, "sweep.json"))):
            write_run_info(spec, out, spec_path)
        seeds = len(spec.seeds)
        log(
            f"[lora_sweep] {space.planned_trials(spec)} configurations x {seeds} seed{'s' * (seeds > 1)} "
            f"in {len({c['study'] for c in configs})} studies"
        )
        if dashboard:
            log(f"[lora_sweep] Ray dashboard: {dashboard}")
        prepared = prepare_shared_data(configs, log)
        shared = share_data(prepared)  # one object per dataset in Ray's store, its arrays read zero-copy
        kept = adapters.kept_methods(spec.keep_full_models)
        trainable = tune.with_parameters(run_trial, prepared=shared, results=out, kept_methods=kept)
        trainable = tune.with_resources(trainable, _resources)
        trainable = dashboard_names.named_trainable(trainable, spec.name)  # the Actors view's repr
        clean = redact.scrubber(spec.record_paths)
        callback = ResultsCallback(out, configs if spec.algorithm == "grid" else [], clean)
        checkpoints.POLICY.keep = spec.keep_checkpoints
        experiment = os.path.join(storage_path(spec), spec.name)
        if resume:
            restored = state_snapshot.restore(out)  # one save's trial list and search state (state_snapshot.py)
            if restored:
                log(f"[lora_sweep] resuming from the experiment state saved in {state_snapshot.ARCHIVE}")
            tuner = tune.Tuner.restore(experiment, trainable, resume_unfinished=True, resume_errored=False)
            # The first run's callbacks and scheduler name its folder: write to this one (relocate.py).
            relocate.retarget(tuner, out, storage_path(spec), spec.name, storage.join(out, ASHA_STATE))
        else:
            run_config = tune.RunConfig(
                name=spec.name,
                storage_path=storage_path(spec),
                callbacks=[
                    callback,
                    checkpoints.CheckpointPruner(),
                    state_snapshot.StateSnapshot(out),
                    *tracking_callbacks(spec.tracking),
                ],
                failure_config=tune.FailureConfig(max_failures=spec.max_failures),
                # Ray keeps every checkpoint; CheckpointPruner deletes those no resume can need. num_to_keep=1
                # would make Ray save its whole experiment state after every checkpoint (checkpoints.py).
                checkpoint_config=tune.CheckpointConfig(num_to_keep=None),
                progress_reporter=progress.reporter(
                    nested=spec.algorithm == "grid", searched=list(space.searched_settings(spec))
                ),
                verbose=1,
            )
            tuner = tune.Tuner(
                trainable, param_space=make_param_space(spec), tune_config=make_tune_config(spec), run_config=run_config
            )
        try:
            tuner.fit()
        finally:
            STOP.uninstall()
        tables = results.read_tables(out)
        trials = tables[0] if tables is not None else results.build_tables([])[0]
    finally:
        stop_ray()
    # Ray Tune returns normally on Ctrl-C (STOP saw the signal). Unfinished trials without a signal are reported as
    # such, never as a signal that was not sent.
    interrupted, unfinished = STOP.received, _unfinished(trials)
    if tables is not None and not (interrupted or unfinished):  # unfinished trials keep their weights for --resume
        _export_adapters(out, tables, log)
    return SweepOutcome(out, trials, _build_report(out, log), interrupted, unfinished and not interrupted)


def _export_adapters(out, tables, log) -> None:
    try:
        adapters.export(out, *tables, log=log)
    except Exception as err:  # noqa: BLE001 - the results are written; an export failure must not lose them
        log(f"[lora_sweep] adapter export failed: {type(err).__name__}: {err}")


def _unfinished(trials) -> bool:
    return len(trials) > 0 and bool(trials["status"].isin(["interrupted", "pending", "running"]).any())


def _build_report(out: Path | str, log) -> Path | str | None:
    try:
        from analysis.report import build_report
    except ImportError:
        log("[lora_sweep] analysis package not importable; run python -m analysis.report later")
        return None
    try:
        return build_report(out)
    except Exception as err:  # the results are written; a report failure must not lose them
        log(f"[lora_sweep] report failed: {err}")
        return None


def remove_results(spec: SweepSpec) -> None:
    """--overwrite: remove this sweep's results folder, only what lora_sweep and Ray wrote (OverwriteRefused)."""
    results_folder.remove_results(results_dir(spec), spec.name, spec.storage)


def can_resume(spec: SweepSpec) -> bool:
    return tune.Tuner.can_restore(os.path.join(storage_path(spec), spec.name))


def tracking_callbacks(tracking: dict | None) -> list:
    """Ray Tune's MLflow logger for the spec's `tracking:` section (spec/tracking.py), or none."""
    if not tracking:
        return []
    from ray.air.integrations.mlflow import MLflowLoggerCallback

    return [MLflowLoggerCallback(tracking_uri=tracking["mlflow"], experiment_name=tracking["experiment"])]

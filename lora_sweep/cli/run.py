"""`lora-sweep run SPEC` (also `python -m lora_sweep.run SPEC`): validate a sweep spec, then run it on Ray Tune."""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys

from lora_sweep.cli import terminal
from lora_sweep.cli.args import verb_parser
from lora_sweep.cluster import ray_ports
from lora_sweep.results import storage
from lora_sweep.results.folder import OverwriteRefused
from lora_sweep.spec import optuna_store, redact, shipped, space
from lora_sweep.spec.spec import SpecError, SweepSpec, load_spec

EPILOG = """examples:
  lora-sweep run smoke                                   the shipped smoke sweep, local Ray
  lora-sweep run sweeps/glue_ranks.yaml --dry-run        the plan: studies, trials, parameter counts
  lora-sweep run smoke --set train.epochs=1 --set search.seeds=1
  lora-sweep run smoke --storage s3://bucket/sweeps      results and checkpoints in a bucket
  lora-sweep run smoke --resume                          continue an interrupted sweep of this name

exit codes: 0 every trial finished; 1 the sweep finished but some trials failed (their reasons are written);
2 bad spec or usage, before anything is started or written; 130 stopped by Ctrl-C (SIGINT), 143 by SIGTERM:
what had finished is written, unfinished trials are `interrupted` (or `pending`), and --resume continues."""


def _parser() -> argparse.ArgumentParser:
    p = verb_parser("run", "Run a LoRA vs full fine-tuning sweep with Ray Tune.", EPILOG)
    p.add_argument("spec", help=f"a spec file, or a shipped spec's name ({', '.join(shipped.names())})")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a spec key, e.g. --set train.batch_size=8 --set experiments.0.task=mrpc",
    )
    p.add_argument("--address", help="Ray cluster address (default: start a local instance)")
    p.add_argument("--storage", help="results and checkpoints: a shared path or cloud URI on a cluster")
    p.add_argument("--name", help="sweep name: the results folder under the storage path")
    p.add_argument("--resume", action="store_true", help="continue an interrupted sweep of this name")
    p.add_argument("--overwrite", action="store_true", help="replace an existing results folder of this name")
    p.add_argument("--dry-run", action="store_true", help="validate and print the plan; start nothing")
    p.add_argument("--debug", action="store_true", help="show the traceback of an unexpected error")
    p.add_argument(
        "--record-paths",
        action="store_true",
        help="keep absolute paths of this machine in tables and report (default: $GLUE_DIR/..., ~/..., ./...)",
    )
    p.add_argument(
        "--keep-checkpoints",
        action="store_true",
        help="keep the checkpoints of trials that ended (default: deleted once no resume can need them)",
    )
    return p


def _literal(args) -> dict:
    """--address, --storage and --name are taken as written (not YAML: `--name 2024`, `--storage ~` are strings)."""
    given = {"ray.address": args.address, "storage": args.storage, "name": args.name}
    return {key: value for key, value in given.items() if value is not None}


def check_local_resources(spec: SweepSpec) -> None:
    """Without a cluster address Ray starts on this machine, and a trial asking for more GPUs or CPUs than it has
    would wait forever: refuse it before Ray starts or anything is written (sweep.py checks a cluster later)."""
    if spec.address or os.environ.get("RAY_ADDRESS"):  # ray.init() joins $RAY_ADDRESS's cluster
        return
    variants = [v for e in spec.experiments for v in e.variants]
    cpus = os.cpu_count() or 1
    for v in variants:
        if v.cpu > cpus:
            raise SpecError(
                f"resources.cpu: a {v.method} trial asks for {v.cpu:g} CPUs but this machine has {cpus}; "
                f"must be <= {cpus}, or give ray.address (--address) of a larger cluster"
            )
    _check_local_memory(spec)
    if any(v.gpu > 0 for v in variants):
        import torch  # only when a GPU is asked for: importing torch takes seconds

        gpus = torch.cuda.device_count()
        for v in variants:
            if v.gpu > gpus:
                raise SpecError(
                    f"resources.gpu: a {v.method} trial asks for {v.gpu:g} GPUs but this machine has {gpus}; "
                    f"must be <= {gpus}, or give ray.address (--address) of a cluster with GPUs"
                )


def _check_local_memory(spec: SweepSpec) -> None:
    """Each study's trial memory estimate (cluster/memory.py) against this machine's memory, and against its
    smallest GPU's for trials that ask for a GPU (device auto or cuda)."""
    from lora_sweep.cli.plan import study_memory
    from lora_sweep.cluster import memory

    estimates = study_memory(spec)
    ram = memory.machine_bytes()
    gpu_studies = (
        {space.study_name(arm.base()) for arm in space.arms(spec) if arm.variant.gpu > 0}
        if any(v.gpu > 0 for e in spec.experiments for v in e.variants)
        else set()
    )
    vram = memory.gpu_bytes() if gpu_studies else None
    for study, need in estimates.items():
        if need is None:
            continue
        reason = memory.refusal(study, need, ram, "this machine") if ram else None
        if reason is None and study in gpu_studies and vram:
            reason = memory.refusal(study, need, vram, "its GPU")
        if reason:
            raise SpecError(reason)


def _print_best(trials, seeds: int) -> None:
    """Per study, the winner as the tables crown it (analysis/configs.py): the best median over a configuration's
    seeds, each seed's best epoch, a diverged seed as -inf, ranked only with all its planned seeds."""
    if trials is None or len(trials) == 0:
        return
    from analysis.configs import best_configurations, configurations

    configs = configurations(trials, planned=seeds)
    best = best_configurations(configs, by=["study"]).set_index("study")
    print("best configuration per study (median over seeds of each seed's best epoch):")
    for study in sorted(set(configs["study"])):
        if study not in best.index:
            statuses = ", ".join(sorted(set(trials.loc[trials["study"] == study, "status"].astype(str))))
            print(f"  {study}: no ranked configuration ({statuses}; a winner needs all {seeds} seeds finished)")
            continue
        row = best.loc[study]
        spread = f"min {row['min']:.1f}, max {row['max']:.1f}, " if int(row["n_seeds"]) > 1 else ""
        print(
            f"  {study}: {row['metric']} {row['score']:.1f} ({spread}{int(row['n_seeds'])} seeds, "
            f"{int(row['n_diverged'])} diverged; lr {row['learning_rate']:.2g})"
        )


def _checked_spec(args) -> SweepSpec:
    """Load and validate the spec, then check models and storage (preflight): all before Ray starts."""
    from lora_sweep.cluster import preflight

    flags = (["record_paths=true"] if args.record_paths else []) + (
        ["keep_checkpoints=true"] if args.keep_checkpoints else []
    )
    overrides = (*args.overrides, *flags)
    spec = load_spec(args.spec, overrides, literal=_literal(args))
    preflight.check(spec)
    return spec


def _dry_run(spec: SweepSpec) -> int:
    from lora_sweep.cli.plan import plan_lines

    print("\n".join(plan_lines(spec)))
    for check in (check_present, check_local_resources):
        try:
            check(spec)
        except SpecError as err:  # the plan may be meant for a cluster, or for later: say so; a dry run succeeds
            print(f"warning: {terminal.escaped(str(err))}", file=sys.stderr)
    return 0


def check_present(spec: SweepSpec) -> None:
    """The files trials will read (init_adapter, GLUE) and a local GPU for a cuda device (trial_inputs.py)."""
    from lora_sweep.cluster import trial_inputs

    trial_inputs.check_present(spec, local=not (spec.address or os.environ.get("RAY_ADDRESS")))


def main(argv: list[str] | None = None) -> int:
    # Everything printed (by lora_sweep, and by Ray through sys.stdout/stderr) has credentials in URIs masked.
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = redact.RedactingStream(stdout), redact.RedactingStream(stderr)
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = stdout, stderr


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    args.typed, args.spec = args.spec, shipped.resolve(args.spec)
    try:
        spec = _checked_spec(args)
        if args.dry_run:
            return _dry_run(spec)
        check_present(spec)
        check_local_resources(spec)
        ray_ports.check_local_auth(spec)
    except SpecError as err:
        terminal.error(f"{err}")
        return 2
    except Exception as err:  # noqa: BLE001 - no input may end in a traceback; --debug shows it
        if args.debug:
            raise
        what = (str(err).strip().splitlines() or [""])[0][:200]
        terminal.error(
            f"unexpected {type(err).__name__} while checking {args.spec}: {what}; look at the spec's keys "
            "(README, 'The spec'), or rerun with --debug for the traceback",
        )
        return 2
    from lora_sweep.sweep import driver as sweep  # imports Ray: only past validation

    out = sweep.results_dir(spec)
    try:  # a local folder or a storage URI (the first time a URI is reached: unreachable, no bucket, no access)
        resumable = args.resume and sweep.can_resume(spec)
        exists = not args.resume and storage.has_entries(out)
    except OSError as err:
        terminal.error(f"storage: cannot read {out}: {(str(err).splitlines() or [''])[0][:300]}")
        return 2
    if args.resume and not resumable:
        terminal.error(f"--resume: no interrupted sweep named '{spec.name}' under {spec.storage}")
        return 2
    if args.resume:
        from lora_sweep.results import resume_files

        try:  # what the first run wrote, read back before Ray starts (resume_files.py)
            resume_files.check(out, spec.name)
        except (resume_files.ResumeRefused, OSError) as err:
            terminal.error(f"{str(err).splitlines()[0] if str(err) else type(err).__name__}")
            return 2
    if exists:
        if not args.overwrite:
            terminal.error(
                f"results folder {out} exists; use --resume to continue it, --name NAME for a new "
                "sweep, or --overwrite to replace it",
            )
            return 2
        try:
            sweep.remove_results(spec)
        except OverwriteRefused as err:
            terminal.error(f"{err}")
            return 2
    try:
        optuna_store.check_fresh(spec, args.resume, args.overwrite)
    except SpecError as err:
        terminal.error(f"{err}")
        return 2
    from lora_sweep.results import provenance

    # runs.jsonl in the results folder: a line for this invocation, however it ends.
    clean = redact.scrubber(spec.record_paths)
    return provenance.record_invocation(out, lambda: _run(sweep, spec, args), argv, clean)


def _run(sweep, spec: SweepSpec, args) -> int:
    try:
        outcome = sweep.run_sweep(spec, args.spec, resume=args.resume)
    except SpecError as err:
        terminal.error(f"{err}")
        return 2
    trials = outcome.trials
    print(f"results: {outcome.results_dir} (trials.csv, epochs.csv, spec.yaml, versions.json, runs.jsonl)")
    resume = "lora-sweep run " + shlex.join([args.typed, "--name", spec.name, "--storage", spec.storage, "--resume"])
    if outcome.interrupted or outcome.unfinished:
        counts = trials["status"].value_counts().to_dict() if len(trials) else {}
        print("trials: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
        if not outcome.interrupted:  # e.g. Ray stopped trials it could not run: no signal is claimed
            terminal.error(f"some trials did not finish, no signal received; resume with {resume}")
            return 1
        print(f"interrupted ({signal.Signals(outcome.interrupted).name}): resume with {resume}", file=sys.stderr)
        return 128 + int(outcome.interrupted)
    if outcome.report:
        print(f"report: {outcome.report}")
    _print_best(trials, len(spec.seeds))
    failed = trials[trials["status"] == "error"] if len(trials) else trials
    for _, row in failed.iterrows():
        print(f"failed: {row['trial_id']} ({row['study']}): {row['error']}")
    counts = trials["status"].value_counts().to_dict() if len(trials) else {}
    print("trials: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    return 1 if len(failed) else 0


if __name__ == "__main__":
    from lora_sweep.cli.exit import exit_now

    exit_now(main())

"""python -m benchmarks.bench: issue 5's performance cases, each a ratio measured side by side in one run.

    python -m benchmarks.bench [--quick] [--json FILE] [--device cpu|cuda] [--cases 1,2,...] [--models a,b]

Prints the machine, versions, settings and a table (median ratio over repeats, min-max spread, target, met);
--json writes the same as {"machine", "versions", "settings", "cases": [{"name", "ratio", "target", "met",
"detail"}]}. "met" is null where a case only reports. The cases live in lora_sweep/bench_cases.py (1, 2, 4:
model steps), bench_trial.py (3, 5: SST-2 with MiniLM) and bench_sweep.py (6, 7: sweeps).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import os
import platform
import subprocess
import sys
import traceback
from pathlib import Path

import torch

from benchmarks import cases as bc

ALL_CASES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
PER_MODEL_CASES = (1, 2, 4)  # run once per --models entry; 3 and 5 use the trial model (MiniLM)
STEP = "forward, cross-entropy, backward, clip_grad_norm_(1.0), AdamW step, zero_grad (as train_and_evaluate)"


def make_settings(mode: str, device: str, glue_dir: str | None, **overrides) -> bc.Settings:
    """The presets: full (21 min on 2 CPU cores), quick (a few minutes), tiny (tests: seconds)."""
    presets = {
        "full": {},
        "quick": dict(
            repeats=3,
            steps=1,
            memory_steps=2,
            trial_samples=500,
            trial_repeats=1,
            padding_eval_samples=256,
            padding_repeats=2,
            sweep_train_samples=128,
            sweep_eval_samples=64,
            sweep_epochs=2,
            pack_samples=128,
            pack_repeats=1,
        ),
        "tiny": dict(
            models=("tiny:bert",),
            batch_size=2,
            seq_len=16,
            repeats=2,
            steps=1,
            memory_steps=1,
            trial_samples=64,
            trial_repeats=1,
            trial_eval_samples=64,
            trial_max_length=32,
            padding_eval_samples=64,
            padding_repeats=1,
            sweep_train_samples=0,
            pack_samples=32,
            pack_repeats=1,
        ),
    }
    values = dict(presets[mode], device=device, glue_dir=glue_dir)
    if device.startswith("cuda") and mode != "tiny":
        # Steps take milliseconds: a larger batch and length so that compute, not kernel launches, dominates.
        values.update(batch_size=32, seq_len=256, repeats=8 if mode == "full" else 4, steps=8, warmup=3)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return bc.Settings(**values)


def default_glue_dir() -> str | None:
    if os.environ.get("GLUE_DIR"):
        return os.environ["GLUE_DIR"]
    beside = bc.REPO_ROOT.parent / "shared" / "glue"
    return str(beside) if beside.is_dir() else None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = {
        "cpu": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "cpu_cores_usable": usable,
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "gpu": None,
    }
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, gpu_memory_gb=round(props.total_memory / 2**30, 1), cuda=torch.version.cuda)
    return info


def versions() -> dict:
    out = {"python": platform.python_version(), "torch": torch.__version__}
    for name in ("transformers", "peft", "accelerate", "datasets", "numpy"):
        try:
            out[name] = __import__(name).__version__
        except Exception:  # absent (e.g. datasets on a bare GPU image): say so rather than fail
            out[name] = None
    try:  # read-only: which revision was measured
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=bc.REPO_ROOT, capture_output=True, text=True, timeout=10)
        out["lora_sweep_git"] = rev.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        out["lora_sweep_git"] = None
    return out


_SWEEP_RESULTS: dict = {}


def _sweep_cases(s: bc.Settings) -> list[dict]:
    """Cases 6 and 7 share their three sweep runs: run them once per settings."""
    if s.sweep_train_samples < 1:
        names = ("6. sweep overhead", "7. ASHA trial-epochs")
        return [bc.not_run(n, "this preset runs no sweeps", case=c) for c, n in zip((6, 7), names, strict=True)]
    key = (s.sweep_train_samples, s.sweep_eval_samples, s.sweep_epochs, s.glue_dir)
    if key not in _SWEEP_RESULTS:
        from benchmarks.sweep import cases_sweep

        _SWEEP_RESULTS[key] = cases_sweep(s.glue_dir, *key[:3])
    return [dict(r, detail=dict(r["detail"])) for r in _SWEEP_RESULTS[key]]


def run_case(case: int, model: str | None, s: bc.Settings, memory: bool = True) -> dict:
    if case == 1:
        return bc.case_train_step(model, s, memory=memory)
    if case == 2:
        return bc.case_ours_vs_peft(model, s)
    if case == 3:
        from benchmarks.trial import case_trial_vs_trainer

        return case_trial_vs_trainer(s)
    if case == 4:
        return bc.case_merged_inference(model, s)
    if case == 5:
        from benchmarks.trial import case_dynamic_padding

        return case_dynamic_padding(s)
    if case in (6, 7):
        return _sweep_cases(s)[case - 6]
    if case in (8, 9, 10):
        from benchmarks import pack as bp

        return {8: bp.case_pack_throughput, 9: bp.case_bf16_trial, 10: bp.case_pack_memory}[case](s)
    raise ValueError(f"no benchmark case {case}; cases are {', '.join(map(str, ALL_CASES))}")


def run_all(cases: list[int], s: bc.Settings, memory: bool = True, log=print) -> list[dict]:
    """Run the chosen cases in order; a failing case becomes an "error: ..." row, not a crashed run."""
    results = []
    for case in cases:
        for model in s.models if case in PER_MODEL_CASES else (None,):
            label = f"case {case}" + (f" [{model}]" if model else "")
            log(f"running {label} ...")
            started = datetime.datetime.now()
            try:
                with contextlib.redirect_stdout(sys.stderr):  # Trainer prints its metrics: keep stdout the table
                    result = run_case(case, model, s, memory=memory)
            except Exception as err:
                traceback.print_exc()
                result = {
                    "name": f"{case}. {label}",
                    "ratio": None,
                    "target": None,
                    "met": None,
                    "detail": {"case": case, "status": f"error: {type(err).__name__}: {err}"},
                }
            for one in result if isinstance(result, list) else [result]:  # case 8: a result per pack size
                one["detail"]["seconds"] = (datetime.datetime.now() - started).total_seconds()
                log(f"  {format_row(one)}  ({one['detail']['seconds']:.0f} s)")
                results.append(one)
            bc.free_memory()
    return results


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def format_row(r: dict) -> str:
    d = r["detail"]
    spread = f"{d['ratio_min']:.3f}-{d['ratio_max']:.3f}" if "ratio_min" in d else "-"
    met = {True: "yes", False: "NO", None: "-"}[r["met"]]
    return f"{r['name']:<48} {_fmt(r['ratio']):>6}  {spread:<13} {r['target'] or 'report':<8} {met}"


def format_report(report: dict) -> str:
    m, v, s = report["machine"], report["versions"], report["settings"]
    gpu = f"{m['gpu']} ({m.get('gpu_memory_gb')} GiB, CUDA {m.get('cuda')})" if m["gpu"] else "none"
    lines = [
        f"lora_sweep benchmark, {s['mode']} run on {s['device']}, {report['started']}",
        f"load:     CPU pressure (some avg10) {m.get('cpu_pressure_before')}% before, "
        f"{m.get('cpu_pressure_after')}% after"
        + ("  BUSY MACHINE: these timings include other work" if m.get("busy") else ""),
        f"machine:  {m['cpu']}; {m['cpu_cores']} cores ({m['cpu_cores_usable']} usable); "
        f"torch threads {m['torch_threads']}; GPU {gpu}",
        "versions: "
        + ", ".join(f"{k} {val}" for k, val in v.items() if k != "lora_sweep_git")
        + f"; lora_sweep {str(v.get('lora_sweep_git'))[:10]}",
        f"settings: cases 1, 2, 4 on {', '.join(s['models'])}: batch {s['batch_size']} x seq {s['seq_len']}, "
        f"{s['repeats']} repeats x {s['steps']} steps per side, warmup {s['warmup']}, LoRA r={s['r']} "
        f"alpha={s['alpha']} dropout 0; cases 3, 5 on {s['trial_model']}: {s['trial_samples']} SST-2 train "
        f"sentences, {s['trial_repeats']} repeat(s), max_length {s['trial_max_length']}",
        f"          train step = {STEP}; sides alternate within each repeat; ratio = median of per-repeat "
        "ratios, spread = min-max",
        "",
        f"{'case':<48} {'ratio':>6}  {'spread':<13} {'target':<8} met",
    ]
    for r in report["cases"]:
        lines.append(format_row(r))
        d = r["detail"]
        lines.append(f"   {d.get('summary') or d.get('status')}")
    return "\n".join(lines)


def parse_cases(text: str) -> list[int]:
    try:
        cases = [int(c) for c in text.split(",") if c.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--cases takes numbers like 1,2,4; got {text!r}") from None
    bad = [c for c in cases if c not in ALL_CASES]
    if bad or not cases:
        raise argparse.ArgumentTypeError(f"--cases: choose from {', '.join(map(str, ALL_CASES))}; got {text!r}")
    return cases


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats and samples: a first look in a few minutes")
    p.add_argument("--tiny", action="store_true", help="tiny model and data: exercises the code paths (tests)")
    p.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="default: cuda if available")
    p.add_argument("--cases", type=parse_cases, default=list(ALL_CASES), help="e.g. 1,2,4 (default: all)")
    p.add_argument("--models", help="models for cases 1, 2, 4, e.g. random:roberta-base,random:deberta-v2-xlarge")
    p.add_argument("--batch-size", type=int, help="batch for cases 1, 2, 4 (default: 8 on CPU, 32 on CUDA)")
    p.add_argument("--seq-len", type=int, help="sequence length for cases 1, 2, 4 (default: 128 on CPU, 256 on CUDA)")
    p.add_argument("--repeats", type=int, help="side-by-side repeats for cases 1, 2, 4")
    p.add_argument("--steps", type=int, help="steps (forwards) timed per side in each repeat, cases 1, 2, 4")
    p.add_argument("--trial-samples", type=int, help="SST-2 training sentences for case 3 (default 4000)")
    p.add_argument("--trial-repeats", type=int, help="whole-trial repeats per side for case 3 (default 3)")
    p.add_argument("--glue-dir", default=default_glue_dir(), help="GLUE folder (default: $GLUE_DIR)")
    p.add_argument("--no-memory", action="store_true", help="skip case 1's memory subprocesses")
    p.add_argument("--memory-worker", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.memory_worker:  # internal: one side of case 1's memory measurement, in a fresh process
        print(json.dumps(bc.memory_worker(json.loads(args.memory_worker))))
        return 0
    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda":
        if not torch.cuda.is_available():
            print("error: --device cuda but torch sees no CUDA device", file=sys.stderr)
            return 2
        torch.backends.cuda.matmul.allow_tf32 = True  # as train_and_evaluate
        torch.backends.cudnn.allow_tf32 = True
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    model_list = tuple(m.strip() for m in args.models.split(",") if m.strip()) if args.models else None
    settings = make_settings(
        mode,
        device,
        args.glue_dir,
        models=model_list,
        batch_size=args.batch_size,
        seq_len=args.seq_len,
        repeats=args.repeats,
        steps=args.steps,
        trial_samples=args.trial_samples,
        trial_repeats=args.trial_repeats,
    )
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # Trainer and PEFT notices would bury the table
    report = {
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": machine_info(),
        "versions": versions(),
        "settings": {"mode": mode, **dataclasses.asdict(settings), "train_step": STEP},
    }
    from benchmarks.pack import BUSY_PRESSURE, cpu_pressure

    before = cpu_pressure()
    report["cases"] = run_all(args.cases, settings, memory=not args.no_memory, log=lambda m: print(m, file=sys.stderr))
    report["finished"] = datetime.datetime.now().isoformat(timespec="seconds")
    # A timing taken while something else runs measures the neighbour: say so (PSI "some avg10", %).
    after = cpu_pressure()
    busy = any(p is not None and p > BUSY_PRESSURE for p in (before, after))
    report["machine"].update(cpu_pressure_before=before, cpu_pressure_after=after, busy=busy)
    print(format_report(report))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

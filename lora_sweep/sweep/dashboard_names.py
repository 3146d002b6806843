"""What Ray's dashboard shows of a sweep: the sweep's name in the Jobs view, the sweep and a trial in the Actors view.

What Ray 2.60 lets a driver set (read in its code):
- Jobs view: its "Name" column is the `job_name` key of the job's metadata, which a driver gives in
  ray.init(job_config=JobConfig(metadata=...)). The sweep sets `job_name` (the sweep's name) and `lora_sweep_spec`
  (the spec file, written as in sweep.json). Under `ray job submit` the row is the submission's: Ray lays the
  submission's metadata over the driver's, and the view shows only the submission's, so the user names the job
  there (`ray job submit --metadata-json '{"job_name": "..."}'`); the sweep changes nothing of the submission.
- Actors view: Class (the trainable's class, `ImplicitFunc` for a function) and Repr, which Ray reads once from the
  actor class's __repr__, right after the actor's __init__ (its creation task), and never again; Ray Tune's
  function wrapper answers the function's name (`run_trial`). With reuse_actors one actor runs trial after trial,
  and no repr can follow the trial it runs now: the repr names the sweep and the worker by the first trial it ran,
  `<sweep> worker (<trial folder> first)`. A running trial's worker is the actor whose Pid is the pid in the
  status table's `loc` column.
"""

from __future__ import annotations

from lora_sweep.spec import redact
from lora_sweep.spec.spec import SweepSpec

JOB_NAME = "job_name"  # the dashboard's Jobs view shows this metadata key as the job's name
SPEC_KEY = "lora_sweep_spec"


def job_metadata(spec: SweepSpec, spec_path: str) -> dict[str, str]:
    """The driver's job metadata: the sweep's name, and its spec file (paths written as sweep.json writes them)."""
    metadata = {JOB_NAME: spec.name}
    if spec_path:
        metadata[SPEC_KEY] = redact.scrubber(spec.record_paths)(str(spec_path))
    return metadata


def job_config(spec: SweepSpec, spec_path: str):
    from ray.job_config import JobConfig

    return JobConfig(metadata=job_metadata(spec, spec_path))


def named_trainable(trainable, sweep: str):
    """Ray Tune's class for a function trainable, whose actors' repr names the sweep and their first trial.

    Wrapped here as Tune would wrap it (same trainable name, so --resume finds it), with __repr__ replaced on this
    class only.
    """
    from ray.tune.trainable import wrap_function

    cls = wrap_function(trainable)
    cls.__qualname__ = cls.__name__  # the Actors view's Class: ImplicitFunc, as Tune's own wrapping shows it
    cls._lora_sweep_name = sweep
    cls.__repr__ = worker_repr
    return cls


def worker_repr(self) -> str:
    info = getattr(self, "_trial_info", None)
    first = getattr(info, "trial_name", "") if info is not None else ""
    sweep = getattr(self, "_lora_sweep_name", "")
    return f"{sweep} worker ({first} first)" if first else f"{sweep} worker"

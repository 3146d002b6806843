"""The sweep spec: YAML -> a validated, frozen SweepSpec. Every error message about a spec lives here.

Errors are one line naming the key and what is allowed (SpecError, exit code 2 in the CLI), raised before
Ray starts or anything is written.
"""

from __future__ import annotations

import copy
import math
import os
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path

import yaml

from lora_sweep.spec import duplicates, limits, shape_count, tracking
from lora_sweep.spec.errors import SpecError
from lora_sweep.spec.optuna_store import check_url
from lora_sweep.trial.config import LORA_ONLY, METHODS, ConfigError, TrialConfig, suggest
from lora_sweep.trial.tasks import TASKS, get_task

TOP_KEYS = (
    "name",
    "experiments",
    "variants",
    "train",
    "search",
    "scheduler",
    "resources",
    "ray",
    "storage",
    "max_failures",
    "record_paths",
    "tracking",
    "keep_checkpoints",
    "keep_full_models",
)
SEARCH_KEYS = ("algorithm", "num_samples", "max_concurrent", "seeds", "sampler_seed", "max_trials", "storage")
SCHEDULER_KEYS = ("type", "max_epochs", "grace_period", "reduction_factor")
RESOURCE_KEYS = ("cpu", "gpu")
RAY_KEYS = ("address", "dashboard_host", "dashboard_port", "include_dashboard", "auth", "autoscaling")
DISTRIBUTIONS = ("grid", "choice", "uniform", "loguniform", "randint")
TRIAL_KEYS = tuple(f.name for f in fields(TrialConfig) if f.name not in ("extra", "model", "task", "method"))
VARIANT_KEYS = ("method", "resources", *TRIAL_KEYS)
LOCAL_FOLDERS = ("save_adapter", "init_adapter")  # trial settings naming a folder: made absolute on the driver
# Integer settings: a uniform/loguniform distribution would draw floats that every trial then rejects.
# Settings that name a study (space.study_name): a sampled value would not be known when the studies are planned.
STUDY_KEYS = ("r", "target_modules", "init_adapter", "revision", "data_revision", "data_seed")
INT_KEYS = tuple(f.name for f in fields(TrialConfig) if str(f.type).split(" ")[0] == "int")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
RAY_CLIENT_REFUSED = (
    "{address} is a Ray Client address, which lora_sweep does not use (the sweep's driver would run on the head node "
    "and write its results there); submit the sweep to the cluster instead: ray job submit --address "
    "http://HEAD:8265 -- python -m lora_sweep.run SPEC"
)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")  # a plain folder name: no '~', separator or '..'


class SpecLoader(yaml.SafeLoader):
    """safe_load plus YAML 1.2 floats: PyYAML reads `1e-3` (no dot) as a string, a trap for learning rates.

    A key given twice in one mapping is an error: PyYAML would silently keep the last one.
    """

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key '{key_node.value}'", key_node.start_mark
                    )
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?[eE][-+]?[0-9]+$|^[-+]?[0-9][0-9_]*\.[0-9_]*$|^[-+]?\.[0-9_]+$"),
    list("-+0123456789."),
)


def parse_yaml(text: str):
    """Parse YAML text safely (no tags that construct Python objects)."""
    return yaml.load(text, Loader=SpecLoader)


@dataclass(frozen=True)
class Setting:
    """A setting's values: fixed (one value), a grid or choice (values), or a distribution (low, high)."""

    kind: str  # "fixed" | one of DISTRIBUTIONS
    values: tuple = ()
    low: float | None = None
    high: float | None = None

    @property
    def searched(self) -> bool:
        return self.kind != "fixed"

    def describe(self) -> dict:
        if self.kind in ("grid", "choice", "fixed"):
            return {"type": self.kind, "values": list(self.values)}
        return {"type": self.kind, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Variant:
    method: str
    settings: dict  # key -> Setting (trial settings, LoRA ones only for LoRA)
    cpu: float
    gpu: float


@dataclass(frozen=True)
class Experiment:
    model: str
    task: str
    variants: tuple[Variant, ...]


@dataclass(frozen=True)
class SweepSpec:
    name: str
    experiments: tuple[Experiment, ...]
    algorithm: str  # "grid" | "optuna"
    num_samples: int
    max_concurrent: int | None
    seeds: tuple[int, ...]
    sampler_seed: int
    optuna_storage: str | None  # search.storage: an Optuna storage URL (optuna_store.py)
    scheduler: dict | None  # {"type": "asha", "max_epochs", "grace_period", "reduction_factor"}
    address: str | None
    dashboard_host: str
    dashboard_port: int
    include_dashboard: bool
    auth: str | None  # "disabled" allows RAY_AUTH_MODE=disabled for a local instance (ray_ports.check_local_auth)
    autoscaling: bool  # the cluster adds nodes on demand: a trial no node holds yet waits instead of being refused
    storage: str
    max_failures: int
    tracking: dict | None  # {"mlflow": tracking URI, "experiment": name} (tracking.py)
    record_paths: bool  # absolute paths of this machine kept in the results folder (redact.portable otherwise)
    raw: dict  # the spec as run (after --set), saved beside the results
    keep_checkpoints: bool = False  # keep ended trials' checkpoints (sweep/checkpoints.py deletes them otherwise)
    keep_full_models: bool = False  # export each full fine-tuning study's best model too (lora_sweep/adapters.py)


def _fail(key: str, message: str) -> None:
    raise SpecError(f"{key}: {message}")


def _check_keys(section: dict, allowed, where: str) -> None:
    if not isinstance(section, dict):
        _fail(where, f"must be a mapping, got {type(section).__name__}")
    for key in section:
        if key not in allowed:
            _fail(
                f"{where}.{key}".lstrip("."), f"unknown key; allowed: {', '.join(allowed)}{suggest(str(key), allowed)}"
            )


def _section(raw: dict, key: str) -> dict:
    """An optional mapping section; `train:` with nothing under it (None) counts as empty."""
    value = raw.get(key)
    return {} if value is None else value


def _number(value, key: str, integer: bool = False):
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if not ok or isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value)):
        _fail(key, f"got {value!r}; must be {'an integer' if integer else 'a number'}")
    return value


def parse_setting(value, key: str) -> Setting:
    """`8`, `{grid: [4, 8]}`, `{choice: [...]}`, `{loguniform: [1e-5, 1e-3]}`, `{uniform: [..]}`, `{randint: [..]}`."""
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in DISTRIBUTIONS:
        kind, args = next(iter(value.items()))
        if not isinstance(args, list) or not args:
            _fail(key, f"{kind} must be a non-empty list, got {args!r}")
        if kind in ("grid", "choice"):
            return Setting(kind, tuple(args))
        if len(args) != 2:
            _fail(key, f"{kind} must be [low, high], got {args!r}")
        low, high = (_number(a, key, integer=kind == "randint") for a in args)
        if low >= high:
            _fail(key, f"{kind} [low, high] must have low < high, got [{low}, {high}]")
        if kind == "loguniform" and low <= 0:
            _fail(key, f"loguniform low must be > 0, got {low}")
        return Setting(kind, (), low, high)
    if isinstance(value, dict) and key != "target_modules":
        _fail(key, f"must be a value or one of {{{', '.join(DISTRIBUTIONS)}: [...]}}, got keys {list(value)}")
    return Setting("fixed", (value,))


def _check_values(settings: dict, method: str, where: str) -> None:
    """Validate every fixed/grid/choice value and distribution bound through TrialConfig's own checks."""
    for key, setting in settings.items():
        if key in STUDY_KEYS and setting.kind not in ("fixed", "grid"):
            _fail(f"{where}.{key}", f"must be a value or a grid (each value is its own study), not {setting.kind}")
        if key in INT_KEYS and setting.kind in ("uniform", "loguniform"):
            _fail(f"{where}.{key}", f"{setting.kind} draws floats; an integer setting must use randint, grid or choice")
        candidates = list(setting.values) + [v for v in (setting.low, setting.high) if v is not None]
        for value in candidates:
            try:
                TrialConfig.from_dict({"method": method, key: value})
            except ConfigError as err:
                raise SpecError(f"{where}.{err}") from None


def parse_variant(raw, train: dict, resources: dict, where: str) -> Variant:
    _check_keys(raw, VARIANT_KEYS, where)
    method = raw.get("method")
    if method not in METHODS:
        _fail(f"{where}.method", f"got {method!r}; allowed: {', '.join(METHODS)}{suggest(str(method), METHODS)}")
    if method != "lora":
        for key in LORA_ONLY:
            if key in raw:
                _fail(f"{where}.{key}", f"applies only to method lora; a {method} variant must not set {key}")
    if "seed" in raw or "seed" in train:
        # The trial seed comes from search.seeds; a seed set here would be silently replaced.
        key = f"{where}.seed" if "seed" in raw else "train.seed"
        _fail(key, "must not be set here: trial seeds come from search.seeds (a count or a list)")
    # Shared train settings apply to every variant; LoRA-only ones are dropped for the others, so a full
    # fine-tuning trial is never duplicated across ranks.
    merged = {k: v for k, v in train.items() if method == "lora" or k not in LORA_ONLY}
    merged.update({k: v for k, v in raw.items() if k not in ("method", "resources")})
    settings = {k: parse_setting(v, f"{where}.{k}") for k, v in merged.items()}
    _check_values(settings, method, where)
    for key in LOCAL_FOLDERS:
        if key in settings:  # resolved here, on the driver: a trial runs in Ray's own working folder
            setting = settings[key]
            settings[key] = replace(setting, values=tuple(_absolute(v) for v in setting.values))
    own = _section(raw, "resources")
    _check_keys(own, RESOURCE_KEYS, f"{where}.resources")
    res = {**resources, **own}
    cpu = _number(res.get("cpu", 1), f"{where}.resources.cpu")
    gpu = _number(res.get("gpu", 0), f"{where}.resources.gpu")
    if cpu <= 0 or gpu < 0:
        _fail(f"{where}.resources", f"cpu must be > 0 and gpu >= 0, got cpu={cpu}, gpu={gpu}")
    for key, amount in (("cpu", cpu), ("gpu", gpu)):
        if amount and not limits.ray_quantity(amount):
            _fail(f"{where}.resources.{key}", f"got {amount}; Ray counts resources in steps of 0.0001: use one")
    return Variant(method, settings, cpu, gpu)


def _absolute(value):
    return os.path.abspath(os.path.expanduser(value)) if isinstance(value, str) and "://" not in value else value


def _check_saved_adapters(experiments, trainings: int) -> None:
    """train.save_adapter names one folder: in a sweep of many trainings each would overwrite the last."""
    if trainings > 1 and any("save_adapter" in v.settings for e in experiments for v in e.variants):
        _fail(
            "save_adapter",
            f"one folder for {trainings:,} trainings (configurations x seeds), each overwriting the last; leave it "
            "out of sweeps, or train one configuration with python -m lora_sweep.train --save-adapter DIR",
        )


def _as_list(value, key: str) -> list:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, str) and v for v in items):
        _fail(key, f"must be a name or a non-empty list of names, got {value!r}")
    return items


def _names(entry: dict, key: str, where: str) -> list:
    """`task: sst2` or `tasks: [sst2, mrpc]` (likewise model/models), never both."""
    if key in entry and f"{key}s" in entry:
        _fail(f"{where}.{key}s", f"give {key} or {key}s, not both; allowed: one name ({key}) or a list ({key}s)")
    return _as_list(entry.get(f"{key}s", entry.get(key)), f"{where}.{key}")


def local_model(name: str) -> str:
    """A local model folder as an absolute path, resolved here on the driver: trials run in their own working folder
    (and on other nodes), where a relative path would mean another folder or be taken for a hub id."""
    if name.startswith(("/", ".", "~")) or (":" not in name and name != "minilm" and os.path.isdir(name)):
        return str(Path(name).expanduser().resolve())
    return name


def parse_experiments(raw: dict) -> tuple[Experiment, ...]:
    entries = raw.get("experiments")
    if not isinstance(entries, list) or not entries:
        _fail("experiments", "must be a non-empty list of {model, task} or {models: [...], tasks: [...]}")
    train = _section(raw, "train")
    _check_keys(train, TRIAL_KEYS, "train")
    resources = _section(raw, "resources")
    _check_keys(resources, RESOURCE_KEYS, "resources")
    experiments = []
    for i, entry in enumerate(entries):
        where = f"experiments[{i}]"
        _check_keys(entry, ("model", "models", "task", "tasks", "train", "variants"), where)
        models = _names(entry, "model", where)
        tasks = _names(entry, "task", where)
        local_train = _section(entry, "train")
        _check_keys(local_train, TRIAL_KEYS, f"{where}.train")
        variants_raw = entry.get("variants", raw.get("variants"))
        if not isinstance(variants_raw, list) or not variants_raw:
            _fail(f"{where}.variants", "must be a non-empty list of variants (here or at the top level)")
        for task in tasks:
            try:
                task = get_task(task).name
            except ValueError:
                _fail(f"{where}.task", f"unknown GLUE task {task!r}; allowed: {', '.join(TASKS)}{suggest(task, TASKS)}")
            for model in models:
                variants = tuple(
                    parse_variant(v, {**train, **local_train}, resources, f"{where}.variants[{j}]")
                    for j, v in enumerate(variants_raw)
                )
                experiments.append(Experiment(local_model(model), task, variants))
    return tuple(experiments)


def parse_search(raw: dict) -> dict:
    search = _section(raw, "search")
    _check_keys(search, SEARCH_KEYS, "search")
    algorithm = search.get("algorithm", "grid")
    if algorithm not in ("grid", "optuna"):
        _fail(
            "search.algorithm", f"got {algorithm!r}; allowed: grid, optuna{suggest(str(algorithm), ['grid', 'optuna'])}"
        )
    num_samples = _number(search.get("num_samples", 1), "search.num_samples", integer=True)
    if num_samples < 1:
        _fail("search.num_samples", f"got {num_samples}; must be >= 1")
    concurrent = search.get("max_concurrent")
    if concurrent is not None and _number(concurrent, "search.max_concurrent", integer=True) < 1:
        _fail("search.max_concurrent", f"got {concurrent}; must be >= 1 or null")
    seeds = search.get("seeds", 1)
    if isinstance(seeds, int) and not isinstance(seeds, bool) and seeds >= 1:
        seeds = list(range(limits.seed_count(seeds, search)))
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
    ):
        _fail("search.seeds", f"got {seeds!r}; must be a count >= 1 or a list of integer seeds >= 0")
    if len(set(seeds)) != len(seeds):
        _fail("search.seeds", f"got {seeds!r}; each seed once (the seeds of a configuration are its replicates)")
    sampler_seed = _number(search.get("sampler_seed", 0), "search.sampler_seed", integer=True)
    if sampler_seed < 0:  # numpy (Optuna's TPE) rejects negative seeds
        _fail("search.sampler_seed", f"got {sampler_seed}; must be >= 0")
    if search.get("storage") is not None and algorithm != "optuna":
        _fail("search.storage", "an Optuna storage URL needs search.algorithm: optuna")

    return dict(
        algorithm=algorithm,
        num_samples=num_samples,
        max_concurrent=concurrent,
        seeds=tuple(seeds),
        sampler_seed=sampler_seed,
        optuna_storage=check_url(search.get("storage")),
    )


def parse_scheduler(raw: dict, experiments) -> dict | None:
    sched = raw.get("scheduler")
    if sched is None or sched == "none" or (isinstance(sched, dict) and sched.get("type", "asha") == "none"):
        return None
    _check_keys(sched, SCHEDULER_KEYS, "scheduler")
    if sched.get("type", "asha") != "asha":
        _fail("scheduler.type", f"got {sched.get('type')!r}; allowed: asha, none")
    max_epochs = max(_max_epochs(v) for e in experiments for v in e.variants)
    out = {
        "type": "asha",
        "max_epochs": sched.get("max_epochs", max_epochs),
        "grace_period": sched.get("grace_period", 1),
        "reduction_factor": sched.get("reduction_factor", 2),
    }
    for key in ("max_epochs", "grace_period", "reduction_factor"):
        if _number(out[key], f"scheduler.{key}", integer=True) < (2 if key == "reduction_factor" else 1):
            _fail(f"scheduler.{key}", f"got {out[key]}; must be >= {2 if key == 'reduction_factor' else 1}")
    if out["grace_period"] > out["max_epochs"]:
        _fail("scheduler.grace_period", f"got {out['grace_period']}; must be <= max_epochs ({out['max_epochs']})")
    return out


def _max_epochs(variant: Variant) -> int:
    setting = variant.settings.get("epochs")
    if setting is None:
        return TrialConfig().epochs
    high = setting.high - 1 if setting.kind == "randint" else setting.high  # randint's high is exclusive
    return int(max(list(setting.values) + [v for v in (setting.low, high) if v is not None]))


def parse_ray(raw: dict) -> dict:
    ray_cfg = _section(raw, "ray")
    _check_keys(ray_cfg, RAY_KEYS, "ray")
    port = _number(ray_cfg.get("dashboard_port", 8265), "ray.dashboard_port", integer=True)
    if not 0 <= port <= 65535:
        _fail("ray.dashboard_port", f"got {port}; must be a port number in [0, 65535]")
    address = ray_cfg.get("address")
    if address is not None and (not isinstance(address, str) or not limits.valid_address(address)):
        _fail(
            "ray.address",
            f"got {address!r}; must be a cluster address: auto or host:port (port 1-65535), or null",
        )
    if address is not None and address.startswith("ray://"):
        _fail("ray.address", RAY_CLIENT_REFUSED.format(address=address))
    host = ray_cfg.get("dashboard_host", "127.0.0.1")
    if not isinstance(host, str) or not limits.valid_host(host):
        _fail("ray.dashboard_host", f"got {host!r}; must be a host name or IP address")
    include = ray_cfg.get("include_dashboard", True)
    if not isinstance(include, bool):
        _fail("ray.include_dashboard", f"got {include!r}; must be true or false")
    auth = ray_cfg.get("auth")
    if auth not in (None, "token", "disabled"):
        _fail("ray.auth", f"got {auth!r}; allowed: token, disabled (Ray's token authentication)")
    autoscaling = ray_cfg.get("autoscaling", False)
    if not isinstance(autoscaling, bool):
        _fail("ray.autoscaling", f"got {autoscaling!r}; must be true or false")
    failures = _number(raw.get("max_failures", 0), "max_failures", integer=True)
    if failures < 0:
        _fail("max_failures", f"got {failures}; must be >= 0")
    return dict(
        address=address,
        dashboard_host=host,
        dashboard_port=port,
        include_dashboard=include,
        auth=auth,
        autoscaling=autoscaling,
        max_failures=failures,
    )


def parse_spec(raw, default_name: str) -> SweepSpec:
    """Validate a spec mapping (already loaded from YAML, with overrides applied)."""
    if not isinstance(raw, dict):
        _fail("spec", f"must be a YAML mapping, got {type(raw).__name__}")
    _check_keys(raw, TOP_KEYS, "")
    limits.check_values(raw)  # nesting, integer widths: before anything walks the spec recursively
    shape_count.check(raw)  # the trial count from the spec's shape: before anything is built (aliases, big grids)
    name = raw.get("name", default_name)
    if not isinstance(name, str) or not NAME.fullmatch(name):
        _fail(
            "name",
            f"got {name!r}; must be a non-empty folder name without '/', '~' or spaces "
            "(letters, digits, '.', '_', '-'; starting with a letter or digit)",
        )
    experiments = parse_experiments(raw)
    duplicates.check(experiments)
    storage = raw.get("storage", "results")
    if not isinstance(storage, str) or not storage:
        _fail("storage", f"got {storage!r}; must be a path or URI")
    search = parse_search(raw)
    trainings = limits.check_trial_count(
        experiments, _section(raw, "search"), search["algorithm"], search["num_samples"], len(search["seeds"])
    )
    seeds_apart = len(search["seeds"]) if search["algorithm"] != "grid" else 1  # grid counts include seeds
    _check_saved_adapters(experiments, trainings * seeds_apart)
    return SweepSpec(
        name=name,
        record_paths=_flag(raw, "record_paths"),
        tracking=tracking.parse(raw, name, _fail),
        experiments=experiments,
        **search,
        scheduler=parse_scheduler(raw, experiments),
        storage=storage,
        **parse_ray(raw),
        raw=copy.deepcopy(raw),
        keep_checkpoints=_flag(raw, "keep_checkpoints"),
        keep_full_models=_flag(raw, "keep_full_models"),
    )


def _flag(raw: dict, key: str) -> bool:
    """A top-level true/false setting (false when absent)."""
    value = raw.get(key, False)
    if not isinstance(value, bool):
        _fail(key, f"got {value!r}; must be true or false")
    return value


def apply_override(raw: dict, assignment: str, literal: bool = False) -> None:
    """`train.batch_size=8` or `experiments.0.task=mrpc`: the value is parsed as YAML (safely), or kept as the
    string it is when literal (--name, --storage, --address)."""
    if "=" not in assignment:
        _fail("--set", f"must be KEY=VALUE, got {assignment!r}")
    path, text = assignment.split("=", 1)
    try:
        value = text if literal else parse_yaml(text)
    except yaml.YAMLError as err:
        raise SpecError(f"--set {path}: value is not valid YAML ({getattr(err, 'problem', err)})") from None
    except (RecursionError, ValueError) as err:
        raise SpecError(f"--set {path}: value cannot be read ({_unreadable(err)})") from None
    keys = path.split(".")
    node = raw
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                allowed = f"must be 0 to {len(node) - 1}" if node else "the list is empty"
                _fail(f"--set {path}", f"'{key}' is not an index of a {len(node)}-item list; {allowed}")
            key = int(key)
        elif not isinstance(node, dict):
            _fail(f"--set {path}", f"'{keys[i - 1]}' is not a mapping")
        if last:
            node[key] = value
        else:
            if isinstance(node, dict) and key not in node:
                node[key] = {}
            if isinstance(node[key], (dict, list)):
                # A YAML alias shares one object between places: copy the path, so only the place named changes.
                node[key] = copy.copy(node[key])
            node = node[key]


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"spec: no such file {path}")
    size = path.stat().st_size
    if size > limits.MAX_SPEC_BYTES:  # PyYAML parses about 300 KB a second: refuse before, not after, the wait
        raise SpecError(
            f"spec {path}: {size:,} bytes; at most {limits.MAX_SPEC_BYTES:,} (a sweep's spec needs a few KB; "
            "a grid of thousands of values is better a distribution, e.g. {loguniform: [1e-5, 1e-3]})"
        )
    try:
        return parse_yaml(path.read_text(encoding="utf-8"))
    except yaml.constructor.ConstructorError as err:
        line = err.problem_mark.line + 1 if err.problem_mark else "?"
        if "constructor for the tag" in str(err.problem):
            # safe_load refuses !!python tags: a spec can never make the tool run code.
            raise SpecError(f"spec {path}: tag not allowed at line {line}: {err.problem}") from None
        raise SpecError(f"spec {path}: {err.problem} at line {line}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or (str(err).splitlines() or [""])[0]  # a ReaderError has none
        raise SpecError(f"spec {path}: malformed YAML{where}: {problem}") from None
    except UnicodeDecodeError as err:
        raise SpecError(f"spec {path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except (RecursionError, ValueError) as err:  # deep nesting recurses in PyYAML; int() refuses 4,300+ digits
        raise SpecError(f"spec {path}: cannot be read ({_unreadable(err)})") from None


def _unreadable(err: Exception) -> str:
    if isinstance(err, RecursionError):
        return f"nested too deeply; at most {limits.MAX_DEPTH} levels"
    return str(err).splitlines()[0][:120]


def load_spec(path: str | Path, overrides: tuple[str, ...] = (), literal: dict | None = None) -> SweepSpec:
    """literal: key -> string values applied as written, after the --set overrides (the CLI's --name etc.)."""
    raw = load_yaml(path)
    if not isinstance(raw, dict):
        _fail("spec", f"{path} must hold a YAML mapping, got {type(raw).__name__}")
    for assignment in overrides:
        apply_override(raw, assignment)
    for key, value in (literal or {}).items():
        apply_override(raw, f"{key}={value}", literal=True)
    return parse_spec(raw, default_name=Path(path).stem)

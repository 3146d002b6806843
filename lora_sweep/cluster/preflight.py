"""Checks that need more than the spec itself, run by the CLI before Ray starts (and in --dry-run) (issue 14).

- Each model's config (no weights; the model is built on PyTorch's meta device): the model must load, LoRA
  targets must match a linear layer, a rank must not exceed the adapted layers' width, and max_length must fit
  the position embeddings.
- The storage: a local path must be (or can become) a writable folder; a URI must use a scheme Ray can write.

Every failure is a SpecError of one line naming the experiment, variant, key and what is allowed.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lora_sweep.spec.redact import redact
from lora_sweep.spec.spec import Setting, SpecError, SweepSpec, Variant

# pyarrow's file systems, which Ray Tune writes through (fsspec adds more, but is not a dependency).
URI_SCHEMES = ("s3", "gs", "gcs", "hdfs", "viewfs", "abfs", "abfss", "file")
# Absolute position embeddings offset by the padding index (RoBERTa: 514 embeddings, 512 usable positions).
OFFSET_POSITIONS = ("roberta", "xlm-roberta", "camembert", "longformer")


@dataclass(frozen=True)
class ModelShape:
    model_type: str
    linears: dict  # qualified name -> (in_features, out_features), heads excluded
    max_positions: int | None  # None: relative positions only, no absolute limit


def check(spec: SweepSpec) -> None:
    from lora_sweep.cluster import trial_inputs

    check_storage(spec.storage, spec.name)
    check_models(spec)
    trial_inputs.check(spec)


def _values(setting: Setting | None) -> list:
    if setting is None:
        return []
    if setting.kind == "randint":
        return [int(setting.high) - 1]
    return [v for v in (*setting.values, setting.high) if v is not None]


def model_shape(name: str, num_labels: int) -> ModelShape:
    """The model's linear layers and positions from its config alone (no download of weights, no memory)."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from lora_sweep.trial import models

    if name.startswith(("/", ".", "~")) or name.count("/") > 1:  # a path, not a hub id (owner/name)
        if not os.path.isdir(os.path.expanduser(name)):
            raise SpecError(f"model '{name}': no such local folder; allowed: a folder holding config.json, or a hub id")
    try:
        config = models.plan_config(name, num_labels)
    except Exception as err:  # noqa: BLE001 - transformers raises OSError, ValueError, KeyError, JSON errors...
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise SpecError(
            f"model '{name}' cannot be loaded ({reason}); allowed: a hub id, a local folder with config.json, "
            f"minilm, or random:<{'|'.join(models.RANDOM_CONFIGS)}>"
        ) from None
    try:
        with torch.device("meta"):
            model = AutoModelForSequenceClassification.from_config(config)
    except Exception as err:  # noqa: BLE001
        raise SpecError(f"model '{name}': its config does not build a classifier ({str(err)[:160]})") from None
    heads = models.head_modules(config.model_type)
    linears = {
        n: (m.in_features, m.out_features)
        for n, m in model.named_modules()
        if isinstance(m, torch.nn.Linear) and not _matches(n.split(".")[0], heads)
    }
    positions = getattr(config, "max_position_embeddings", None)
    if config.model_type.startswith("deberta") and not getattr(config, "position_biased_input", True):
        positions = None  # relative attention only
    elif positions and config.model_type in OFFSET_POSITIONS:
        positions -= (getattr(config, "pad_token_id", None) or 0) + 1
    return ModelShape(config.model_type, linears, positions)


def short_names(linears) -> list[str]:
    """Layer names as a target names them: the shortest suffix that picks out one kind of layer in every block
    (query; attention.output.dense vs output.dense)."""
    kinds: dict = {}
    for n in linears:
        kinds.setdefault(".".join("*" if p.isdigit() else p for p in n.split(".")), []).append(n)
    out = []
    for members in kinds.values():
        parts = members[0].split(".")
        for k in range(1, len(parts) + 1):
            suffix = ".".join(parts[-k:])
            if parts[-k].isdigit():  # no suffix names this kind alone: output.dense also matches attention.*
                out.append(".".join(parts[-k + 1 :]))
                break
            if {n for n in linears if _matches(n, [suffix])} == set(members):
                out.append(suffix)
                break
    return out


def _matches(name: str, targets) -> bool:
    return any(name == t or name.endswith("." + t) for t in targets)


def check_models(spec: SweepSpec) -> None:
    from lora_sweep.trial.tasks import get_task

    shapes: dict = {}
    for e in spec.experiments:
        key = (e.model, get_task(e.task).num_labels)
        if key not in shapes:
            try:
                shapes[key] = model_shape(*key)
            except SpecError as err:
                raise SpecError(f"experiment {e.model}/{e.task}: {err}") from None
        for j, variant in enumerate(e.variants):
            check_variant(shapes[key], variant, f"experiment {e.model}/{e.task}, variants[{j}] ({variant.method})")


def check_variant(shape: ModelShape, variant: Variant, where: str) -> None:
    for length in _values(variant.settings.get("max_length")):
        if shape.max_positions and length > shape.max_positions:
            raise SpecError(
                f"{where}: max_length {length} is beyond the model's {shape.max_positions} positions; "
                f"must be <= {shape.max_positions}"
            )
    if variant.method != "lora":
        return
    from lora_sweep.trial import models

    target_sets = _values(variant.settings.get("target_modules")) or [None]
    ranks = _values(variant.settings.get("r")) or [8]
    for targets in target_sets:
        if targets is None:
            try:
                targets = models.default_targets(shape.model_type)
            except ValueError as err:
                raise SpecError(f"{where}: target_modules: {err}; available: {_available(shape)}") from None
        targets = [t.strip() for t in targets.split(",")] if isinstance(targets, str) else list(targets)
        if not targets or not all(isinstance(t, str) and t for t in targets):
            raise SpecError(f"{where}: target_modules: got {targets!r}; name at least one layer: {_available(shape)}")
        matched = [n for n in shape.linears if _matches(n, targets)]
        if not matched:
            raise SpecError(f"{where}: target_modules {targets} match no linear layer; available: {_available(shape)}")
        width = min(min(shape.linears[n]) for n in matched)
        for r in ranks:
            if isinstance(r, int) and r > width:
                raise SpecError(
                    f"{where}: r {r} is wider than the adapted layers ({'/'.join(targets)}: min(in, out) = {width}); "
                    f"must be <= {width}"
                )


def _available(shape: ModelShape) -> str:
    names = short_names(shape.linears)
    return ", ".join(names[:16]) + (f" (+{len(names) - 16} more)" if len(names) > 16 else "")


def check_storage(storage: str, name: str) -> None:
    """A local path must be a folder (or creatable under one) this process can write; a URI must use a scheme
    Ray can write to. Probes with a temporary folder, removed at once: nothing is left behind."""
    if "\x00" in storage:
        raise SpecError(f"storage: got {storage!r}; a path cannot hold a NUL character")
    if "://" in storage:
        scheme, rest = storage.split("://", 1)
        if scheme.lower() not in URI_SCHEMES:
            allowed = ", ".join(f"{s}://" for s in URI_SCHEMES)
            raise SpecError(f"storage: unsupported URI scheme '{scheme}://'; allowed: a local path or {allowed}")
        if scheme.lower() != "file":
            if not rest.strip("/"):
                raise SpecError(f"storage: {redact(storage)!r} names no bucket or host")
            if redact(storage) != storage:  # Ray would keep the URI, secret and all, in its experiment files
                raise SpecError(
                    f"storage: {redact(storage)!r} holds credentials; give them in the environment instead "
                    "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or ~/.aws; AWS_ENDPOINT_URL for an S3-compatible "
                    "server)"
                )
            return
        storage = rest
    target = Path(os.path.abspath(os.path.expanduser(storage))) / name
    existing = target
    while not existing.exists() and not existing.is_symlink():
        existing = existing.parent
    if not existing.is_dir():
        what = "the results folder" if existing == target else "storage"
        raise SpecError(f"storage: {existing} is a file, not a folder; {what} must be a folder (or not exist yet)")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".lora_sweep_probe_", dir=existing))
    except OSError as err:
        raise SpecError(
            f"storage: cannot write under {existing} ({err.strerror or err}); choose a writable folder"
        ) from None

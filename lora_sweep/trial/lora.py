"""LoRA (Hu et al., ICLR 2022): h = W0 x + (alpha / r) * B A x beside frozen linear layers.

Our own implementation (the method is what this project studies); PEFT is the yardstick in the tests.
Injection wraps modules by exact qualified-name suffix and never edits model code. Merging is an explicit
call. Saved adapters use PEFT's format so that `peft.PeftModel.from_pretrained` loads them.
Imports torch (and safetensors) only.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from lora_sweep.trial import tensor_checks
from lora_sweep.trial.atomic import atomic_write, atomic_write_text

# PEFT prefixes every key of a saved adapter with this (peft.utils.save_and_load).
PEFT_PREFIX = "base_model.model."
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"


class LoRALinear(nn.Module):
    """A frozen nn.Linear plus a trainable low-rank update B A, scaled by alpha / r (paper Sec. 4.1)."""

    def __init__(self, base_layer: nn.Linear, r: int, alpha: float, dropout: float):
        super().__init__()
        validate_lora_args(r, alpha, dropout)
        self.base_layer = base_layer
        self.r, self.alpha = r, alpha
        self.scaling = alpha / r
        factory = {"device": base_layer.weight.device, "dtype": base_layer.weight.dtype}
        # Parameter names lora_A.weight / lora_B.weight match PEFT's saved keys.
        self.lora_A = nn.Linear(base_layer.in_features, r, bias=False, **factory)
        self.lora_B = nn.Linear(r, base_layer.out_features, bias=False, **factory)
        self.lora_dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        # A as loralib and PEFT initialise it, B zero: the model is unchanged at step 0.
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.merged = False
        for p in self.base_layer.parameters():
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base_layer(x)
        if self.merged:
            return out
        # One fused add-with-scale instead of a scale then an add: a kernel less per adapted layer on GPU.
        return torch.add(out, self.lora_B(self.lora_A(self.lora_dropout(x))), alpha=self.scaling)

    def delta_weight(self) -> torch.Tensor:
        """(alpha / r) * B A, shaped like the base weight."""
        return (self.lora_B.weight @ self.lora_A.weight) * self.scaling

    def merge(self) -> None:
        if not self.merged:
            with torch.no_grad():
                self.base_layer.weight += self.delta_weight().to(self.base_layer.weight.dtype)
            self.merged = True

    def unmerge(self) -> None:
        if self.merged:
            with torch.no_grad():
                self.base_layer.weight -= self.delta_weight().to(self.base_layer.weight.dtype)
            self.merged = False


def init_lora_A(model: nn.Module, generator: torch.Generator) -> None:
    """Redraw every LoRA A (as LoRALinear does, Kaiming uniform) from `generator`, in module order: a trial's
    seed alone fixes its LoRA start, whatever else was drawn before (pack.py relies on it)."""
    with torch.no_grad():
        for _, layer in lora_layers(model):
            weight = layer.lora_A.weight
            drawn = torch.empty(weight.shape)
            nn.init.kaiming_uniform_(drawn, a=math.sqrt(5), generator=generator)
            weight.copy_(drawn)


def validate_lora_args(r: int, alpha: float, dropout: float) -> None:
    """Raise ValueError with one line naming the bad setting."""
    if not isinstance(r, int) or isinstance(r, bool) or r < 1:
        raise ValueError(f"LoRA rank r must be an integer >= 1, got {r!r}")
    if not alpha > 0:
        raise ValueError(f"LoRA alpha must be > 0, got {alpha!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"LoRA dropout must be in [0, 1), got {dropout!r}")


def linear_layer_names(model: nn.Module) -> list[str]:
    return [name for name, mod in model.named_modules() if isinstance(mod, nn.Linear)]


def _matches(name: str, suffixes: Sequence[str]) -> bool:
    # Exact suffix on a dotted-name boundary: "value" matches "...self.value", not "...self.xvalue".
    return any(name == s or name.endswith("." + s) for s in suffixes)


def inject_lora(
    model: nn.Module,
    r: int,
    alpha: float,
    dropout: float,
    target_modules: Sequence[str],
    head_modules: Sequence[str] = ("classifier", "score"),
) -> list[str]:
    """Wrap every nn.Linear whose qualified name ends with a target; freeze all but LoRA and the head.

    A head module is never wrapped (BERT's `classifier` is itself an nn.Linear and would match a target
    "classifier"): the head trains in full. Returns the wrapped names. Raises ValueError when nothing matches,
    listing available linear layers.
    """
    validate_lora_args(r, alpha, dropout)
    targets = [target_modules] if isinstance(target_modules, str) else list(target_modules)
    if not targets:
        raise ValueError("target_modules is empty; name at least one linear layer, e.g. query,value")
    linears = [n for n in linear_layer_names(model) if not in_head(n, head_modules)]
    names = [n for n in linears if _matches(n, targets)]
    if not names:
        suffixes = sorted({n.rsplit(".", 1)[-1] for n in linears})
        raise ValueError(
            f"target_modules {targets} matched no linear layer; available suffixes: {', '.join(suffixes[:12])}"
        )
    for p in model.parameters():
        p.requires_grad_(False)
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, LoRALinear(getattr(parent, child), r, alpha, dropout))
    set_head_trainable(model, head_modules)
    return names


def in_head(name: str, head_modules: Sequence[str]) -> bool:
    """Whether a qualified module or parameter name is a head module or lies inside one."""
    return any(name == h or name.startswith(h + ".") for h in head_modules)


def present_heads(model: nn.Module, head_modules: Sequence[str]) -> list[str]:
    """The head modules (qualified names, e.g. "bert.pooler") this model has, in the order given."""
    names = {name for name, _ in model.named_modules()}
    return [h for h in head_modules if h in names]


def set_head_trainable(model: nn.Module, head_modules: Sequence[str]) -> list[str]:
    """Make the head modules trainable; return the names found (error if none)."""
    found = present_heads(model, head_modules)
    if not found:
        children = ", ".join(n for n, _ in model.named_children())
        raise ValueError(f"no classifier head among {list(head_modules)}; the model's top modules: {children}")
    for name in found:
        for p in model.get_submodule(name).parameters():
            p.requires_grad_(True)
    return found


def lora_layers(model: nn.Module) -> Iterable[tuple[str, LoRALinear]]:
    return ((n, m) for n, m in model.named_modules() if isinstance(m, LoRALinear))


def merge_lora(model: nn.Module) -> int:
    """Fold every LoRA update into its base weight (no extra inference latency); return the layer count."""
    layers = list(lora_layers(model))
    for _, layer in layers:
        layer.merge()
    return len(layers)


def unmerge_lora(model: nn.Module) -> int:
    """Undo merge_lora; return the layer count."""
    layers = list(lora_layers(model))
    for _, layer in layers:
        layer.unmerge()
    return len(layers)


@dataclass(frozen=True)
class ParamCounts:
    """lora: LoRA-only, as the paper counts; trainable: what a user trains and stores (LoRA + head, or all)."""

    lora: int
    head: int
    trainable: int
    total: int

    def as_dict(self) -> dict[str, int]:
        return {f"{k}_params": v for k, v in asdict(self).items()}


def count_parameters(model: nn.Module, head_modules: Sequence[str] = ("classifier", "score")) -> ParamCounts:
    """LoRA outside the head (LoRA never wraps a head module) and the whole head, however the method trains."""
    heads = present_heads(model, head_modules)
    lora = sum(p.numel() for n, p in model.named_parameters() if is_lora_param(n) and not in_head(n, heads))
    head = sum(p.numel() for n, p in model.named_parameters() if in_head(n, heads))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return ParamCounts(lora=lora, head=head, trainable=trainable, total=total)


def is_lora_param(name: str) -> bool:
    return ".lora_A." in name or ".lora_B." in name


def trainable_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Only what training changes (LoRA and head, or everything for full fine-tuning): a small checkpoint."""
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}


def load_trainable_state_dict(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    unknown = sorted(set(state) - set(params))
    if unknown:
        raise ValueError(f"checkpoint has parameters the model lacks: {', '.join(unknown[:5])}")
    # only what trains is in a checkpoint, each tensor of its parameter's shape and a float (tensor_checks.py)
    tensor_checks.check(state, params, "checkpoint", allowed=lambda name: params[name].requires_grad)
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value)


def _lora_config(model: nn.Module) -> dict:
    layers = list(lora_layers(model))
    if not layers:
        raise ValueError("the model has no LoRA layers; call inject_lora first")
    first = layers[0][1]
    dropout = first.lora_dropout.p if isinstance(first.lora_dropout, nn.Dropout) else 0.0
    return {"r": first.r, "lora_alpha": first.alpha, "lora_dropout": dropout}


def save_adapter(
    model: nn.Module,
    directory: str | os.PathLike,
    target_modules: Sequence[str],
    head_modules: Sequence[str] = ("classifier",),
    base_model_name_or_path: str | None = None,
) -> Path:
    """Write adapter_config.json + adapter_model.safetensors in PEFT's LoRA format (LoRA and head)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    was_merged = [layer.merged for _, layer in lora_layers(model)]
    if any(was_merged):
        raise ValueError("unmerge_lora(model) before saving: merged weights would be saved twice")
    heads = present_heads(model, head_modules)
    tensors = {}
    for name, p in model.named_parameters():
        if is_lora_param(name) or in_head(name, heads):
            tensors[PEFT_PREFIX + name] = p.detach().cpu().contiguous()
    config = {
        "peft_type": "LORA",
        "task_type": "SEQ_CLS",
        **_lora_config(model),
        "target_modules": sorted(target_modules),
        "modules_to_save": heads,
        "bias": "none",
        "fan_in_fan_out": False,
        "init_lora_weights": True,
        "inference_mode": True,
        "use_rslora": False,
        "use_dora": False,
        "base_model_name_or_path": base_model_name_or_path,
    }
    atomic_write_text(directory / ADAPTER_CONFIG, json.dumps(config, indent=2))
    atomic_write(directory / ADAPTER_WEIGHTS, lambda p: save_file(tensors, p, metadata={"format": "pt"}))
    return directory


class AdapterError(ValueError):
    """A warm-start adapter that does not fit the trial: one line naming the mismatch."""


def _check_adapter_config(config, path) -> None:
    """adapter_config.json from elsewhere: a mapping whose r, lora_alpha and target_modules have PEFT's types."""
    if not isinstance(config, dict):
        raise AdapterError(f"init_adapter: {path} holds a JSON {type(config).__name__}; must be a mapping (PEFT's)")
    targets = config.get("target_modules")
    if targets is not None and not (
        isinstance(targets, str) or (isinstance(targets, list) and all(isinstance(t, str) for t in targets))
    ):
        raise AdapterError(f"init_adapter: {path}: target_modules is {targets!r}; must be a name or a list of names")


def load_adapter(
    model: nn.Module,
    directory: str | os.PathLike,
    target_modules: Sequence[str] | None = None,
    head_modules: Sequence[str] = ("classifier", "score"),
) -> tuple[list[str], list[str]]:
    """Warm-start LoRA and head weights from a PEFT-format adapter; return (loaded names, skipped head names).

    Strict: the adapter's r, lora_alpha and target_modules must equal the trial's, every LoRA tensor of the model
    must be in it, and every tensor in it must have a place in the model. The one exception is the paper's
    (Sec. 5.2): MRPC, RTE and STS-B start from the MNLI adapter, whose head has 3 labels, so head tensors of
    another shape are skipped (and returned, for the caller to say so). Raises AdapterError.
    """
    directory = Path(directory)
    path, config_path = directory / ADAPTER_WEIGHTS, directory / ADAPTER_CONFIG
    for required in (config_path, path):
        if not required.is_file():
            raise AdapterError(f"init_adapter: no {required.name} in {directory}")
    try:
        saved_config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:  # JSON errors and UnicodeDecodeError are ValueErrors
        raise AdapterError(f"init_adapter: unreadable {config_path}: {str(err).splitlines()[0][:160]}") from None
    _check_adapter_config(saved_config, config_path)
    ours = _lora_config(model)
    for key, label in (("r", "rank r"), ("lora_alpha", "alpha")):
        if saved_config.get(key) != ours[key]:
            raise AdapterError(
                f"init_adapter: the adapter in {directory} has {label} {saved_config.get(key)!r}, "
                f"this trial {ours[key]!r}; train with the adapter's setting or start cold"
            )
    if target_modules is not None:
        theirs = saved_config.get("target_modules") or []
        theirs, wanted = sorted([theirs] if isinstance(theirs, str) else theirs), sorted(target_modules)
        if theirs != wanted:
            raise AdapterError(
                f"init_adapter: the adapter in {directory} adapts {','.join(theirs)}, this trial "
                f"{','.join(wanted)}; set target_modules to the adapter's"
            )
    try:
        saved = {k.removeprefix(PEFT_PREFIX): v for k, v in load_file(str(path)).items()}
    except Exception as err:  # safetensors raises its own error type for a damaged file
        raise AdapterError(f"init_adapter: unreadable {path}: {str(err).splitlines()[0]}") from None
    params = dict(model.named_parameters())
    heads = present_heads(model, head_modules)
    absent = sorted(n for n in params if is_lora_param(n) and n not in saved)
    if absent:
        raise AdapterError(
            f"init_adapter: the adapter in {directory} lacks LoRA tensor {absent[0]} ({len(absent)} missing)"
        )
    try:  # names (LoRA and head only: never a frozen base weight), dtypes and shapes (tensor_checks.py)
        tensor_checks.check(
            dict(sorted(saved.items())),
            params,
            f"init_adapter {directory}",
            allowed=lambda n: is_lora_param(n) or in_head(n, heads),
            reshaped_ok=lambda n: in_head(n, heads),
        )
    except tensor_checks.TensorRefused as err:
        raise AdapterError(str(err)) from None
    loaded, skipped = [], []
    with torch.no_grad():
        for name, value in saved.items():
            target = params[name]
            if target.shape != value.shape:
                if not in_head(name, heads):
                    raise AdapterError(
                        f"init_adapter: adapter tensor {name} is {tuple(value.shape)}, the model's "
                        f"{tuple(target.shape)}"
                    )
                skipped.append(name)
                continue
            target.copy_(value)
            loaded.append(name)
    return loaded, skipped

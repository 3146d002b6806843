"""Which arithmetic a trial trains in: `precision: auto|fp32|bf16`, resolved once per trial to fp32 or bf16.

bf16 means torch.autocast to bfloat16 around the forward passes, with float32 master weights (and so float32
AdamW moments); no loss scaling is needed, unlike fp16. `auto` takes bf16 where the chip computes it natively:
a CUDA GPU with bf16 support, or a CPU with AVX-512 BF16 or AMX (the flags avx512_bf16 and amx_bf16 in
/proc/cpuinfo); elsewhere bf16 is emulated and slower than float32, so auto takes fp32. Imports torch only.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import torch

from lora_sweep.trial.config import PRECISIONS

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.cache
def _proc_cpuinfo() -> str:
    """/proc/cpuinfo, read once per process (every evaluation resolves the precision again)."""
    try:
        return Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The CPU feature flags of /proc/cpuinfo (empty where there is none, e.g. macOS)."""
    if cpuinfo is None:
        cpuinfo = _proc_cpuinfo()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def cpu_has_bf16(cpuinfo: str | None = None) -> bool:
    return any(flag in cpu_flags(cpuinfo) for flag in BF16_CPU_FLAGS)


# Architectures whose forward pass breaks under bf16 autocast: DeBERTa's attention fills its mask with float32's
# minimum, which bfloat16 attention scores cannot hold ("value cannot be converted to type c10::BFloat16 without
# overflow", transformers 5 on the CPU). auto takes fp32 for them; an explicit bf16 is refused in one line.
NO_BF16_TYPES = ("deberta", "deberta-v2")


def resolve(precision: str, device: torch.device, cpuinfo: str | None = None, model_type: str | None = None) -> str:
    """ "fp32" or "bf16": what a trial with this setting trains in on this device, for this architecture."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision: got {precision!r}; must be one of {', '.join(PRECISIONS)}")
    if model_type in NO_BF16_TYPES:
        if precision == "bf16":
            raise ValueError(f"precision: bf16 does not work with {model_type} models (their attention mask "
                             "overflows bfloat16); use fp32 or auto")  # fmt: skip
        return "fp32"
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if device.type == "cpu" and cpu_has_bf16(cpuinfo) else "fp32"


def autocast(device: torch.device, used: str):
    """The context every forward pass runs in for the resolved precision `used`."""
    if used == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()

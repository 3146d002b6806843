"""precision: auto|fp32|bf16: what auto picks from the CPU's flags, and bad values refused in one line."""

from __future__ import annotations

import pytest
import torch

from lora_sweep.trial import precision
from lora_sweep.trial.config import ConfigError, TrialConfig

ZEN4 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n"
SAPPHIRE = "processor\t: 0\nflags\t\t: fpu avx2 avx512f amx_bf16 amx_tile\n"
OLD = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n"
CPU = torch.device("cpu")


@pytest.mark.parametrize(("cpuinfo", "used"), [(ZEN4, "bf16"), (SAPPHIRE, "bf16"), (OLD, "fp32"), ("", "fp32")])
def test_auto_takes_bf16_where_the_cpu_has_it(cpuinfo, used):
    assert precision.resolve("auto", CPU, cpuinfo) == used


@pytest.mark.parametrize("chosen", ["fp32", "bf16"])
def test_an_explicit_precision_is_kept(chosen):
    assert precision.resolve(chosen, CPU, OLD) == chosen


@pytest.mark.parametrize("bad", ["fp16", "BF16", 32, None])
def test_bad_precision_is_one_line_error(bad):
    with pytest.raises(ConfigError, match=r"^precision: got .*; must be auto, fp32 or bf16$"):
        TrialConfig(precision=bad)


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, "4"])
def test_bad_pack_is_one_line_error(bad):
    with pytest.raises(ConfigError, match=r"^pack: got .*; must be an integer >= 1"):
        TrialConfig(pack=bad)


def test_bf16_autocasts_and_fp32_does_not():
    layer = torch.nn.Linear(4, 4)
    with precision.autocast(CPU, "bf16"):
        assert layer(torch.ones(1, 4)).dtype == torch.bfloat16
    with precision.autocast(CPU, "fp32"):
        assert layer(torch.ones(1, 4)).dtype == torch.float32

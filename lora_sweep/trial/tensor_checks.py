"""Every tensor read from a file is checked against the model before it is copied in: name, shape and dtype.

`Parameter.copy_` broadcasts and casts silently: a 0-d tensor fills a whole lora_B, an int8 tensor is cast to
float, and a name the file should not hold (a frozen base LayerNorm in a warm-start adapter) overwrites base
weights. check() refuses each of these with one line naming the file, the tensor and what was expected.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


class TensorRefused(ValueError):
    """A tensor from a file that does not fit the model: one line naming the file, the tensor and the mismatch."""


def check(
    saved: dict,
    params: dict[str, torch.Tensor],
    where: str,
    allowed: Callable[[str], bool] = lambda name: True,
    reshaped_ok: Callable[[str], bool] = lambda name: False,
) -> None:
    """saved: name -> tensor read from `where`; params: the model's parameters by name. Every saved name must be a
    parameter that `allowed` accepts, every value a floating-point tensor of the parameter's shape (unless
    `reshaped_ok(name)`: the caller skips it, e.g. a head with another label count). Raises TensorRefused."""
    for name, value in saved.items():
        if not isinstance(value, torch.Tensor):
            raise TensorRefused(f"{where}: {name} is a {type(value).__name__}, not a tensor")
        if name not in params:
            raise TensorRefused(f"{where}: tensor {name} in the file has no place in this model")
        if not allowed(name):
            raise TensorRefused(
                f"{where}: tensor {name} is a frozen weight of the base model; only LoRA and head tensors may be "
                "loaded here"
            )
        target = params[name]
        if not value.is_floating_point():
            raise TensorRefused(
                f"{where}: tensor {name} is {str(value.dtype).removeprefix('torch.')}; must be floating point"
            )
        if value.shape != target.shape and not reshaped_ok(name):
            raise TensorRefused(f"{where}: tensor {name} is {tuple(value.shape)}, the model's {tuple(target.shape)}")

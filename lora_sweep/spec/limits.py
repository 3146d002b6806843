"""Limits on a spec's numbers, nesting and size, checked before anything is enumerated (issue 14).

YAML reads integers of any size and nests without end; torch, numpy and Ray do not. Every value past these
limits is a one-line SpecError naming the key and the allowed range.
"""

from __future__ import annotations

import math
import re

from lora_sweep.spec.errors import SpecError

MAX_TRIALS = 10_000  # search.max_trials: the default ceiling on grid x num_samples x seeds
MAX_SPEC_BYTES = 256 * 1024  # a spec file's size: shipped specs are 1-3 KB
MAX_DEPTH = 32  # nesting levels of the spec's mappings and lists
INT64 = 2**63 - 1  # any integer anywhere (C's long)
INT32 = 2**31 - 1  # sizes and counts handed to torch, numpy or Ray
SEED_MAX = 2**32 - 1  # numpy's seed range (Optuna's TPE, the data subsample)
SEED_KEYS = ("seed", "seeds", "data_seed", "sampler_seed")
INT32_KEYS = (
    *("epochs", "batch_size", "eval_batch_size", "max_length", "max_train_samples", "max_eval_samples", "r"),
    *("num_samples", "max_concurrent", "max_failures", "max_epochs", "grace_period", "reduction_factor"),
)
DISTRIBUTION_KEYS = ("grid", "choice", "uniform", "loguniform", "randint")


def _limit_error(message: str) -> Exception:
    return SpecError(message)


def _name(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    out = out.lstrip(".") or "spec"
    return out if len(out) <= 80 else f"{out[:60]}...{out[-12:]}"


def _show(value: int) -> str:
    return str(value) if abs(value) < 10**30 else f"{'-' if value < 0 else ''}a {abs(value).bit_length()}-bit integer"


def check_values(raw) -> None:
    """Nesting at most MAX_DEPTH levels; integers within 64 bits, 32 bits where torch/numpy take them, seeds
    within [0, 2^32-1]. Iterative (a deep spec must not hit Python's recursion limit); shared YAML aliases are
    walked once."""
    stack, seen = [(raw, (), 1, None)], set()
    while stack:
        node, path, depth, key = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > MAX_DEPTH:
                raise _limit_error(f"{_name(path)}: nested more than {MAX_DEPTH} levels deep; a spec needs far fewer")
            if id(node) in seen:
                continue
            seen.add(id(node))
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for k, v in items:
                named = k if isinstance(node, dict) and k not in DISTRIBUTION_KEYS else key
                stack.append((v, (*path, k), depth + 1, named))
        elif isinstance(node, int) and not isinstance(node, bool):
            _check_int(node, _name(path), key)


def _check_int(value: int, where: str, key) -> None:
    if key in SEED_KEYS and where != "search.seeds":  # `seeds: N` is a count, checked with the trial count
        low = 0 if key in ("seed", "data_seed") else -INT64 - 1  # spec.py says more about negative search seeds
        if not low <= value <= SEED_MAX:
            raise _limit_error(f"{where}: got {_show(value)}; a seed must be in [0, {SEED_MAX}] (numpy's range)")
    elif key in INT32_KEYS:
        if abs(value) > INT32:
            raise _limit_error(f"{where}: got {_show(value)}; must be at most {INT32} (torch and numpy take 32 bits)")
    elif not -INT64 - 1 <= value <= INT64:
        raise _limit_error(f"{where}: integer {_show(value)} does not fit in 64 bits; must be within +-{INT64}")


def max_trials(search: dict) -> int:
    value = search.get("max_trials", MAX_TRIALS)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _limit_error(f"search.max_trials: got {value!r}; must be an integer >= 1 (default {MAX_TRIALS})")
    return value


def too_many(count: int, detail: str, limit: int) -> Exception:
    return _limit_error(
        f"search: {f'{count:,}' if count < 10**30 else _show(count)} trials planned ({detail}); the limit is "
        f"search.max_trials = {limit:,}: shrink the grid, or raise it (--set search.max_trials={count})"
    )


def seed_count(count: int, search: dict) -> int:
    """`seeds: N`: refused before range(N) is built when N alone passes the trial limit."""
    limit = max_trials(search)
    if count > limit:
        raise too_many(count, f"seeds {_show(count)}", limit)
    return count


def count_trials(experiments, algorithm: str, num_samples: int, seeds: int) -> tuple[int, int]:
    """(trials, arms), counted without enumerating: grid product x num_samples (x seeds for grid search)."""
    arms = sum(
        math.prod(len(s.values) for s in v.settings.values() if s.kind == "grid")
        for e in experiments
        for v in e.variants
    )
    return arms * num_samples * (seeds if algorithm == "grid" else 1), arms


def check_trial_count(experiments, search: dict, algorithm: str, num_samples: int, seeds: int) -> int:
    limit = max_trials(search)
    count, arms = count_trials(experiments, algorithm, num_samples, seeds)
    if count > limit:
        raise too_many(count, f"{arms:,} grid points x num_samples {num_samples:,} x {seeds} seeds", limit)
    return count


def valid_address(address: str) -> bool:
    """A Ray address: auto, local, host:port or ray://host:port, with a port in 1-65535 (Ray's own parser raises
    a ValueError deep in ray.init otherwise)."""
    if address in ("auto", "local"):
        return True
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host  # [::1]:6379
    return (
        bool(sep and host and port.isascii() and port.isdigit())
        and 1 <= int(port) <= 65535
        and not any(c.isspace() or c in "/?#@[]" for c in host.replace("::", "").replace(":", ""))
    )


HOST_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def valid_host(host: str) -> bool:
    """An IP address or a DNS host name (labels of letters, digits and '-', at most 253 characters): what Ray's
    dashboard can bind to. Anything else (spaces, quotes, a URL) would fail inside ray.init."""
    import ipaddress

    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    return 0 < len(host) <= 253 and all(HOST_LABEL.fullmatch(label) for label in host.rstrip(".").split("."))


def ray_quantity(amount: float) -> bool:
    """Ray keeps resource amounts in units of 0.0001: a request below that becomes 0 (or is refused)."""
    units = amount * 10_000
    return units >= 1 and abs(units - round(units)) < 1e-6

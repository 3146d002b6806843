"""The specs shipped with the package (the repository's sweeps/ folder, installed as lora_sweep/specs/): runnable
by name (`lora-sweep run smoke`) and printable to edit (`lora-sweep init smoke > my.yaml`)."""

from __future__ import annotations

from pathlib import Path

SHIPPED = Path(__file__).resolve().parents[1] / "specs"


def names() -> list[str]:
    return sorted(p.stem for p in SHIPPED.glob("*.yaml"))


def resolve(arg: str) -> str:
    """A spec argument as a path: an existing file as given, else a shipped spec's name (smoke, glue_ranks, ...)."""
    if Path(arg).expanduser().exists() or arg.endswith((".yaml", ".yml")) or "/" in arg:
        return arg
    path = SHIPPED / f"{arg}.yaml"
    return str(path) if path.is_file() else arg

"""The layers the README's Layout section names hold in the code: every import, lazy ones inside functions
included (only `if TYPE_CHECKING:` blocks are left out), read from the source with ast."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The README's order, bottom up: a folder imports only itself and folders before it.
ORDER = ("trial", "spec", "results", "cluster", "sweep", "cli")
PACKAGES = ("lora_sweep", "analysis", "benchmarks")


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _imports(path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in ast.walk(block)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:  # `from pkg import module` imports the module
                full = f"{node.module}.{alias.name}"
                found.add(full if full in known else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    paths = {_module(p): p for package in PACKAGES for p in (root / package).rglob("*.py")}
    return {m: {d for d in _imports(p, set(paths)) if d != m} for m, p in paths.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle, each found from its smallest module name."""
    found = []

    def walk(start: str, node: str, path: list[str], seen: set[str]) -> None:
        for dep in sorted(graph.get(node, ())):
            if dep == start:
                found.append([*path, dep])
            elif dep in graph and dep > start and dep not in seen:
                seen.add(dep)
                walk(start, dep, [*path, dep], seen)

    for module in sorted(graph):
        walk(module, module, [module], set())
    return found


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return ORDER.index(parts[1]) if parts[0] == "lora_sweep" and len(parts) > 2 and parts[1] in ORDER else None


def test_no_import_circle():
    assert circles(import_graph()) == []


def test_each_layer_imports_only_itself_and_the_layers_before_it():
    graph = import_graph()
    upward = [
        f"{m} -> {d}"
        for m, deps in graph.items()
        for d in deps
        if _layer(m) is not None and _layer(d) is not None and _layer(d) > _layer(m)
    ]
    assert upward == []
    assert not [f"{m} -> {d}" for m, deps in graph.items() if m.startswith("lora_sweep") for d in deps
                if d.split(".")[0] in ("benchmarks", "tests")]  # fmt: skip


def test_the_trial_core_never_imports_ray_and_the_spec_never_torch():
    graph = {m: deps for m, deps in import_graph().items() if m.startswith(("lora_sweep.trial", "lora_sweep.spec"))}
    ray = [m for m, deps in graph.items() if any(d.split(".")[0] == "ray" for d in deps)]
    torch = [m for m, deps in graph.items() if m.startswith("lora_sweep.spec") and any(d == "torch" for d in deps)]
    assert ray == [] and torch == []


def test_the_checks_find_a_circle_and_an_upward_import():
    """The checker itself: a made-up graph with a circle through three modules and a trial -> cli import."""
    graph = {"lora_sweep.trial.a": {"lora_sweep.cli.b"}, "lora_sweep.cli.b": {"lora_sweep.spec.c"},
             "lora_sweep.spec.c": {"lora_sweep.trial.a"}}  # fmt: skip
    assert circles(graph) == [["lora_sweep.cli.b", "lora_sweep.spec.c", "lora_sweep.trial.a", "lora_sweep.cli.b"]]
    assert _layer("lora_sweep.cli.b") > _layer("lora_sweep.trial.a")

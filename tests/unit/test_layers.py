"""The import graph of src/: no circles between files, and no arrows from a lower floor to a higher one.

Floors, lowest first: `src.errors`; the plain layers (models, boxes, losses, metrics, data: plain
nn.Modules, datasets and functions, which never read conf/ or the run machinery); `src.runtime` (checks,
checkpoints, run folders, callbacks); everything built on them (outputs, loggers, datamodules,
lightning_modules, pipeline, predict). Lazy imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PLAIN = ("models", "boxes", "losses", "metrics", "data")


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "src" or name.startswith("src.")}


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in SRC.rglob("*.py")}
    return {
        name: {m for m in imports_of(path) if m in modules and m != name} for name, path in modules.items()
    }


def floor(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    if top == "errors":
        return 0
    if top in PLAIN:
        return 1
    if top == "runtime":
        return 2
    return 3


def test_no_import_from_a_higher_floor():
    upward = [
        f"{a} -> {b}"
        for a, targets in graph().items()
        for b in targets
        if floor(b) > floor(a) and not b.endswith("__init__")
    ]
    assert not upward, upward


def test_no_import_circles_between_files():
    edges = {a: {b for b in targets if not b.count(".") == 1 or b != "src"} for a, targets in graph().items()}
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in edges.get(node, ()):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt) :] + [nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = "done"

    for start in sorted(edges):
        if start not in state:
            visit(start, [start])
    assert not cycles, cycles

"""A `_target_`'s argument names read from its source file, without importing it.

The command line's override check (overrides_check.py) asks whether a misspelled key is an argument of
its node's `_target_`; importing a model's module to answer would import torch (seconds, for a one-line
answer). Python's `inspect` needs the object imported, so this reads the file's syntax tree instead (a
class's own `__init__`, or a function) and says None where the source does not tell (a class without
its own `__init__`, a name imported from elsewhere, a compiled module): the caller then imports.
"""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
from pathlib import Path


def module_file(module: str) -> Path | None:
    """The `.py` file of dotted `module`, found without importing it or its parent packages."""
    parts = module.split(".")
    try:
        spec = importlib.util.find_spec(parts[0])  # a top-level name: finding it imports nothing
        for i in range(1, len(parts)):
            if spec is None or not spec.submodule_search_locations:
                return None
            spec = importlib.machinery.PathFinder.find_spec(
                ".".join(parts[: i + 1]), list(spec.submodule_search_locations)
            )
    except (ImportError, ValueError):
        return None
    origin = getattr(spec, "origin", None)
    return Path(origin) if origin and origin.endswith(".py") else None


def parameter_names(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    args = function.args
    names = [a.arg for a in (*args.posonlyargs, *args.args)]
    names += [args.vararg.arg] if args.vararg else []
    names += [a.arg for a in args.kwonlyargs]
    return names + ([args.kwarg.arg] if args.kwarg else [])


def source_arguments(target: str, hops: int = 3) -> list[str] | None:
    """The argument names of `target` (`package.module.Class` or `.function`) as its source defines them
    (a class's without `self`), following up to `hops` re-exports (`from .adamw import AdamW` in a
    package's `__init__`); None where the source does not say."""
    module, _, name = target.rpartition(".")
    path = module_file(module) if module else None
    if path is None:
        return None
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return parameter_names(node)
        if isinstance(node, ast.ClassDef) and node.name == name:
            if node.decorator_list:  # a dataclass (or other generated __init__): ask the class itself
                return None
            init = next(
                (n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None
            )
            return parameter_names(init)[1:] if init is not None else None
        if isinstance(node, ast.ImportFrom) and hops > 0:
            alias = next((a for a in node.names if (a.asname or a.name) == name), None)
            if alias is not None:
                package = module if path.name == "__init__.py" else module.rpartition(".")[0]
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                source = ".".join([*base, *([node.module] if node.module else [])])
                return source_arguments(f"{source}.{alias.name}", hops - 1)
    return None

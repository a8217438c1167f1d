"""The tools of `python tools.py <tool>`: one module each, its config conf/<tool>.yaml (docs/tools.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module


@dataclass(frozen=True)
class Tool:
    function: str  # "module:function" taking the composed config
    takes_checkpoint: bool  # `ckpt_path=` names the model (as in eval.py)


TOOLS = {
    "browse": Tool("src.tools.browse:browse", False),
    "compare": Tool("src.tools.compare:compare", False),
    "mistakes": Tool("src.tools.mistakes:mistakes", True),
    "profile": Tool("src.tools.profile:profile", False),
}


def tool_function(name: str) -> Callable:
    module, function = TOOLS[name].function.split(":")
    return getattr(import_module(module), function)

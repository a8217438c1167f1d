"""Checks a config value against the type hint of the argument it feeds, and a few ranges by name.

The types come from the targets themselves (`inspect.signature` + `typing.get_type_hints` of the
`_target_` callable, a dataclass's fields), so a new argument is checked without touching this file.
Types a config cannot hold (tensors, modules, callables) are not judged here; the target does.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Mapping, Sequence

import torch
from omegaconf import DictConfig, ListConfig

from src.errors import ConfigError

# Ranges the type hints cannot say, by argument name: (lowest allowed, what to print).
# Lightning's own conventions: -1 = unlimited for max_epochs / max_steps / num_sanity_val_steps.
LOWER_BOUNDS: dict[str, tuple[float, str]] = {
    "max_epochs": (-1, "an integer >= 0, or -1 for no limit"),
    "max_steps": (-1, "an integer >= 0, or -1 for no limit"),
    "min_epochs": (0, "an integer >= 0"),
    "min_steps": (0, "an integer >= 0"),
    "num_sanity_val_steps": (-1, "an integer >= 0, or -1 for the whole validation set"),
    "check_val_every_n_epoch": (1, "an integer >= 1"),
    "log_every_n_steps": (1, "an integer >= 1"),
    "accumulate_grad_batches": (1, "an integer >= 1"),
    "num_nodes": (1, "an integer >= 1"),
    "gradient_clip_val": (0, "a value >= 0"),
    "patience": (0, "an integer >= 0 (validation checks without improvement)"),
    "min_delta": (0, "a value >= 0"),
    "save_top_k": (-1, "an integer >= 0, or -1 to keep every checkpoint"),
    "every_n_epochs": (0, "an integer >= 0"),
    "every_n_train_steps": (0, "an integer >= 0"),
    "image_size": (1, "a positive integer (pixels)"),
    "batch_size": (1, "an integer >= 1"),
    "lr": (0, "a positive learning rate"),
}


# arguments that may be `auto` whatever their type hint says (data.num_classes: read from the dataset)
RESOLVED_AT_RUN_TIME = {"num_classes"}


def describe(hint) -> str:
    """A short human name of a type hint: `an integer`, `one of [16, 32]`, `an integer or null`."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return f"one of {list(args)}"
    if origin in (typing.Union, types.UnionType):
        args = tuple(a for a in args if not (isinstance(a, type) and issubclass(a, torch.Tensor)))
        parts = [describe(a) for a in args if a is not type(None)]
        literals = [a for a in args if typing.get_origin(a) is typing.Literal]
        if literals and len(literals) == len([a for a in args if a is not type(None)]):
            parts = [f"one of {[v for lit in literals for v in typing.get_args(lit)]}"]
        return " or ".join(parts) + (" or null" if type(None) in args else "")
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
    if hint in names:
        return names[hint]
    if origin in (list, tuple, Sequence) or hint in (list, tuple):
        return "a list"
    if origin in (dict, Mapping) or hint is dict:
        return "a mapping"
    return getattr(hint, "__name__", str(hint))


def matches(value, hint) -> bool:
    """Whether a config value can be passed where `hint` is expected (unknown types pass)."""
    if hint is inspect.Parameter.empty or hint is typing.Any or isinstance(hint, str | typing.TypeVar):
        return True
    if isinstance(value, DictConfig) and "_target_" in value:
        return True  # instantiated into an object; its own keys are checked on their own
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return any(value == a and type(value) is type(a) for a in args) or (
            isinstance(value, int) and not isinstance(value, bool) and value in args
        )
    if origin in (typing.Union, types.UnionType):
        return any(matches(value, a) for a in args)
    if hint is type(None) or hint is None:
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    container = origin or hint
    if container in (list, tuple, Sequence):
        return isinstance(value, ListConfig | list | tuple)
    if container in (dict, Mapping):
        return isinstance(value, DictConfig | dict)
    if isinstance(hint, type) and issubclass(hint, torch.Tensor):
        return False  # `lr: float | Tensor`: a config value is never a tensor, so the float must fit
    return True  # another class (a path, an accelerator object): the target judges the value


def hints_of(target) -> dict[str, object]:
    """The resolved type hints of a callable's (or class's `__init__`) arguments; {} if unresolvable."""
    func = target.__init__ if inspect.isclass(target) else target
    try:
        return typing.get_type_hints(func)
    except Exception:  # hints naming modules not installed here: judge nothing rather than guess
        return {}


def check_value(key: str, name: str, value, hint) -> None:
    """Raise ConfigError for `key` unless `value` fits `hint` and the range known for `name`."""
    if value == "auto" and name in RESOLVED_AT_RUN_TIME:
        return  # read from the dataset when it is opened; the target checks the number it finds
    if not matches(value, hint):
        raise ConfigError(key, f"expected {describe(hint)} (got {value!r})")
    low = LOWER_BOUNDS.get(name)
    if low is not None and isinstance(value, int | float) and not isinstance(value, bool):
        bound, what = low
        bad = value <= 0 if name == "lr" else value < bound
        if bad:
            raise ConfigError(key, f"expected {what} (got {value!r})")

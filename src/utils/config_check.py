"""Validation of a composed config before any work: keys, required values, model/data pairing.

Hydra already refuses unknown overrides of existing keys and unknown config-group options; this adds
what it cannot see: keys added with `+` that the target does not accept, `???` values left unset,
and a model paired with data of another task.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import yaml
from hydra.utils import get_method
from omegaconf import DictConfig, ListConfig

from src.utils.errors import ConfigError

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def target_of(node) -> object | None:
    """The callable a config node instantiates, or None if it has no `_target_`."""
    if isinstance(node, DictConfig) and "_target_" in node:
        try:
            return get_method(node._target_)
        except Exception as err:  # hydra wraps import errors; keep one clear line
            raise ConfigError("_target_", f"cannot import {node._target_!r}: {err}") from None
    return None


def check_keys(node, path: str) -> None:
    """Every key under a `_target_` node must be an argument of that target (recursively)."""
    if isinstance(node, ListConfig):
        for i, item in enumerate(node):
            check_keys(item, f"{path}[{i}]")
        return
    if not isinstance(node, DictConfig):
        return
    target = target_of(node) if "_target_" in node else None
    if target is not None:
        params = inspect.signature(target).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        allowed = [n for n, p in params.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL]
        for key in node:
            if str(key).startswith("_") or takes_any:
                continue
            if key not in params:
                raise ConfigError(f"{path}.{key}", f"unknown key for {node._target_}; allowed: {allowed}")
    for key in node:
        if not str(key).startswith("_"):
            check_keys(node._get_node(key), f"{path}.{key}")


def task_of(node: DictConfig, group: str) -> str:
    target = target_of(node)
    task = getattr(target, "task", None)
    if task is None:
        raise ConfigError(f"{group}._target_", f"{node.get('_target_')} declares no `task`")
    return task


def data_options_for(task: str) -> list[str]:
    """Names of the data configs in conf/data whose DataModule serves `task`."""
    names = []
    for file in sorted((CONF_DIR / "data").glob("*.yaml")):
        target = (yaml.safe_load(file.read_text()) or {}).get("_target_")
        try:
            if target and getattr(get_method(target), "task", None) == task:
                names.append(file.stem)
        except Exception:
            continue
    return names


def missing_keys(node, path: str) -> list[str]:
    """Dotted keys left at `???` under `node`; interpolations are skipped (their target is reported)."""
    if isinstance(node, DictConfig | ListConfig):
        if node._is_missing():
            return [path]
        keys = range(len(node)) if isinstance(node, ListConfig) else node.keys()
        found = []
        for key in keys:
            sub = f"{path}[{key}]" if isinstance(node, ListConfig) else f"{path}.{key}"
            found += missing_keys(node._get_node(key), sub)
        return found
    return [path] if node._is_missing() and not node._is_interpolation() else []


def validate(cfg: DictConfig) -> None:
    """Raise ConfigError on the first problem found in the composed config."""
    missing = []
    for key in cfg:
        if key != "hydra":
            missing += missing_keys(cfg._get_node(key), str(key))
    missing.sort()
    if missing:
        raise ConfigError(
            missing[0], f"is required but not set (give it on the command line: {missing[0]}=...)"
        )
    for group in ("model", "data"):
        if cfg.get(group) is None:
            raise ConfigError(group, f"no config chosen; pick one with `{group}=<name>`")
        try:
            check_keys(cfg[group], group)
        except ConfigError as err:
            raise err if err.key.startswith(group) else err.under(group) from None
    model_task, data_task = task_of(cfg.model, "model"), task_of(cfg.data, "data")
    if model_task != data_task:
        choices = data_options_for(model_task)
        raise ConfigError(
            "data",
            f"the model is a {model_task} model but the data is {data_task} data; choose data from {choices}",
        )

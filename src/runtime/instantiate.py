"""Instantiation of config nodes with errors turned into ConfigError naming the config group."""

from __future__ import annotations

import hydra
from hydra.errors import InstantiationException
from omegaconf import DictConfig

from src.runtime.errors import ConfigError, DataError


def user_error_in(err: BaseException) -> ConfigError | DataError | None:
    """The ConfigError/DataError that caused `err` (Hydra wraps exceptions raised by targets)."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, ConfigError | DataError):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def build(node: DictConfig, group: str, **kwargs):
    """Instantiate `node`; a ConfigError raised inside gets its key placed under `group`."""
    try:
        return hydra.utils.instantiate(node, _convert_="all", **kwargs)
    except (ConfigError, InstantiationException) as err:
        cause = user_error_in(err)
        if isinstance(cause, ConfigError):
            raise (cause if cause.key.startswith(group) else cause.under(group)) from None
        if isinstance(cause, DataError):
            raise cause from None
        raise


def build_all(node: DictConfig | None, group: str) -> list:
    """Instantiate every `_target_` child of a group such as `callbacks` or `logger`."""
    if not node:
        return []
    return [build(child, f"{group}.{name}") for name, child in node.items() if child and "_target_" in child]

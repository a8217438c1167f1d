"""Instantiation of config nodes with errors turned into ConfigError naming the config group."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hydra
from hydra.errors import InstantiationException
from omegaconf import DictConfig

from src.errors import ConfigError, DataError, build_named


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


def build_part(
    key: str, factory: Callable, own_keys: tuple[str, ...] = (), kind: type | None = None, **kwargs
) -> Any:
    """`factory(**kwargs)`: the partial of a config-group option (`net`, `loss`, `head`, `encoder`) completed
    with what its owner knows; its config errors are named under `key` (`net.depth`), except those about
    `own_keys`, which are the owner's own arguments. `kind`: the base class the option must build (a group
    shared by several models, as `model/loss`, holds other models' options too)."""
    from src.runtime.config.conf_dir import group_options

    target = getattr(factory, "func", factory)
    if kind is not None and not (isinstance(target, type) and issubclass(target, kind)):
        options = "|".join(group_options(f"model/{key}", kind))
        name = f"{target.__module__}.{target.__qualname__}"
        raise ConfigError(key, f"{name} is not a {kind.__name__}: pick model/{key}={options}")
    return build_named(key, factory, own_keys, **kwargs)

"""The command line's overrides, checked before Hydra composes the config: one line, exit 2.

Hydra reports an unknown group option (`model=unett`) or an override of a key that does not exist
(`model.dpeth=3`) with a multi-line message and exit 1, before our task function runs. This check
runs first (from the entry points) and says the same in one line with the valid options or the
closest key names. Sweeps (`-m model=unet,yolo`) are checked for every group option and composed with
the first value of each swept key; an `interval(a, b)` (Optuna draws from it, it cannot be listed) is
composed with its lower bound, so its key is checked, and its bounds are numbers by Hydra's grammar.
"""

from __future__ import annotations

import difflib
import inspect

from hydra import compose, initialize_config_dir
from hydra._internal.utils import get_args_parser
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from hydra.utils import get_method
from omegaconf import DictConfig, ListConfig, OmegaConf

from src.errors import ConfigError
from src.runtime.config.conf_dir import conf_dir
from src.runtime.config.source_signature import source_arguments


def first_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__


def group_options(group: str) -> list[str] | None:
    """The options of config group `group` (conf/<group>/*.yaml), or None if it is not a group."""
    folder = conf_dir() / group
    return sorted(f.stem for f in folder.glob("*.yaml")) if folder.is_dir() else None


def values_of(override: Override) -> list:
    """The values an override gives: every value of a sweep, every item of a list; an interval's bounds
    (an interval cannot be listed: Optuna draws from it)."""
    if override.is_interval_sweep():
        return [override.value().start, override.value().end]
    if override.is_sweep_override():
        return list(override.sweep_string_iterator())
    value = override.value()
    return list(value) if isinstance(value, list) else [value]


def check_group_options(override: Override) -> None:
    group = override.key_or_group
    options = group_options(group)
    if options is None or override.is_delete() or group.startswith("hydra"):
        return
    if override.is_interval_sweep():
        raise ConfigError(group, f"a config group takes options, not an interval; choose among {options}")
    for value in values_of(override):
        if value is not None and str(value) != "null" and str(value) not in options:
            near = difflib.get_close_matches(str(value), options, n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            raise ConfigError(group, f"unknown option {value!r}{hint}; choose one of {options}")


def representative(override: Override) -> str | None:
    """The override with a sweep replaced by its first value; None for Hydra's own settings."""
    if override.key_or_group.startswith("hydra"):
        return None
    if not override.is_sweep_override():
        return override.input_line
    if override.is_interval_sweep():  # its lower bound: the key must exist and take a number
        return f"{override.get_key_element()}={override.value().start}"
    first = next(iter(override.sweep_string_iterator()), None)
    return None if first is None else f"{override.get_key_element()}={first}"


def compose_quietly(config_name: str, overrides: list[str]) -> DictConfig:
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose(config_name=config_name, overrides=overrides)


def target_arguments(target: str) -> list[str]:
    """The argument names of `target`: read from its source where it says (no import of torch for a typo),
    else from the imported object."""
    from_source = source_arguments(target)
    if from_source is not None:
        return from_source
    try:
        return list(inspect.signature(get_method(target)).parameters)
    except Exception:  # not importable here: no hint rather than a crash
        return []


def missing_key_error(config_name: str, overrides: list[str], line: str) -> ConfigError:
    """`model.dpeth: no such key; did you mean depth?` for a failed override of a key that is not there."""
    key = line.split("=", 1)[0].lstrip("+~")
    parent_key, _, name = key.rpartition(".")
    try:
        cfg = compose_quietly(config_name, [o for o in overrides if o != line])
        parent = OmegaConf.select(cfg, parent_key) if parent_key else cfg
    except Exception:
        parent = None
    names = [str(k) for k in parent] if isinstance(parent, DictConfig) else []
    target = parent.get("_target_") if isinstance(parent, DictConfig) else None
    if target and name in target_arguments(str(target)):
        return ConfigError(key, f"is an argument of {target} not set in the config; add it with +{line}")
    near = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(near)}?" if near else f"keys here: {sorted(names)}"
    return ConfigError(key, f"no such key; {hint} (to add a new key: +{line.lstrip('+')})")


def check_overrides(config_name: str, argv: list[str]) -> None:
    """Raise ConfigError for the first override Hydra would refuse (argv: the command line's arguments)."""
    args, _ = get_args_parser().parse_known_args(argv)
    if args.help or args.hydra_help or args.info or args.shell_completion or args.config_dir:
        return
    if args.config_path or args.config_name:
        return  # another config tree: Hydra reports on it itself
    try:
        parsed = OverridesParser.create().parse_overrides(args.overrides)
    except OverrideParseException as err:
        raise ConfigError("", f"cannot parse the overrides: {first_line(err)}") from None
    for override in parsed:
        check_group_options(override)
    lines = [line for line in map(representative, parsed) if line is not None]
    try:
        compose_quietly(config_name, lines)
    except MissingConfigException as err:
        raise ConfigError("", first_line(err)) from None
    except HydraException as err:
        message = first_line(err)
        if message.startswith("Could not override '"):
            failed = message.split("'")[1]
            line = next((o for o in lines if o.split("=", 1)[0].lstrip("+") == failed), failed)
            raise missing_key_error(config_name, lines, line) from None
        if message.startswith("Could not append to config. An item is already at '"):
            key = message.split("'")[1]
            raise ConfigError(key, f"already exists; set it without `+` ({key}=...)") from None
        raise ConfigError("", message) from None
    check_interval_keys(config_name, parsed, lines)


def check_interval_keys(config_name: str, parsed: list[Override], lines: list[str]) -> None:
    """An interval gives numbers: the key it sweeps must hold a number (or null) in the config."""
    intervals = [o for o in parsed if o.is_interval_sweep() and not o.key_or_group.startswith("hydra")]
    existing = [o for o in intervals if not (o.is_add() or o.is_force_add())]
    if not existing:
        return
    keys = {o.key_or_group for o in existing}
    try:  # the config without the intervals: the values they replace
        cfg = compose_quietly(config_name, [line for line in lines if line.split("=", 1)[0] not in keys])
    except HydraException:
        return
    for override in existing:
        value = OmegaConf.select(cfg, override.key_or_group, default=None, throw_on_resolution_failure=False)
        if isinstance(value, (bool, str, DictConfig, ListConfig)):
            raise ConfigError(
                override.key_or_group,
                f"holds {OmegaConf.to_container(value) if OmegaConf.is_config(value) else value!r}, not a number:"
                " an interval gives numbers; sweep it with choice(...)",
            )

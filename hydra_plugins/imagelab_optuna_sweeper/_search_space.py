"""Hydra sweep overrides → Optuna distributions, as hydra-optuna-sweeper maps them (plus `tag(int, ...)`).

- `choice(a, b)`, `a,b`, `shuffle(...)` → categorical
- `range(a, b[, step=s])` → integers (floats if a bound or the step is a float) a, a+s, ... **before b**:
  Hydra's meaning (and the official plugin's grid), in a grid and in every other search space alike
- `interval(a, b)` → floats; `int(interval(a, b))` → integers; `tag(log, ...)` → log scale;
  `tag(int, interval(a, b))` → the integers inside [a, b] (ceil(a)..floor(b))
- `key=value` → a fixed override; `~key` → a deletion
"""

from __future__ import annotations

import math
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution


class SearchSpaceError(ValueError):
    """A `hydra.sweeper.params` entry that cannot be turned into an Optuna distribution."""


def _is_int(*values: Any) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def _choice(value: Any) -> Any:
    """A categorical choice: Optuna stores str/int/float/bool/None; anything else as its Hydra text."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def distribution_of(override: Override) -> BaseDistribution | None:
    """The Optuna distribution of one sweep override (None for a fixed `key=value` or a `~key`)."""
    if override.is_delete() or not override.is_sweep_override():
        return None
    key = override.get_key_element()
    value = override.value()
    if isinstance(value, ChoiceSweep):
        return CategoricalDistribution([_choice(v) for v in value.list])
    if isinstance(value, RangeSweep):
        start, stop, step = value.start, value.stop, value.step
        if value.shuffle:
            return CategoricalDistribution(list(override.sweep_iterator()))
        # Hydra's range stops before `stop`: the values are start + i*step for i < ceil((stop - start) / step)
        count = math.ceil((stop - start) / step - 1e-9) if step is not None and step > 0 else 0
        if count < 1:
            raise SearchSpaceError(f"{key}: range({start}, {stop}, step={step}) is empty")
        if _is_int(start, stop, step):
            return IntDistribution(int(start), int(start + (count - 1) * step), step=int(step))
        last = round(start + (count - 1) * step, 12)
        return FloatDistribution(float(start), float(last), step=float(step))
    if isinstance(value, IntervalSweep):
        log_scale = "log" in value.tags
        low, high = value.start, value.end
        if not low < high:
            raise SearchSpaceError(f"{key}: interval({low}, {high}) needs low < high")
        if log_scale and low <= 0:
            raise SearchSpaceError(f"{key}: a log interval needs low > 0 (got {low})")
        if "int" in value.tags:  # Hydra parses interval ends as floats: stay inside them
            low, high = math.ceil(low), math.floor(high)
            if low > high:
                raise SearchSpaceError(f"{key}: no integer in {override.input_line.split('=', 1)[1]}")
            return IntDistribution(low, high, log=log_scale)
        if _is_int(low, high):  # int(interval(a, b)): Hydra cast the ends to integers
            return IntDistribution(low, high, log=log_scale)
        return FloatDistribution(float(low), float(high), log=log_scale)
    raise SearchSpaceError(f"{key}: unsupported sweep {override.input_line!r}")


def param_lines(params: dict | None, arguments: list[str], parser: OverridesParser) -> list[str]:
    """`params` as override lines, then the command-line ones; a command-line key replaces its entry."""
    given = {o.key_or_group for o in parser.parse_overrides(list(arguments))}
    lines = []
    for key, value in (params or {}).items():
        key = str(key)
        if key.lstrip("~+") in given:
            continue
        if key.startswith("~"):
            lines.append(key if value in (None, "") else f"{key}={value}")
        else:
            lines.append(f"{key}={'null' if value is None else value}")
    return lines + list(arguments)


def parse(lines: list[str], parser: OverridesParser) -> tuple[dict[str, BaseDistribution], list[str]]:
    """(name → distribution of the searched keys, the fixed override lines), later lines winning.

    A searched key's name keeps its prefix (`+w` for an appended key, as the official plugin names it),
    so that the trial's override `+w=0.5` adds the key as the sweep did.
    """
    space: dict[str, tuple[str, BaseDistribution]] = {}  # key → (name with its prefix, distribution)
    fixed: dict[str, str] = {}
    for override in parser.parse_overrides(lines):
        key = override.key_or_group
        dist = distribution_of(override)
        if dist is None:
            fixed[key] = override.input_line
            space.pop(key, None)
        else:
            space[key] = (override.get_key_element(), dist)
            fixed.pop(key, None)
    return dict(space.values()), list(fixed.values())


def grid_of(space: dict[str, BaseDistribution]) -> dict[str, list]:
    """The grid a GridSampler walks: every value of each (discrete) distribution, bounds included."""
    grid = {}
    for key, dist in space.items():
        if isinstance(dist, CategoricalDistribution):
            grid[key] = list(dist.choices)
        elif isinstance(dist, IntDistribution) and not dist.log:
            grid[key] = list(range(dist.low, dist.high + 1, dist.step))
        elif isinstance(dist, FloatDistribution) and dist.step is not None:
            n = round((dist.high - dist.low) / dist.step)
            grid[key] = [round(dist.low + i * dist.step, 12) for i in range(n + 1)]
        else:
            raise SearchSpaceError(
                f"{key}: the grid sampler needs discrete values (choice, range, int(interval)); got {dist}"
            )
    return grid


def grid_size(grid: dict[str, list]) -> int:
    return math.prod(len(v) for v in grid.values())

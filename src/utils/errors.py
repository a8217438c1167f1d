"""The two errors a user can cause: a bad config value and a bad input file.

Both carry what a person needs to fix the problem (the key or the file and line, and what was
expected); the entry points print them as one line and exit non-zero instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path


class ConfigError(ValueError):
    """A config key holds a value that cannot work. `key` is a dotted path such as `model.depth`."""

    def __init__(self, key: str, message: str):
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}" if key else message)

    def under(self, prefix: str) -> ConfigError:
        """The same error with its key placed under `prefix` (e.g. `depth` -> `model.depth`)."""
        return ConfigError(f"{prefix}.{self.key}" if self.key else prefix, self.message)


class DataError(ValueError):
    """An input file (image, mask, label, annotation, pairs list) is missing or malformed."""

    def __init__(self, path: str | Path, message: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")


def check(condition: bool, key: str, expected: str, value=None) -> None:
    """Raise ConfigError for `key` unless `condition` holds; `expected` says what is allowed."""
    if not condition:
        got = "" if value is None else f" (got {value!r})"
        raise ConfigError(key, f"expected {expected}{got}")


def check_choice(value, key: str, choices) -> None:
    """Raise ConfigError unless `value` is one of `choices`."""
    choices = list(choices)
    if value not in choices:
        raise ConfigError(key, f"unknown option {value!r}; choose one of {choices}")

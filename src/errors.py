"""The errors a user can cause: a bad config value, a bad input file, a run that diverged (NaN/inf).

Both carry what a person needs to fix the problem (the key or the file and line, and what was
expected); the entry points print them as one line and exit non-zero instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path


def _original_line(text: str, type_name: str) -> str:
    """The error's own line out of a DataLoader worker's re-raised traceback text.

    PyTorch re-raises an exception from a worker as `type(err)(traceback_text)`: one argument
    holding the whole traceback. Its last line is `<module>.<Type>: <the original message>`.
    """
    last = [line for line in text.strip().splitlines() if line.strip()][-1]
    marker = f"{type_name}: "
    return last.split(marker, 1)[1] if marker in last else last


class ConfigError(ValueError):
    """A config key holds a value that cannot work. `key` is a dotted path such as `model.net.depth`."""

    def __init__(self, key: str, message: str | None = None):
        if message is None:  # re-raised from a worker process: one argument, the traceback text
            key, _, message = _original_line(key, "ConfigError").partition(": ")
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}" if key else message)

    def __reduce__(self):
        return ConfigError, (self.key, self.message)

    def under(self, prefix: str) -> ConfigError:
        """The same error with its key placed under `prefix` (e.g. `depth` -> `model.net.depth`)."""
        return ConfigError(f"{prefix}.{self.key}" if self.key else prefix, self.message)


class NonFiniteError(FloatingPointError):
    """A loss, metric or weight became NaN/inf; the message says where and what to try."""


class DataError(ValueError):
    """An input file (image, mask, label, annotation, pairs list) is missing or malformed."""

    def __init__(self, path: str | Path, message: str | None = None, line: int | None = None):
        if message is None:  # re-raised from a worker process: one argument, the traceback text
            path, _, message = _original_line(str(path), "DataError").partition(": ")
        self.message = message
        self.path = str(path)
        self.line = line
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")

    def __reduce__(self):  # pickles with its fields (multiprocessing launchers, spawn workers)
        return DataError, (self.path, self.message, self.line)


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


def build_named(key: str, factory, own_keys: tuple[str, ...] = (), **kwargs):
    """`factory(**kwargs)`: the partial of a config-group option (`net`, `loss`, `backbone`) completed
    with what its owner knows; its config errors are named under `key` (`net.depth`), except those about
    `own_keys`, which are the owner's own arguments."""
    try:
        return factory(**kwargs)
    except ConfigError as err:
        own = err.key in own_keys or err.key == key or err.key.startswith(f"{key}.")
        raise (err if own else err.under(key)) from None
    except TypeError as err:  # a key of the option's YAML removed (`~model.net.depth`)
        raise ConfigError(key, str(err)) from None

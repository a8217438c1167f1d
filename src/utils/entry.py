"""Wraps an entry point: user errors (bad config, bad file) print as one line and exit non-zero."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from src.utils.instantiate import user_error_in

log = logging.getLogger("imagelab")


def in_multirun() -> bool:
    try:
        return HydraConfig.get().mode == RunMode.MULTIRUN
    except ValueError:
        return False


def run_task(fn: Callable, cfg):
    """Run `fn(cfg)`; on a ConfigError/DataError print `Error: <key or file>: <what>` and exit 2.

    In a multirun the error is re-raised so that the sweep's failure policy records the job.
    """
    try:
        return fn(cfg)
    except Exception as err:
        user_err = user_error_in(err)
        if user_err is None:
            raise
        kind = "Config error" if type(user_err).__name__ == "ConfigError" else "Data error"
        if in_multirun():
            raise user_err from None
        log.error("%s: %s", kind, user_err)  # Hydra's job logging shows it on the console and in the log file
        sys.exit(2)

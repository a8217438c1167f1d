"""Wraps an entry point: user errors (bad config, bad file) print as one line and exit 2.

`preflight(config_name)` runs before Hydra: an unknown group option or a misspelled key on the command
line becomes one line too (Hydra would print its own multi-line message and exit 1).

In a multirun (`-m`, or a search) a failing job does not stop the sweep when
`sweep_continue_on_error: true` (the default): its error is logged and written to the job's
`status.json`, the job returns None (an Optuna search records a failed trial) and the other jobs go on.
A rerun of a multirun in the same sweep folder skips / resumes / reruns each job (src.runtime.runs.sweep_resume).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from src.errors import NonFiniteError
from src.runtime.config.instantiate import user_error_in
from src.runtime.runs import sweep_resume
from src.runtime.runs.ddp import job_scope
from src.runtime.runs.job_status import JobStatus

log = logging.getLogger("imagelab")


def preflight(config_name: str, argv: list[str] | None = None) -> None:
    """Check the command line's overrides before Hydra composes them; one line and exit 2 if bad."""
    from src.errors import ConfigError
    from src.runtime.config.help_listing import HELP_FLAGS, one_repository_for_help
    from src.runtime.config.overrides_check import check_overrides

    argv = sys.argv[1:] if argv is None else argv
    if any(flag in argv for flag in HELP_FLAGS):
        one_repository_for_help()  # Hydra's help would copy its config repository once per group
    try:
        check_overrides(config_name, argv)
    except ConfigError as err:
        print(f"Config error: {err}", file=sys.stderr)
        sys.exit(2)


def in_multirun() -> bool:
    try:
        return HydraConfig.get().mode == RunMode.MULTIRUN
    except ValueError:
        return False


def _task_overrides() -> list[str]:
    try:
        return list(HydraConfig.get().overrides.task)
    except ValueError:  # no Hydra runtime (tests calling run_task directly)
        return []


def _run_dir(cfg) -> Path | None:
    try:
        return Path(cfg.paths.output_dir)
    except Exception:  # no paths group (or no Hydra runtime): no status file
        return None


def finish_wandb(failed: bool) -> None:
    """Close this job's W&B run (flushes an offline run file; marks a failed job's run as failed)."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish(exit_code=1 if failed else 0)


def run_task(fn: Callable, cfg):
    """Run `fn(cfg)`; on a ConfigError/DataError, a NaN/inf stop (NonFiniteError) or an output-folder
    fault (OSError: read-only, disk full) print `<kind>: <key or file>: <what>` and exit 2.

    In a multirun the error is logged and the job returns None (or, with
    `sweep_continue_on_error=false`, re-raised so that Hydra stops the sweep).
    """
    run_dir = _run_dir(cfg)
    overrides = _task_overrides()
    try:
        decision = sweep_resume.plan(cfg, run_dir, overrides, in_multirun()) if run_dir is not None else None
    except ValueError as err:  # the job's folder is in use by another run of the sweep: leave it alone
        log.error("job skipped: %s", err)
        return None
    if decision is not None and decision.action == "skipped":
        sweep_resume.mark_skipped(run_dir)
        return decision.value
    extra = {"overrides": overrides, **({"resume": decision.action} if decision else {})}
    status = JobStatus(run_dir, **extra) if run_dir is not None else None
    if status:
        status.start()
    try:
        with job_scope():  # DDP state of this job does not leak into the next job of a multirun
            value = fn(cfg)
    except KeyboardInterrupt:
        if status:
            status.finish("interrupted", "KeyboardInterrupt")
        finish_wandb(failed=True)
        raise
    except Exception as err:
        user_err = user_error_in(err) or (err if isinstance(err, NonFiniteError | OSError) else None)
        if status:
            status.finish("failed", user_err or err)
        finish_wandb(failed=True)
        if in_multirun():
            if not cfg.get("sweep_continue_on_error", True):
                raise (user_err or err) from None
            if user_err is None:
                log.exception("job failed; the sweep goes on (sweep_continue_on_error=true)")
            else:
                log.error("job failed: %s; the sweep goes on (sweep_continue_on_error=true)", user_err)
            return None
        if user_err is None:
            raise
        kind = {"ConfigError": "Config error", "NonFiniteError": "Training stopped"}.get(
            type(user_err).__name__, "Error" if isinstance(user_err, OSError) else "Data error"
        )
        log.error("%s: %s", kind, user_err)  # Hydra's job logging prints it and writes the log file
        sys.exit(2)
    if status:
        status.finish("ok")
    finish_wandb(failed=False)
    return value

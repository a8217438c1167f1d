"""A rerun of a multirun in the same `hydra.sweep.dir` resumes it (`sweep_resume: true`, the default).

Before a job runs, its run folder's `status.json` from the previous run of the sweep decides:
- `ok` with the same overrides (and its metrics.json) → **skipped**: nothing runs, the job keeps its
  results and returns its `optimized_metric` as before;
- `interrupted`, or `running` (the sweep was killed), with a `checkpoints/last.ckpt` → **resumed** from it
  (`ckpt_path=last` for a training job);
- `failed`, interrupted before its first checkpoint, or a folder another job (other overrides) left →
  **rerun** from scratch, its old checkpoints removed first (no `epoch_001-v1.ckpt` duplicates).
What happened is written to `status.json` (`resume`) and shown in the sweep's summary.md.
`sweep_resume=false` gives Hydra's plain behaviour: every job runs again.
A sweep with other overrides into a folder that holds a sweep's jobs is refused before any job runs
(`check_sweep_folder`): its job folders would mix with the old ones.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, open_dict

log = logging.getLogger("imagelab")


@dataclass
class Decision:
    action: str  # skipped | resumed | rerun
    value: Any = None  # what a skipped job returns


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _alive_here(status: dict) -> bool:
    """True when the job's process is on this machine and still exists (another run of the same sweep)."""
    import os
    import socket

    pid = status.get("pid")
    if not isinstance(pid, int) or status.get("host") != socket.gethostname() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _value(cfg: DictConfig, metrics: dict) -> Any:
    names = cfg.get("optimized_metric")
    if isinstance(names, (list, tuple, ListConfig)):
        return [metrics.get(n) for n in names]
    return metrics.get(names or "")


def plan(cfg: DictConfig, run_dir: Path, overrides: list[str], multirun: bool) -> Decision | None:
    """What to do with this job given what the previous run of the sweep left in `run_dir` (None: a new
    job, or not a resumable sweep). Applies the decision to the run folder and to `cfg` (`ckpt_path`)."""
    from src.runtime.runs.job_status import is_global_zero

    if not multirun or not cfg.get("sweep_resume") or not is_global_zero():
        return None
    previous = _read(run_dir / "status.json")
    if not previous:
        return None
    same = previous.get("overrides") == list(overrides)
    status = previous.get("status")
    if status == "running" and _alive_here(previous):
        from src.errors import ConfigError

        raise ConfigError(
            f"hydra.sweep.dir: job {run_dir.name} is still running in process {previous.get('pid')}"
            " (another run of this sweep); wait for it, or use another hydra.sweep.dir"
        )
    metrics = _read(run_dir / "metrics.json")
    if same and status == "ok" and metrics:
        log.info("sweep_resume: %s already finished ok with the same overrides: skipped", run_dir.name)
        return Decision("skipped", _value(cfg, metrics))
    last = run_dir / "checkpoints" / "last.ckpt"
    trains = bool(cfg.get("train", False)) and "ckpt_path" in cfg
    if (
        same
        and status in ("running", "interrupted")
        and last.is_file()
        and trains
        and not cfg.get("ckpt_path")
    ):
        with open_dict(cfg):
            cfg.ckpt_path = "last"
        log.info("sweep_resume: %s was interrupted: resumed from %s", run_dir.name, last)
        return Decision("resumed")
    if (run_dir / "checkpoints").is_dir():
        shutil.rmtree(run_dir / "checkpoints")
    for name in ("metrics.json",):
        (run_dir / name).unlink(missing_ok=True)
    log.info("sweep_resume: %s was %s: run again from scratch", run_dir.name, status or "unknown")
    return Decision("rerun")


def check_sweep_folder(sweep_dir: Path, overrides: list[str], multirun_file: str = "multirun.yaml") -> None:
    """Refuse (ConfigError, one line) a sweep into a folder whose jobs another sweep (other overrides)
    left: its job folders would be mixed with this one's. The same command resumes (see `plan`)."""
    from src.errors import ConfigError

    record = sweep_dir / multirun_file
    if not record.is_file() or not any(sweep_dir.glob("*/status.json")):
        return
    try:
        from omegaconf import OmegaConf

        before = [str(o) for o in OmegaConf.load(record).hydra.overrides.task]
    except Exception:  # not a record we can read: let the jobs decide one by one
        return
    if before == list(overrides):
        return
    gone = [o for o in before if o not in overrides]
    new = [o for o in overrides if o not in before]
    shown = f"it was swept with {' '.join(gone) or '(nothing else)'}; now {' '.join(new) or '(nothing else)'}"
    raise ConfigError(
        "hydra.sweep.dir",
        f"{sweep_dir} holds a sweep with other overrides ({shown}): rerun that sweep's command to resume"
        " it, or give another hydra.sweep.dir",
    )


def mark_skipped(run_dir: Path) -> None:
    """Keep the skipped job's status.json (its run time, its metrics) and say it was skipped."""
    path = run_dir / "status.json"
    record = {**_read(path), "resume": "skipped"}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(path)

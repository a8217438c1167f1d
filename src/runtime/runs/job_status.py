"""`status.json` in the run folder: running | ok | failed | interrupted, the error, the run time (and, in a
multirun, the job's overrides and what a rerun of the sweep did with it: `resume`).

Written by `src.runtime.runs.entry.run_task` on the global-rank-0 process only, read back by the sweep
report (`src.outputs.sweep_report`) so that a failed or still-running job is a row of the summary.
"""

from __future__ import annotations

import json
import os
import socket
import time
from datetime import datetime, timezone
from pathlib import Path


def is_global_zero() -> bool:
    """True unless the environment says this is a non-zero rank (DDP children, other nodes)."""
    for var in ("RANK", "LOCAL_RANK", "SLURM_PROCID", "NODE_RANK", "GROUP_RANK"):
        value = os.environ.get(var)
        if value not in (None, "") and value.isdigit() and int(value) != 0:
            return False
    return True


class JobStatus:
    """Tracks one run: `start()` writes `running`, `finish(...)` the outcome and the run time."""

    def __init__(self, run_dir: str | Path, **extra):
        self.path = Path(run_dir) / "status.json"
        self.started = time.time()
        self.enabled = is_global_zero()
        self.extra = (
            extra  # e.g. the job's overrides and what a resumed sweep did (src.runtime.runs.sweep_resume)
        )

    def _write(self, **fields) -> None:
        if not self.enabled:
            return
        record = {
            "started": datetime.fromtimestamp(self.started, timezone.utc).isoformat(timespec="seconds"),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            **self.extra,
            **fields,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(record, indent=2) + "\n")
        tmp.replace(self.path)

    def start(self) -> None:
        self._write(status="running", error=None, runtime_s=None)

    def finish(self, status: str, error: BaseException | str | None = None) -> None:
        message = None
        if error is not None:
            if not isinstance(error, str):
                seen = {id(error)}
                while error.__cause__ is not None and id(error.__cause__) not in seen:  # the root cause, e.g.
                    error = error.__cause__  # what a target raised inside Hydra's InstantiationException
                    seen.add(id(error))
            message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
            if "Traceback" in message:  # e.g. a DDP child's error: keep its last line (the exception)
                lines = [line for line in message.splitlines() if line.strip()]
                message = f"{message.split(':', 1)[0]}: {lines[-1].strip()}"
        self._write(status=status, error=message, runtime_s=round(time.time() - self.started, 2))

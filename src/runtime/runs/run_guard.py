"""Hydra callback (conf/hydra/default.yaml): lock the run folder and check a resume, before Hydra writes.

`on_run_start` runs before Hydra creates the folder, writes `.hydra/` and opens `train.log`: a second
process into a held folder, or `ckpt_path=last` with another model than the folder's, stops there with
one line and exit code 2, leaving the folder as it was. DDP's relaunched ranks skip it (rank 0 holds it).
`on_multirun_start`: a sweep with other overrides into a folder holding another sweep's jobs is refused
the same way (the same command resumes).
"""

from __future__ import annotations

import sys
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from src.errors import ConfigError
from src.runtime.checkpoints.saved_config import check_resume_config
from src.runtime.runs.job_status import is_global_zero
from src.runtime.runs.run_lock import RunLocked, acquire
from src.runtime.runs.sweep_resume import check_sweep_folder


def _refuse(message: str) -> None:
    print(f"Error: {message}", file=sys.stderr)
    sys.exit(2)


class RunGuard(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        if not config.get("sweep_resume", True):
            return  # Hydra's plain behaviour: every job runs again
        overrides = [str(o) for o in config.hydra.overrides.task]
        try:
            check_sweep_folder(Path(str(config.hydra.sweep.dir)), overrides)
        except ConfigError as err:
            _refuse(f"Config error: {err}")

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        if not is_global_zero():
            return
        run_dir = Path(str(config.hydra.run.dir))
        ckpt = config.get("ckpt_path")
        if ckpt == "last" or (ckpt not in (None, "") and Path(str(ckpt)).resolve() == run_dir.resolve()):
            try:
                check_resume_config(run_dir, config)
            except ConfigError as err:
                _refuse(f"Config error: {err}")
        try:
            acquire(run_dir)
        except RunLocked as err:
            _refuse(str(err))
        except OSError as err:  # read-only, missing parent, full: name the folder, not a traceback
            _refuse(f"{run_dir}: cannot write to the output folder ({err.strerror or err})")

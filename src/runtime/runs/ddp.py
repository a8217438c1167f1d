"""DDP inside a Hydra multirun with Lightning's `popen` launcher (trainer=ddp's start_method).

Lightning's subprocess launcher starts ranks 1..N-1 by re-running the script with `sys.argv[1:]` plus
`hydra.run.dir=<hydra.run.dir>`. In a multirun that command line is the whole sweep (`-m a=1,2`) and
`hydra.run.dir` is not the job's folder, so every rank would start a sweep of its own in a new folder.
`prepare_ddp_relaunch` makes that command this one job: the job's own overrides and its run folder.
The `spawn` start method (trainer=ddp_cpu) needs none of this: it forks no script.
"""

from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import read_write

log = logging.getLogger("imagelab")


def prepare_ddp_relaunch(trainer) -> bool:
    """In a multirun job using the popen launcher: point the relaunch command at this job. True if done."""
    launcher = getattr(trainer.strategy, "launcher", None)
    if launcher is None or type(launcher).__name__ != "_SubprocessScriptLauncher":
        return False
    if os.environ.get("LOCAL_RANK") not in (None, "0"):
        return False  # a relaunched rank: its command line already is the job's
    try:
        hc = HydraConfig.get()
    except ValueError:
        return False
    if hc.mode != RunMode.MULTIRUN:
        return False
    sys.argv = [sys.argv[0], *hc.overrides.task]
    with read_write(hc):
        hc.run.dir = hc.runtime.output_dir
    log.info("DDP (popen) in a multirun: ranks relaunch as `%s` in %s", " ".join(sys.argv[1:]), hc.run.dir)
    return True


# set by Lightning's popen launcher in the launching process (rank 0) for the whole process lifetime
DDP_ENV = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")


@contextmanager
def job_scope():
    """Run one job so that the next job of a multirun in this process starts with a clean DDP state.

    Lightning's popen launcher leaves the process group initialised and `LOCAL_RANK`, `WORLD_SIZE`,
    `MASTER_PORT`... in `os.environ` of rank 0. The next job would take those for an external launcher
    (and start no ranks), or talk to the previous job's ranks, which have exited. Afterwards this
    destroys the process group and restores those variables as they were before the job.
    """
    before = {k: os.environ.get(k) for k in DDP_ENV}
    try:
        yield
    finally:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

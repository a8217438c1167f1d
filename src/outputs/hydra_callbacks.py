"""Hydra callbacks (wired in conf/hydra/default.yaml): the sweep summary after each job and at the end.

`SweepSummary` rebuilds `summary.csv|md|png` in the sweep folder when a job ends (so a running sweep
always has an up-to-date summary) and when the multirun ends, then logs where it is and how many
jobs failed; with a W&B logger the summary goes to W&B as well (src/loggers/wandb_sweep.py). It never
raises: a broken summary must not turn a finished sweep into a failed one.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from src.outputs.sweep_report import write_summary

log = logging.getLogger("imagelab")


class SweepSummary(Callback):
    def __init__(self, enabled: bool = True):
        self.enabled = enabled

    def _write(self, sweep_dir: Path) -> dict | None:
        try:
            return write_summary(sweep_dir)
        except Exception as err:  # the report is a convenience: report the problem, keep the sweep's result
            log.warning("could not write the sweep summary in %s: %s", sweep_dir, err)
            return None

    def _to_wandb(self, sweep_dir: Path, config: DictConfig) -> None:
        from src.loggers.wandb_sweep import log_sweep_summary, wandb_node

        try:
            node = wandb_node(config)
            if node is not None:
                run_id = log_sweep_summary(sweep_dir, node)
                if run_id:
                    log.info("Sweep summary in W&B: run %s of group %s", run_id, sweep_dir.name)
        except Exception as err:  # as above: the sweep's result stands
            log.warning("could not log the sweep summary to W&B: %s", err)

    def on_job_end(self, config: DictConfig, job_return, **kwargs) -> None:
        if not self.enabled or config.hydra.mode != RunMode.MULTIRUN:
            return
        self._write(Path(config.hydra.sweep.dir))

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        if not self.enabled:
            return
        sweep_dir = Path(config.hydra.sweep.dir)
        result = self._write(sweep_dir)
        if result is None:
            return
        self._to_wandb(sweep_dir, config)
        counts = result["counts"]
        log.info(
            "Sweep summary: %s (%d jobs, %d failed)",
            sweep_dir / "summary.md",
            len(result["jobs"]),
            counts["failed"],
        )
        if counts["failed"]:
            failed = [j for j in result["jobs"] if j.status == "failed"]
            for job in failed:
                log.error("job %s failed: %s", job.name, job.error)

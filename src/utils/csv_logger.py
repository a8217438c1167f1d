"""Lightning's CSVLogger, safe when several processes write one run's metrics.csv in turn.

Lightning's writer keeps the CSV header in memory only. With DDP's `spawn` start method every stage
(fit, validate, test) runs in fresh processes holding a copy of the logger from before the stage, so
the validate stage rewrites metrics.csv with only its own keys and fails on the rows fit wrote
("dict contains fields not in fieldnames"). This writer merges the header already on disk first.
"""

from __future__ import annotations

import csv

from lightning.fabric.loggers.csv_logs import _ExperimentWriter as FabricWriter
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment


class MergingExperimentWriter(ExperimentWriter):
    def _record_new_keys(self) -> set[str]:
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as file:
                on_disk = next(csv.reader(file), [])
            self.metrics_keys.extend(k for k in on_disk if k not in self.metrics_keys)
        return super()._record_new_keys()


class MultiProcessCSVLogger(CSVLogger):
    """CSVLogger whose experiment writer merges the header already on disk (see the module docstring)."""

    @property
    @rank_zero_experiment
    def experiment(self) -> FabricWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = MergingExperimentWriter(log_dir=self.log_dir)
        return self._experiment

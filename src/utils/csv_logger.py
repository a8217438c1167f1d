"""Lightning's CSVLogger, safe across processes: a writer that appends to an existing metrics.csv.

Lightning's writer remembers the header only in memory, so a second process writing the same file
(DDP spawn running validate/test after fit, or a run resumed with `ckpt_path=last`) rewrites it with a
partial header and fails. This writer adopts the file's header first.
"""

from __future__ import annotations

import csv

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers import CSVLogger as _CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter


class AppendingExperimentWriter(ExperimentWriter):
    def save(self) -> None:
        if self.metrics and not self.metrics_keys and self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as file:
                self.metrics_keys = next(csv.reader(file), [])
        super().save()

    def _check_log_dir_exists(self) -> None:
        """Appending to an existing run folder is intended (resume), so no warning."""


class CSVLogger(_CSVLogger):
    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = AppendingExperimentWriter(log_dir=self.log_dir)
        return self._experiment

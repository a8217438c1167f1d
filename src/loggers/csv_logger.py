"""Lightning's CSVLogger, safe when several processes write one run's metrics.csv in turn.

Lightning's writer keeps the CSV header in memory only. With DDP's `spawn` start method every stage
(fit, validate, test) runs in fresh processes holding a copy of the logger from before the stage, so
the validate stage rewrites metrics.csv with only its own keys and fails on the rows fit wrote
("dict contains fields not in fieldnames"). This writer merges the header already on disk first.

It also never deletes the file it finds (Lightning's does): a run resumed with `ckpt_path=last` appends
to its history; `drop_rows_from(step)` first removes the rows a killed run logged after its checkpoint.
"""

from __future__ import annotations

import csv

from lightning.fabric.loggers.csv_logs import _ExperimentWriter as FabricWriter
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment


class MergingExperimentWriter(ExperimentWriter):
    def _check_log_dir_exists(self) -> None:
        """Keep an existing metrics.csv: it is this run folder's history (see the module docstring)."""

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

    def drop_rows_from(self, step: int) -> int:
        """Remove the rows logged at `step` or later (after the checkpoint a resumed run starts from)."""
        path = f"{self.log_dir}/{ExperimentWriter.NAME_METRICS_FILE}"
        if not self._fs.isfile(path):
            return 0
        with self._fs.open(path, "r", newline="") as file:
            reader = csv.DictReader(file)
            header, rows = reader.fieldnames or [], list(reader)
        keep = [r for r in rows if not r.get("step") or int(float(r["step"])) < step]
        if len(keep) < len(rows):
            with self._fs.open(path, "w", newline="") as file:
                writer = csv.DictWriter(file, fieldnames=header)
                writer.writeheader()
                writer.writerows(keep)
        return len(rows) - len(keep)

    def after_save_checkpoint(self, checkpoint_callback) -> None:
        """Flush with every checkpoint: what was logged before it is on disk when a resume continues from it."""
        self.save()

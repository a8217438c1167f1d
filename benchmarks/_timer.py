"""A Lightning callback that writes each training epoch's wall-clock time (rank 0) to a JSON file.

Used by the benchmarks that run `train.py` as a user does (DDP included):
`+callbacks.epoch_timer._target_=benchmarks._timer.EpochTimer +callbacks.epoch_timer.path=<file>`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import lightning.pytorch as pl


class EpochTimer(pl.Callback):
    def __init__(self, path: str):
        self.path = Path(path)
        self.epochs: list[dict] = []
        self._t0 = 0.0

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._t0 = time.perf_counter()
        self._batches = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._batches += 1

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        seconds = time.perf_counter() - self._t0
        self.epochs.append({"seconds": seconds, "batches": self._batches})
        if trainer.is_global_zero:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps({"world_size": trainer.world_size, "epochs": self.epochs}))

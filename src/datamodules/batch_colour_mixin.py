"""DataModule mixin: training batches get their colour jitter and normalisation on the device, per batch.

With `batch_colour: true` the loader workers leave colour out and hand over [0, 1] images;
`on_after_batch_transfer` then jitters and normalises the whole batch (src/data/common/colour_jitter.py) with
factors drawn from (run seed, epoch, batch index, rank), so resuming a run replays them. Validation,
test and prediction batches are normalised in the workers as before.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from src.data.common.colour_jitter import jitter_batch


class BatchColour:
    def init_batch_colour(self, enabled: bool, augment, mean, std) -> None:
        """Remember the colour settings; `worker_colour` gives what the workers then apply."""
        self.batch_colour = bool(enabled)
        on = augment.enabled and self.batch_colour
        self.batch_strength = float(augment.color_jitter) if on else 0.0
        self.batch_hue = float(augment.hue) if on else 0.0
        self.batch_mean, self.batch_std = mean, std

    def worker_colour(self, augment, mean, std):
        """(augment, mean, std) for the training workers: colour and normalisation off with batch_colour."""
        if not self.batch_colour:
            return augment, mean, std
        return replace(augment, color_jitter=0.0, hue=0.0), None, None

    def colour_batch(self, batch, epoch: int, batch_index: int, rank: int = 0, seed: int | None = None):
        """A training batch `(images, ...)` with its images jittered and normalised."""
        images = jitter_batch(
            batch[0],
            self.batch_strength,
            self.batch_hue,
            self.batch_mean,
            self.batch_std,
            torch.initial_seed() if seed is None else seed,
            epoch,
            batch_index * 1024 + rank,
        )
        return (images, *batch[1:])

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        trainer = getattr(self, "trainer", None)
        if not self.batch_colour or trainer is None or not trainer.training:
            return batch
        index = trainer.fit_loop.epoch_loop.batch_progress.current.ready  # this batch's index in the epoch
        return self.colour_batch(batch, trainer.current_epoch, index, trainer.global_rank)

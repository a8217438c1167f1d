"""Exponential moving average of the weights, for every model: Lightning's EMAWeightAveraging with a
warm-up of the decay (YOLOv5's ramp: decay · (1 − exp(−updates / warmup_steps))), so the first updates
follow the fast-moving weights instead of averaging in the random init.

Lightning swaps the averaged weights in for validation, writes them as the checkpoint's `state_dict`
(the raw weights under `current_model_state`) and copies them into the module when fitting ends, so
test, eval.py and predict.py use them too. Selected by `callbacks/ema` (on by default for the detectors).
"""

from __future__ import annotations

from functools import partial

import torch
from lightning.pytorch.callbacks import EMAWeightAveraging

from src.errors import check


def warmup_ema(
    decay: float,
    warmup_steps: float,
    averaged: torch.Tensor,
    current: torch.Tensor,
    num_averaged: torch.Tensor,
) -> torch.Tensor:
    """One EMA update; `num_averaged` updates came before this one (the first one copies the weights)."""
    d = decay * (1 - torch.exp(-num_averaged.double() / warmup_steps)) if warmup_steps > 0 else decay
    d = torch.as_tensor(d, dtype=torch.float32, device=averaged.device)
    if not averaged.is_floating_point():  # integer buffers (BatchNorm's batch counter) follow the model
        return current
    return averaged * d.to(averaged.dtype) + current * (1 - d).to(averaged.dtype)


class WarmupEMAWeightAveraging(EMAWeightAveraging):
    def __init__(self, decay: float, warmup_steps: float, update_starting_at_step: int):
        check(0 < decay < 1, "decay", "a value in (0, 1)", decay)
        check(
            warmup_steps >= 0,
            "warmup_steps",
            "a number of optimizer steps >= 0 (0 = no warm-up)",
            warmup_steps,
        )
        check(
            isinstance(update_starting_at_step, int) and update_starting_at_step >= 0,
            "update_starting_at_step",
            "an integer >= 0",
            update_starting_at_step,
        )
        super().__init__(decay=decay, update_starting_at_step=update_starting_at_step)
        self.decay, self.warmup_steps = decay, warmup_steps
        self._kwargs["avg_fn"] = partial(warmup_ema, decay, float(warmup_steps))

    def teardown(self, trainer, pl_module, stage: str) -> None:
        # Fitting has ended and copied the average into the module: a later validate/test with the best
        # checkpoint must neither swap this run's final average back in nor load the checkpoint's raw
        # weights (`current_model_state`) instead of its averaged `state_dict`.
        if stage == "fit":
            self._average_model = None

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        if self._average_model is not None:  # resuming a fit; otherwise the state_dict is what is wanted
            super().on_load_checkpoint(trainer, pl_module, checkpoint)

"""Non-finite values stop the run: losses and the main metric of validation/test, and saved weights.

The training loss is checked every step (`TaskModule.check_finite`). This callback, always added by
the pipeline, checks the validation/test losses and the monitored metric when an evaluation ends
(before the checkpoint callbacks, which Lightning runs last, can save), and every checkpoint's weights
before it is written: a run that diverged never leaves a `best` or `last` checkpoint of inf/NaN weights.
Each failure is a `NonFiniteError`: the entry prints its one line (where, what, a hint) and exits 2.
"""

from __future__ import annotations

import math

import lightning.pytorch as pl
import torch

from src.errors import NonFiniteError

HINT = "Lower model.optim.lr, enable trainer.gradient_clip_val, or check the inputs/labels."


def _where(trainer: pl.Trainer) -> str:
    return f"epoch {trainer.current_epoch}, step {trainer.global_step}"


class FiniteGuard(pl.Callback):
    def _check_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        monitor = getattr(pl_module, "monitor", "") or ""
        watched = {monitor, monitor.replace("val/", f"{stage}/", 1)}
        bad = {}
        for key, value in trainer.callback_metrics.items():
            if not key.startswith(f"{stage}/") or not ("loss" in key or key in watched):
                continue
            value = float(value.detach().float().mean()) if isinstance(value, torch.Tensor) else float(value)
            if not math.isfinite(value):
                bad[key] = value
        if bad:
            raise NonFiniteError(f"non-finite {stage} values at {_where(trainer)}: {bad}. {HINT}")

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._check_metrics(trainer, pl_module, "val")

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._check_metrics(trainer, pl_module, "test")

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict
    ) -> None:
        # parameters and normalisation statistics; other buffers may hold inf/NaN on purpose (a
        # verifier's threshold before its first calibration)
        watched = {n for n, _ in pl_module.named_parameters()}
        watched |= {n for n, _ in pl_module.named_buffers() if n.endswith(("running_mean", "running_var"))}
        for name, tensor in checkpoint.get("state_dict", {}).items():
            if name not in watched or not torch.is_tensor(tensor) or not tensor.is_floating_point():
                continue
            if not torch.isfinite(tensor).all():
                raise NonFiniteError(
                    f"non-finite weights at {_where(trainer)} ({name}); the checkpoint is not saved. {HINT}"
                )

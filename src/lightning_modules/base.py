"""What every task's LightningModule shares: optimizer/schedule, loss logging, NaN guard, plots.

A task module holds a plain `nn.Module` in `self.net`, implements `compute_losses(batch)` returning
a dict of loss terms with the total under "loss", and its own validation/test steps and metrics.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities import rank_zero_only

from src.lightning_modules.finetune import PretrainedFreeze
from src.lightning_modules.optim import build_optimizer, check_optim
from src.runtime.callbacks.finite_guard import HINT, NonFiniteError


def plain_node(node: Callable) -> dict:
    """`functools.partial(f, **keys)` -> {"_target_": "module.f", **keys} (a config node again); a partial
    among the keys (a head's backbone) becomes a node too."""
    func = getattr(node, "func", node)
    keys = {k: plain_node(v) if callable(v) else v for k, v in getattr(node, "keywords", {}).items()}
    return {"_target_": f"{func.__module__}.{func.__qualname__}", "_partial_": True, **keys}


class TaskModule(pl.LightningModule):
    """`optim` / `schedule`: `_partial_` nodes of conf/model/optim/ and conf/model/schedule/;
    `monitor`: the main validation metric (maximised), set by the model's YAML only;
    `freeze_pretrained_epochs` / `pretrained_lr_mult`: fine-tuning of `pretrained_part()` (finetune.py)."""

    task: str = ""  # segmentation | detection | verification; matched against the DataModule's

    def __init__(
        self,
        *,
        optim: Callable,
        schedule: Callable,
        monitor: str,
        plot_every_n_epochs: int | None,
        num_plot_images: int,
        freeze_pretrained_epochs: int,
        pretrained_lr_mult: float,
    ):
        super().__init__()
        check_optim(optim, schedule)
        self.finetune = PretrainedFreeze(freeze_pretrained_epochs, pretrained_lr_mult)
        self.optim, self.schedule, self.monitor = optim, schedule, monitor
        self.plot_every_n_epochs = plot_every_n_epochs
        self.num_plot_images = num_plot_images
        self._term_sums: dict[str, tuple[torch.Tensor, int]] = {}  # loss term -> (weighted sum, samples)
        self._step_terms: list[tuple[dict[str, torch.Tensor], int]] = []  # ({term: value}, batch size)
        # "<stage>/confusion_matrix" -> {"labels", "matrix"}: the last evaluation's, for metrics.json
        self.confusion: dict[str, dict] = {}

    def save_hparams(self, **partials: Callable) -> None:
        """`save_hyperparameters` of the calling `__init__`, with its `_partial_` nodes stored as plain
        dicts (`_target_` + keys), so checkpoints hold no callables and load with `weights_only`."""
        frame = inspect.currentframe().f_back
        self.save_hyperparameters(logger=False, ignore=list(partials), frame=frame)
        self.hparams.update({name: plain_node(node) for name, node in partials.items()})

    # ---- training -------------------------------------------------------------------------------------
    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        # every task defines compute_losses(batch) -> {"loss": total, "<term>": ...}
        losses = self.compute_losses(batch)
        self.check_finite(losses)
        bs = self.batch_size_of(batch)
        self._keep_terms(losses, bs)
        if self._logs_this_step(batch_idx):
            self.log("train/loss_step", losses["loss"].detach(), prog_bar=True, batch_size=bs, sync_dist=True)
        return losses["loss"]

    # Each `self.log` call costs Lightning about 1.5 ms on the CPU, several % of a small model's step
    # (benchmarks/overhead.py): the step loss is logged only on the steps the loggers write (and the
    # first), and every term's epoch mean is summed here and logged once per epoch. The terms are kept
    # as detached values and summed every FOLD_EVERY steps (one stack per term, not ~3 tensor ops per
    # term and step).
    def _logs_this_step(self, batch_idx: int) -> bool:
        every = max(1, int(getattr(self._trainer, "log_every_n_steps", 1) or 1))
        return batch_idx == 0 or (self.global_step + 1) % every == 0

    FOLD_EVERY = 64  # steps whose loss terms are kept before they are summed (bounds their memory)

    def _keep_terms(self, losses: dict[str, torch.Tensor], batch_size: int) -> None:
        self._step_terms.append(({key: value.detach() for key, value in losses.items()}, batch_size))
        if len(self._step_terms) >= self.FOLD_EVERY:
            self._fold_terms()

    def _fold_terms(self) -> None:
        """Add the kept steps' terms, weighted by their batch sizes, to the epoch's sums."""
        steps, self._step_terms = self._step_terms, []
        with torch.no_grad():
            for key in dict.fromkeys(key for terms, _ in steps for key in terms):
                kept = [(terms[key], size) for terms, size in steps if key in terms]
                values = torch.stack([value.float() for value, _ in kept])
                sizes = torch.tensor([size for _, size in kept], dtype=values.dtype, device=values.device)
                total, count = self._term_sums.get(key, (0.0, 0))
                self._term_sums[key] = (total + (values * sizes).sum(), count + sum(s for _, s in kept))

    def on_fit_start(self) -> None:
        self._fit_started = time.monotonic()

    def pretrained_part(self) -> torch.nn.Module | None:
        """The part that fine-tuning freezes and scales the lr of (each task says which); None = none."""
        return None

    def on_train_epoch_start(self) -> None:
        self._term_sums, self._step_terms = {}, []
        self.finetune.apply(self.pretrained_part(), self.current_epoch)

    def on_train_epoch_end(self) -> None:
        """train/loss_epoch and every loss term: batch-size-weighted epoch means, averaged over DDP ranks."""
        self._fold_terms()
        sums, self._term_sums = self._term_sums, {}
        for key, (total, count) in sums.items():
            name = "train/loss_epoch" if key == "loss" else f"train/{key}"
            self.log(name, total / count, prog_bar=key == "loss", sync_dist=True)
        # seconds of training so far (this process; a resume starts again from 0): `tools.py compare x=time`
        elapsed = time.monotonic() - getattr(self, "_fit_started", time.monotonic())
        self.log("time/elapsed_s", elapsed, sync_dist=True)  # the mean over DDP ranks

    def check_finite(self, losses: dict[str, torch.Tensor]) -> None:
        """Stop with a clear message on a NaN/inf loss rather than training on garbage: one `.item()`,
        no tensor op (on a GPU it waits for the step's kernels, as any `loss.item()` does)."""
        if math.isfinite(losses["loss"].item()):
            return
        bad = {k: float(v) for k, v in losses.items() if not torch.isfinite(v).all()}
        raise NonFiniteError(
            f"non-finite loss at epoch {self.current_epoch}, step {self.global_step}: {bad}. {HINT}"
        )

    @staticmethod
    def batch_size_of(batch) -> int:
        first = batch[0] if isinstance(batch, list | tuple) else batch
        return int(first.shape[0]) if hasattr(first, "shape") else len(first)

    def configure_optimizers(self) -> dict:
        total = int(self.trainer.estimated_stepping_batches)
        epochs = max(1, self.trainer.max_epochs or 1)
        steps_per_epoch = max(1, total // epochs)
        return build_optimizer(
            [self],
            self.optim,
            self.schedule,
            total,
            steps_per_epoch,
            pretrained=self.pretrained_part(),
            lr_mult=self.finetune.lr_mult,
        )

    def class_names(self, datamodule=None) -> list[str]:
        """The first of these that matches `self.num_classes`: the names saved with the module (the
        `class_names` hyper-parameter, from the training data), the datamodule's, class_0, class_1, ..."""
        dm = datamodule or (getattr(self._trainer, "datamodule", None) if self._trainer is not None else None)
        for names in (self.hparams.get("class_names"), getattr(dm, "class_names", None)):
            if names and len(names) == self.num_classes:
                return [str(n) for n in names]
        return [f"class_{i}" for i in range(self.num_classes)]

    # ---- outputs ----------------------------------------------------------------------------------------
    @property
    def plots_dir(self) -> Path:
        root = self.trainer.default_root_dir if self._trainer is not None else "."
        path = Path(root) / "plots"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def should_plot(self) -> bool:
        """Plot on the last epoch, every N epochs, and in test/validate runs; never in sanity checks, nor
        at all when `plot_every_n_epochs` is null."""
        trainer = self.trainer
        if (
            self.plot_every_n_epochs is None
            or trainer.sanity_checking
            or getattr(trainer, "fast_dev_run", False)
        ):
            return False
        if not trainer.training and trainer.state.fn != "fit":
            return True
        last = trainer.current_epoch + 1 >= (trainer.max_epochs or 0)
        return last or (
            self.plot_every_n_epochs > 0 and (trainer.current_epoch + 1) % self.plot_every_n_epochs == 0
        )

    def record_confusion(self, stage: str, matrix: torch.Tensor, labels: list[str], unit: str) -> None:
        """Keep this evaluation's confusion matrix for metrics.json and draw it into plots/ (rows = true;
        `unit`: what is counted, "pixels" or "boxes")."""
        from src.outputs.confusion import confusion_entry, confusion_figure

        self.confusion[f"{stage}/confusion_matrix"] = confusion_entry(matrix.cpu(), labels)
        if self.should_plot() and self.trainer.is_global_zero:
            title = f"{stage} confusion ({unit}; rows: true, columns: predicted)"
            self.save_figure(confusion_figure(matrix.cpu(), labels, title, unit), f"{stage}_confusion")

    @rank_zero_only
    def save_figure(self, fig: Any, name: str) -> Path:
        """Write a matplotlib figure to plots/<name>.png and hand it to loggers that take images."""
        import matplotlib.pyplot as plt

        path = self.plots_dir / f"{name}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        for logger in self.loggers:
            log_image = getattr(logger, "log_image", None)
            if callable(log_image):
                log_image(key=f"plots/{name}", images=[str(path)], step=self.global_step)
        return path

"""U-Net segmenter: CE / Dice / CE+Dice losses, mIoU, Dice and per-class IoU, overlay plots."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassJaccardIndex,
)

from src.errors import check
from src.lightning_modules.base import TaskModule
from src.losses.segmentation import SegmentationLoss
from src.runtime.config.instantiate import build_part


class Segmenter(TaskModule):
    """Semantic segmentation of (image N×C×H×W, mask N×H×W int64, 255 = ignore) batches.

    `net`: a partial network of conf/model/net/ (own U-Net or smp) completed here with `in_channels`
    and `num_classes`; `loss`: a partial loss of conf/model/loss/ (ce | dice | ce_dice) completed with
    `ignore_index` and `num_classes`. Logs `val/miou` (mean over the classes
    present), `val/dice` and `val/iou_<class>`, and the same under `test/`. Every argument comes from
    conf/model/unet.yaml (no defaults here, so Python and the command line build the same module).
    """

    task = "segmentation"

    def __init__(
        self,
        *,
        net: Callable[..., nn.Module],
        num_classes: int,
        in_channels: int,
        channels_last: bool,
        loss: Callable[..., SegmentationLoss],
        ignore_index: int,
        optim: Callable,
        schedule: Callable,
        monitor: str,
        plot_every_n_epochs: int | None,
        num_plot_images: int,
        freeze_pretrained_epochs: int,
        pretrained_lr_mult: float,
        class_names: list[str] | None = None,  # saved with the weights; set from the data
    ):
        super().__init__(
            optim=optim,
            schedule=schedule,
            monitor=monitor,
            plot_every_n_epochs=plot_every_n_epochs,
            num_plot_images=num_plot_images,
            freeze_pretrained_epochs=freeze_pretrained_epochs,
            pretrained_lr_mult=pretrained_lr_mult,
        )
        self.save_hparams(net=net, loss=loss, optim=optim, schedule=schedule)
        check(
            isinstance(num_classes, int) and num_classes >= 2, "num_classes", "an integer >= 2", num_classes
        )
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.net = build_part("net", net, in_channels=in_channels, num_classes=num_classes)
        self.channels_last = channels_last
        if channels_last:  # NHWC: faster convolutions on CPU (oneDNN) and with mixed precision on GPU
            self.net = self.net.to(memory_format=torch.channels_last)
        self.criterion = build_part(
            "loss", loss, kind=SegmentationLoss, ignore_index=ignore_index, num_classes=num_classes
        )
        metrics = MetricCollection(
            {
                # per-class IoU, NaN for a class absent from both targets and predictions (left out of the mean)
                "iou": MulticlassJaccardIndex(
                    num_classes, average="none", ignore_index=ignore_index, zero_division=float("nan")
                ),
                "dice": MulticlassF1Score(
                    num_classes, average="macro", ignore_index=ignore_index, multidim_average="global"
                ),
                # pixels, rows = true class; shares the Jaccard index's state (one compute group)
                "confusion": MulticlassConfusionMatrix(num_classes, ignore_index=ignore_index),
            }
        )
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        self._plot_batch = None

    def pretrained_part(self) -> nn.Module | None:
        """The network's encoder (smp's encoder, the U-Net's contracting path)."""
        return getattr(self.net, "encoder", None)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.net(images)

    def compute_losses(self, batch) -> dict[str, torch.Tensor]:
        images, masks = batch
        return self.criterion(self(images), masks)

    # ---- evaluation -------------------------------------------------------------------------------------
    def _eval_step(self, batch, batch_idx: int, metrics: MetricCollection, stage: str) -> None:
        images, masks = batch
        logits = self(images)
        losses = self.criterion(logits, masks)
        self.log(f"{stage}/loss", losses["loss"], batch_size=len(images), sync_dist=True)
        preds = logits.argmax(1)
        metrics.update(preds, masks)
        if batch_idx == 0:
            self._plot_batch = (
                images[: self.num_plot_images].cpu(),
                masks[: self.num_plot_images].cpu(),
                preds[: self.num_plot_images].cpu(),
            )

    def _eval_epoch_end(self, metrics: MetricCollection, stage: str) -> None:
        values = metrics.compute()
        metrics.reset()
        iou = values[f"{stage}/iou"]
        names = self.class_names()
        self.log(f"{stage}/miou", iou.nanmean(), prog_bar=True, sync_dist=True)
        self.log(f"{stage}/dice", values[f"{stage}/dice"], prog_bar=stage == "val", sync_dist=True)
        for name, value in zip(names, iou):
            if not torch.isnan(value):
                self.log(f"{stage}/iou_{name}", value, sync_dist=True)
        self.record_confusion(stage, values[f"{stage}/confusion"], names, "pixels")
        if self._plot_batch is not None and self.should_plot():
            from src.outputs.plots import segmentation_grid

            self.save_figure(
                segmentation_grid(*self._plot_batch, names, self.ignore_index), f"{stage}_predictions"
            )
        self._plot_batch = None

    def validation_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch, batch_idx, self.val_metrics, "val")

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end(self.val_metrics, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch, batch_idx, self.test_metrics, "test")

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end(self.test_metrics, "test")

    def predict_step(self, batch, batch_idx: int):
        """Class ids per image: N×H×W for a tensor batch; for a PredictImages batch (dict), a list of
        H×W uint8 masks at each image's original size (logits resized before the argmax)."""
        if not isinstance(batch, dict):
            return self(batch[0] if isinstance(batch, list | tuple) else batch).argmax(1)
        logits = self(batch["image"]).float()
        return [
            F.interpolate(
                logits[i : i + 1], size=[int(v) for v in size], mode="bilinear", align_corners=False
            )
            .argmax(1)[0]
            .to(torch.uint8)
            .cpu()
            for i, size in enumerate(batch["orig_size"])
        ]

"""The detection LightningModule: trains and evaluates any detector head, COCO mAP, plots, predict.

The head (`conf/model/head/`: anchor | v1 | yolo11, `src/models/heads/`) brings network, loss, target
assignment and decoding; this module adds what every head shares. Validation scores detections in
original image pixels with torchmetrics' MeanAveragePrecision (pycocotools-compatible numbers):
`val/map` (mean over `map_iou_thresholds`, COCO's 0.5:0.95 by default), `val/map50`, `val/map75`
(when those IoUs are evaluated), `val/ap_<class>` and `val/ap50_<class>`, and `val/precision` /
`val/recall` at `score_threshold`. EMA of the weights is a callback (`callbacks/ema`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
from torchmetrics.detection import MeanAveragePrecision

from src.data.detection.datasets import target_list, to_original
from src.errors import check
from src.lightning_modules.base import TaskModule
from src.metrics.detection import DetectionConfusionMatrix, PrecisionRecall
from src.models.heads.base import DetectionHead
from src.runtime.config.instantiate import build_part

log = logging.getLogger("imagelab")
logging.getLogger("faster_coco_eval").setLevel(
    logging.WARNING
)  # its per-evaluation summary table is noise here
COCO_IOUS = [round(0.5 + 0.05 * i, 2) for i in range(10)]
OWN_KEYS = ("num_classes", "image_size")  # a head's errors about these are the Detector's keys


class Detector(TaskModule):
    task = "detection"

    def __init__(
        self,
        num_classes: int,
        image_size: int | list[int],
        head: Callable[..., DetectionHead],
        score_threshold: float,
        eval_score_threshold: float,
        nms_iou: float,
        max_det: int,
        map_iou_thresholds: list[float] | None,
        optim: Callable,
        schedule: Callable,
        plot_every_n_epochs: int | None,
        num_plot_images: int,
        monitor: str,
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
        self.save_hparams(optim=optim, schedule=schedule, head=head)
        check(
            isinstance(num_classes, int) and num_classes >= 1, "num_classes", "an integer >= 1", num_classes
        )
        check(0 < nms_iou <= 1, "nms_iou", "an IoU in (0, 1]", nms_iou)
        for key, value in (
            ("score_threshold", score_threshold),
            ("eval_score_threshold", eval_score_threshold),
        ):
            check(0 <= value < 1, key, "a score in [0, 1)", value)
        check(isinstance(max_det, int) and max_det >= 1, "max_det", "an integer >= 1", max_det)
        self.num_classes = num_classes
        self.image_size = (
            (image_size, image_size) if isinstance(image_size, int) else tuple(int(v) for v in image_size)
        )
        self.score_threshold, self.eval_score_threshold = score_threshold, eval_score_threshold
        self.nms_iou, self.max_det = nms_iou, max_det
        self.iou_thresholds = self.parse_ious(map_iou_thresholds)
        self.head = build_part("head", head, OWN_KEYS, num_classes=num_classes, image_size=self.image_size)
        self.val_map, self.test_map = self.make_map(), self.make_map()
        self.val_pr, self.test_pr = PrecisionRecall(score_threshold), PrecisionRecall(score_threshold)
        # at the precision/recall IoU and score_threshold, with a background row and column
        self.val_confusion, self.test_confusion = (
            DetectionConfusionMatrix(num_classes, score_threshold, self.val_pr.iou) for _ in range(2)
        )
        self._plot_batch = None

    def pretrained_part(self) -> torch.nn.Module | None:
        """The head's backbone."""
        return self.head.pretrained_part()

    # ---- construction helpers ---------------------------------------------------------------------------
    @staticmethod
    def parse_ious(values) -> list[float]:
        if values is None:
            return list(COCO_IOUS)
        values = [values] if isinstance(values, int | float) else list(values)
        check(
            values and all(0 < float(v) <= 1 for v in values),
            "map_iou_thresholds",
            "IoUs in (0, 1] or null (COCO 0.5:0.95)",
            values,
        )
        return sorted(round(float(v), 4) for v in values)

    def make_map(self) -> MeanAveragePrecision:
        return MeanAveragePrecision(
            box_format="xyxy",
            iou_type="bbox",
            iou_thresholds=self.iou_thresholds,
            class_metrics=True,
            extended_summary=True,
            backend="faster_coco_eval",
        )

    def setup(self, stage: str) -> None:
        """The head reads what it needs from the data (k-means anchors before a fit, normalisation)."""
        self.head.prepare(getattr(self.trainer, "datamodule", None), stage)

    # ---- forward, losses, decoding ---------------------------------------------------------------------
    def forward(self, images: torch.Tensor):
        return self.head(images)

    def losses_of(self, out, targets: list[dict]) -> dict[str, torch.Tensor]:
        return self.head.losses(out, targets)

    def compute_losses(self, batch) -> dict[str, torch.Tensor]:
        images, targets = batch
        return self.losses_of(self(images), target_list(targets))

    def detect(self, out, score_threshold: float) -> list[dict[str, torch.Tensor]]:
        """Network output → per image {boxes (XYXY input px), scores, labels} after NMS. mAP candidates
        (below the prediction threshold) may count for several classes, as COCO validators do."""
        multi_label = score_threshold < self.score_threshold
        return self.head.decode(out, score_threshold, self.nms_iou, self.max_det, multi_label)

    # ---- evaluation -------------------------------------------------------------------------------------
    def _eval_step(self, batch, batch_idx: int, stage: str) -> None:
        images, targets = batch
        out = self(images)
        self.log(
            f"{stage}/loss", self.losses_of(out, targets)["loss"], batch_size=len(images), sync_dist=True
        )
        preds = [
            {k: v.detach().cpu() for k, v in p.items()} for p in self.detect(out, self.eval_score_threshold)
        ]
        mapped = [
            {**p, "boxes": to_original(p["boxes"], t["scale"].cpu(), t["orig_size"])}
            for p, t in zip(preds, targets)
        ]
        truth = [
            {"boxes": t["orig_boxes"].cpu(), "labels": t["orig_labels"].cpu(), "iscrowd": t["iscrowd"].cpu()}
            for t in targets
        ]
        (self.val_map if stage == "val" else self.test_map).update(mapped, truth)
        (self.val_pr if stage == "val" else self.test_pr).update(mapped, truth)
        (self.val_confusion if stage == "val" else self.test_confusion).update(mapped, truth)
        if batch_idx == 0:
            n = self.num_plot_images
            self._plot_batch = (
                images[:n].cpu(),
                [{k: t[k].cpu() for k in ("boxes", "labels")} for t in targets[:n]],
                preds[:n],
            )

    def _eval_epoch_end(self, stage: str) -> None:
        metric, pr = (self.val_map, self.val_pr) if stage == "val" else (self.test_map, self.test_pr)
        res = metric.compute()
        metric.reset()
        prv = pr.compute()
        pr.reset()
        names = self.class_names()
        confusion = self.val_confusion if stage == "val" else self.test_confusion
        self.record_confusion(stage, confusion.compute(), [*names, "background"], "boxes")
        confusion.reset()
        self.log(f"{stage}/map", res["map"], prog_bar=True, sync_dist=True)
        t50 = self.iou_thresholds.index(0.5) if 0.5 in self.iou_thresholds else None
        if t50 is not None:
            self.log(f"{stage}/map50", res["map_50"], prog_bar=True, sync_dist=True)
        if 0.75 in self.iou_thresholds:
            self.log(f"{stage}/map75", res["map_75"], sync_dist=True)
        self.log(f"{stage}/precision", prv["precision"], sync_dist=True)
        self.log(f"{stage}/recall", prv["recall"], sync_dist=True)
        classes = res["classes"].reshape(-1).tolist()
        per_class = res["map_per_class"].reshape(-1).tolist()
        precision = res.get("precision")  # T×R×K×A×M, −1 where undefined (COCOeval)
        ap50 = {}
        for k, cls in enumerate(classes):
            if not 0 <= cls < len(names):
                continue
            if per_class[k] >= 0:
                self.log(f"{stage}/ap_{names[cls]}", per_class[k], sync_dist=True)
            if t50 is not None and precision is not None:
                p = precision[t50, :, k, 0, -1]
                value = float(p[p >= 0].mean()) if (p >= 0).any() else -1.0
                if value >= 0:
                    ap50[cls] = value
                    self.log(f"{stage}/ap50_{names[cls]}", value, sync_dist=True)
        if self.should_plot() and self.trainer.is_global_zero:
            self.plot(stage, names, precision, classes, t50, ap50)
        self._plot_batch = None

    def plot(self, stage: str, names: list[str], precision, classes: list[int], t50, ap50: dict) -> None:
        from src.outputs.detection_plots import coco_pr_curves, detection_grid

        dm = getattr(self.trainer, "datamodule", None)
        mean, std = getattr(dm, "mean", None), getattr(dm, "std", None)
        if self._plot_batch is not None:
            fig = detection_grid(*self._plot_batch, names, self.score_threshold, mean, std)
            self.save_figure(fig, f"{stage}_predictions")
        if precision is not None and t50 is not None and len(classes):
            self.save_figure(coco_pr_curves(precision, t50, classes, names, ap50), f"{stage}_pr_curve")

    def validation_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch, batch_idx, "val")

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch, batch_idx, "test")

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end("test")

    # ---- prediction (written by src/outputs/detection_writer.py) ----------------------------------------
    def predict_step(self, batch, batch_idx: int):
        """Detections per image ({boxes XYXY, scores, labels}); for a PredictImages batch (dict) the boxes
        are mapped back to each image's original pixels and everything is on the CPU."""
        if not isinstance(batch, dict):
            images = batch[0] if isinstance(batch, list | tuple) else batch
            return self.detect(self(images), self.score_threshold)
        preds = self.detect(self(batch["image"]), self.score_threshold)
        return [
            {
                "boxes": to_original(p["boxes"].float().cpu(), scale.repeat(2).cpu(), size.cpu()),
                "scores": p["scores"].float().cpu(),
                "labels": p["labels"].cpu(),
            }
            for p, scale, size in zip(preds, batch["scale"], batch["orig_size"])
        ]

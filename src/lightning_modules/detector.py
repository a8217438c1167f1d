"""YOLO-style detector: YOLOv1 grid head or anchor head, COCO mAP (faster_coco_eval), plots, predict.

Validation scores detections in original image pixels with torchmetrics' MeanAveragePrecision
(pycocotools-compatible numbers): `val/map` (mean over `map_iou_thresholds`, COCO's 0.5:0.95 by
default), `val/map50`, `val/map75` (when those IoUs are evaluated), `val/ap_<class>` and
`val/ap50_<class>`, and `val/precision` / `val/recall` at `score_threshold`.
"""

from __future__ import annotations

import copy
import json
import logging
import math
from pathlib import Path

import torch
from torchmetrics.detection import MeanAveragePrecision
from torchvision import tv_tensors

from src.data.det_transforms import letterbox, target_list, to_original
from src.lightning_modules.base import TaskModule
from src.losses.detection import AnchorLoss, YoloV1Loss
from src.metrics.detection import PrecisionRecall
from src.models.yolo import AnchorNet, YoloV1Net, decode_anchor, decode_v1, postprocess
from src.models.yolo_anchors import kmeans_anchors, mean_best_iou
from src.utils.errors import ConfigError, check, check_choice

log = logging.getLogger("imagelab")
logging.getLogger("faster_coco_eval").setLevel(
    logging.WARNING
)  # its per-evaluation summary table is noise here
HEADS = ("anchor", "v1")
COCO_IOUS = [round(0.5 + 0.05 * i, 2) for i in range(10)]


class Detector(TaskModule):
    task = "detection"
    monitor = "val/map50"

    def __init__(
        self,
        num_classes: int,
        image_size: int | list[int] = 64,
        head: str = "anchor",
        backbone: dict | None = None,
        neck_channels: int = 128,
        grid_size: int = 7,
        boxes_per_cell: int = 2,
        lambda_coord: float = 5.0,
        lambda_noobj: float = 0.5,
        anchors: str | list[list[float]] = "auto",
        num_anchors: int = 3,
        assign_iou: float = 0.25,
        box_loss: str = "ciou",
        lambda_box: float = 1.0,
        lambda_obj: float = 1.0,
        lambda_cls: float = 0.5,
        score_threshold: float = 0.25,
        eval_score_threshold: float = 0.001,
        nms_iou: float = 0.5,
        max_det: int = 100,
        map_iou_thresholds: list[float] | None = None,
        ema_decay: float = 0.0,
        ema_tau: float = 200.0,
        cpu_threads: int | None = 1,
        optim: dict | None = None,
        plot_every_n_epochs: int = 5,
        num_plot_images: int = 8,
        monitor: str = "val/map50",
    ):
        super().__init__(optim, plot_every_n_epochs, num_plot_images, monitor)
        self.save_hyperparameters(logger=False)
        self.set_eval_settings(
            num_classes,
            image_size,
            score_threshold,
            eval_score_threshold,
            nms_iou,
            max_det,
            map_iou_thresholds,
        )
        check_choice(head, "head", HEADS)
        check(0 < assign_iou <= 1, "assign_iou", "an IoU in (0, 1]", assign_iou)
        check(0 <= ema_decay < 1, "ema_decay", "a value in [0, 1) (0 = off)", ema_decay)
        self.head = head
        if head == "v1":
            check(isinstance(grid_size, int) and grid_size >= 1, "grid_size", "an integer >= 1", grid_size)
            check(
                isinstance(boxes_per_cell, int) and boxes_per_cell >= 1,
                "boxes_per_cell",
                "an integer >= 1",
                boxes_per_cell,
            )
            self.net = YoloV1Net(num_classes, grid_size, boxes_per_cell, backbone, neck_channels)
            self.criterion = YoloV1Loss(num_classes, grid_size, boxes_per_cell, lambda_coord, lambda_noobj)
        else:
            if anchors != "auto":
                check(
                    isinstance(anchors, list)
                    and anchors
                    and all(len(a) == 2 and min(a) > 0 for a in anchors),
                    "anchors",
                    "'auto' (k-means on the training boxes) or a list of [w, h] in input pixels",
                    anchors,
                )
                num_anchors = len(anchors)
            check(
                isinstance(num_anchors, int) and num_anchors >= 1,
                "num_anchors",
                "an integer >= 1",
                num_anchors,
            )
            self.net = AnchorNet(num_classes, num_anchors, backbone, neck_channels)
            self.criterion = AnchorLoss(num_classes, assign_iou, box_loss, lambda_box, lambda_obj, lambda_cls)
            init = (
                torch.tensor(anchors, dtype=torch.float32)
                if anchors != "auto"
                else self.default_anchors(num_anchors)
            )
            self.register_buffer("anchors", init)
            self.auto_anchors = anchors == "auto"
        self.ema_decay, self.ema_tau = ema_decay, ema_tau
        check(
            cpu_threads is None or (isinstance(cpu_threads, int) and cpu_threads >= 1),
            "cpu_threads",
            "an integer >= 1 or null",
            cpu_threads,
        )
        self.cpu_threads = cpu_threads
        self.ema = copy.deepcopy(self.net).requires_grad_(False) if ema_decay > 0 else None
        self.val_map, self.test_map = self.make_map(), self.make_map()
        self.val_pr, self.test_pr = PrecisionRecall(score_threshold), PrecisionRecall(score_threshold)
        self._plot_batch = None

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

    def default_anchors(self, k: int) -> torch.Tensor:
        """Square-ish anchors from 1/8 to 1/2 of the input, until k-means replaces them."""
        side = min(self.image_size)
        sizes = torch.logspace(math.log10(side / 8), math.log10(side / 2), k)
        return torch.stack([sizes, sizes], 1)

    def setup(self, stage: str) -> None:
        """CPU threads; k-means anchors from the training boxes (anchor head, `anchors: auto`) per fit."""
        if self.cpu_threads and self.trainer.strategy.root_device.type == "cpu":
            torch.set_num_threads(
                self.cpu_threads
            )  # small convs: extra threads mostly spin against the loader
        if stage != "fit" or self.head != "anchor" or not self.auto_anchors:
            return
        dm = self.trainer.datamodule
        wh = dm.train_box_sizes() if hasattr(dm, "train_box_sizes") else torch.zeros(0, 2)
        if len(wh) < len(self.anchors):
            log.warning("too few training boxes for k-means anchors; keeping %s", self.anchors.tolist())
            return
        anchors = kmeans_anchors(wh, len(self.anchors), seed=0)
        self.anchors.copy_(anchors)
        log.info(
            "k-means anchors (w, h px): %s; mean best IoU %.3f",
            [[round(v, 1) for v in a] for a in anchors.tolist()],
            mean_best_iou(wh, anchors),
        )

    # ---- forward, losses, decoding ---------------------------------------------------------------------
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        net = self.ema if (self.ema is not None and not self.training) else self.net
        return net(images)

    def losses_of(self, out: torch.Tensor, targets: list[dict]) -> dict[str, torch.Tensor]:
        if self.head == "v1":
            return self.criterion(out, targets, self.image_size)
        return self.criterion(out, targets, self.anchors, self.net.stride)

    def compute_losses(self, batch) -> dict[str, torch.Tensor]:
        images, targets = batch
        return self.losses_of(self.net(images), target_list(targets))

    def detect(self, out: torch.Tensor, score_threshold: float) -> list[dict[str, torch.Tensor]]:
        """Network output → per image {boxes (XYXY input px), scores, labels} after NMS."""
        if self.head == "v1":
            boxes, scores = decode_v1(out, self.net.B, self.image_size)
        else:
            boxes, scores = decode_anchor(out, self.anchors, self.net.stride)
        return postprocess(boxes, scores, score_threshold, self.nms_iou, self.max_det)

    def optimizer_step(self, *args, **kwargs) -> None:
        super().optimizer_step(*args, **kwargs)
        self.update_ema()

    def update_ema(self) -> None:
        """After each optimizer step, before the step's checkpoint is saved (on_train_batch_end would be
        after the checkpoint callbacks: a mid-epoch checkpoint would hold the EMA one step behind)."""
        if self.ema is None:
            return
        decay = self.ema_decay * (1 - math.exp(-(self.global_step + 1) / self.ema_tau))  # YOLOv5's ramp
        with torch.no_grad():
            for e, p in zip(self.ema.parameters(), self.net.parameters()):
                e.lerp_(p, 1 - decay)
            for e, b in zip(self.ema.buffers(), self.net.buffers()):
                e.copy_(b)

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
        from src.utils.detection_plots import detection_grid, pr_curves

        dm = getattr(self.trainer, "datamodule", None)
        mean, std = getattr(dm, "mean", None), getattr(dm, "std", None)
        if self._plot_batch is not None:
            fig = detection_grid(*self._plot_batch, names, self.score_threshold, mean, std)
            self.save_figure(fig, f"{stage}_predictions")
        if precision is not None and t50 is not None and len(classes):
            curves = torch.full((precision.shape[1], len(names)), -1.0)
            for k, cls in enumerate(classes):
                if 0 <= cls < len(names):
                    curves[:, cls] = precision[t50, :, k, 0, -1]
            aps = [ap50.get(c, float("nan")) for c in range(len(names))]
            self.save_figure(
                pr_curves(curves, torch.linspace(0, 1, precision.shape[1]), names, aps), f"{stage}_pr_curve"
            )

    def set_eval_settings(
        self,
        num_classes: int,
        image_size: int | list[int],
        score_threshold: float,
        eval_score_threshold: float,
        nms_iou: float,
        max_det: int,
        map_iou_thresholds: list[float] | None,
    ) -> None:
        """Check and keep what evaluation, plots and prediction read (shared with subclasses' heads)."""
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

    def validation_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch, batch_idx, "val")

    def on_validation_epoch_end(self) -> None:
        self._eval_epoch_end("val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch, batch_idx, "test")

    def on_test_epoch_end(self) -> None:
        self._eval_epoch_end("test")

    def predict_step(self, batch, batch_idx: int):
        images = batch[0] if isinstance(batch, list | tuple) else batch
        return self.detect(self(images), self.score_threshold)

    # ---- command-line prediction -------------------------------------------------------------------------
    def predict_cli(self, cfg, datamodule, out_dir: Path) -> dict:
        """`+source=<image or folder>`: annotated images in predictions/ and detections.json (COCO
        results: image_id, category_id in the dataset's own ids, bbox [x, y, w, h] original px, score)."""
        from torchvision.io import ImageReadMode, decode_image
        from torchvision.transforms.v2 import functional as F

        from src.data.det_scan import IMAGE_SUFFIXES
        from src.utils.detection_plots import draw_detections

        source = cfg.get("source")
        if not source:
            raise ConfigError("source", "give an image or a folder of images: +source=<path>")
        src = Path(str(source)).expanduser()
        if src.is_dir():
            files = sorted(p for p in src.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif src.is_file():
            files = [src]
        else:
            raise ConfigError("source", f"{src} is neither an image nor a folder")
        if not files:
            raise ConfigError("source", f"no images ({', '.join(IMAGE_SUFFIXES)}) in {src}")
        names = list(
            getattr(datamodule, "class_names", None) or [f"class_{i}" for i in range(self.num_classes)]
        )
        cat_ids = list(getattr(datamodule, "category_ids", range(self.num_classes)))
        mean, std = getattr(datamodule, "mean", None), getattr(datamodule, "std", None)
        out_images = Path(out_dir) / "predictions"
        out_images.mkdir(parents=True, exist_ok=True)
        results = []
        for i, file in enumerate(files):
            try:
                image = decode_image(str(file), mode=ImageReadMode.RGB)
            except RuntimeError as err:
                raise ConfigError("source", f"cannot read image {file} ({err})") from None
            h, w = image.shape[-2:]
            empty = {"boxes": tv_tensors.BoundingBoxes(torch.zeros(0, 4), format="XYXY", canvas_size=(h, w))}
            boxed, _, (sx, sy) = letterbox(
                tv_tensors.Image(image), empty, self.image_size, getattr(datamodule, "resize", "letterbox")
            )
            x = boxed.float() / 255
            if mean is not None:
                x = F.normalize(x, list(mean), list(std))
            pred = self.detect(self(x[None].to(self.device)), self.score_threshold)[0]
            boxes = to_original(pred["boxes"].cpu(), torch.tensor([sx, sy, sx, sy]), torch.tensor([h, w]))
            image_id = int(file.stem) if file.stem.isdigit() else i
            dets = [
                {"box": b, "label": int(c), "score": float(s)}
                for b, c, s in zip(boxes.tolist(), pred["labels"].tolist(), pred["scores"].tolist())
            ]
            draw_detections(file, dets, names, out_images / f"{file.stem}.png")
            for d in dets:
                x1, y1, x2, y2 = d["box"]
                results.append(
                    {
                        "image_id": image_id,
                        "file_name": file.name,
                        "category_id": int(cat_ids[d["label"]]),
                        "category_name": names[d["label"]],
                        "bbox": [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)],
                        "score": round(d["score"], 5),
                    }
                )
        json_path = Path(out_dir) / "detections.json"
        json_path.write_text(json.dumps(results, indent=1))
        return {
            "images": len(files),
            "detections": len(results),
            "json": str(json_path),
            "pictures": str(out_images),
        }

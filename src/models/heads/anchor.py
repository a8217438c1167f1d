"""`model/head=anchor`: several anchors per cell (YOLOv2+), IoU-threshold assignment, CIoU/GIoU/DIoU box
loss, objectness BCE, class BCE; anchors from k-means on the training boxes (`anchors: auto`)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import torch

from src.boxes.anchors import fit_anchors
from src.boxes.decode import decode_anchor, postprocess
from src.errors import check
from src.losses.detection import AnchorLoss
from src.models.backbones import Backbone
from src.models.heads.base import DetectionHead
from src.models.yolo import AnchorNet

log = logging.getLogger("imagelab")


class AnchorHead(DetectionHead):
    def __init__(
        self,
        num_classes: int,
        image_size: tuple[int, int],
        backbone: Callable[..., Backbone],
        neck_channels: int,
        anchors: str | list[list[float]],
        num_anchors: int,
        assign_iou: float,
        box_loss: str,
        lambda_box: float,
        lambda_obj: float,
        lambda_cls: float,
    ):
        super().__init__(num_classes, image_size)
        check(0 < assign_iou <= 1, "assign_iou", "an IoU in (0, 1]", assign_iou)
        if anchors != "auto":
            check(
                isinstance(anchors, list) and anchors and all(len(a) == 2 and min(a) > 0 for a in anchors),
                "anchors",
                "'auto' (k-means on the training boxes) or a list of [w, h] in input pixels",
                anchors,
            )
            num_anchors = len(anchors)
        check(
            isinstance(num_anchors, int) and num_anchors >= 1, "num_anchors", "an integer >= 1", num_anchors
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

    def default_anchors(self, k: int) -> torch.Tensor:
        """Square-ish anchors from 1/8 to 1/2 of the input, until k-means replaces them."""
        side = min(self.image_size)
        sizes = torch.logspace(math.log10(side / 8), math.log10(side / 2), k)
        return torch.stack([sizes, sizes], 1)

    def prepare(self, datamodule, stage: str) -> None:
        """k-means anchors from the training boxes before each fit (`anchors: auto`)."""
        if stage != "fit" or not self.auto_anchors:
            return
        fitted = fit_anchors(datamodule, len(self.anchors))
        if fitted is None:
            log.warning("too few training boxes for k-means anchors; keeping %s", self.anchors.tolist())
        else:
            self.anchors.copy_(fitted)

    def losses(self, out: torch.Tensor, targets: list[dict]) -> dict[str, torch.Tensor]:
        return self.criterion(out, targets, self.anchors, self.net.stride)

    def decode(self, out, score_threshold, nms_iou, max_det, multi_label):
        boxes, scores = decode_anchor(out, self.anchors, self.net.stride)
        return postprocess(boxes, scores, score_threshold, nms_iou, max_det)

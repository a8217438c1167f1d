"""`model/head=v1`: YOLOv1 (Redmon et al. 2016): S×S grid, B boxes per cell, the cell holding a box's
centre is responsible for it, sum-squared loss with λ_coord / λ_noobj."""

from __future__ import annotations

from collections.abc import Callable

import torch

from src.boxes.decode import decode_v1, postprocess
from src.errors import check
from src.losses.detection import YoloV1Loss
from src.models.backbones import Backbone
from src.models.heads.base import DetectionHead
from src.models.yolo import YoloV1Net


class V1Head(DetectionHead):
    def __init__(
        self,
        num_classes: int,
        image_size: tuple[int, int],
        backbone: Callable[..., Backbone],
        neck_channels: int,
        grid_size: int,
        boxes_per_cell: int,
        lambda_coord: float,
        lambda_noobj: float,
    ):
        super().__init__(num_classes, image_size)
        check(isinstance(grid_size, int) and grid_size >= 1, "grid_size", "an integer >= 1", grid_size)
        check(
            isinstance(boxes_per_cell, int) and boxes_per_cell >= 1,
            "boxes_per_cell",
            "an integer >= 1",
            boxes_per_cell,
        )
        self.net = YoloV1Net(num_classes, grid_size, boxes_per_cell, backbone, neck_channels)
        self.criterion = YoloV1Loss(num_classes, grid_size, boxes_per_cell, lambda_coord, lambda_noobj)

    def losses(self, out: torch.Tensor, targets: list[dict]) -> dict[str, torch.Tensor]:
        return self.criterion(out, targets, self.image_size)

    def decode(self, out, score_threshold, nms_iou, max_det, multi_label):
        boxes, scores = decode_v1(out, self.net.B, self.image_size)
        return postprocess(boxes, scores, score_threshold, nms_iou, max_det)

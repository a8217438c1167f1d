"""The contract of a detector head: what `Detector` calls, whatever the network family.

A head is an `nn.Module` built as `Head(num_classes, image_size, **its own config keys)`. It holds the
network in `self.net` and answers four calls: `prepare` (read what it needs from the DataModule before
a stage), `forward` (images → raw network output), `losses` (raw output + targets → loss terms, the total
under "loss") and `decode` (raw output → per image {boxes XYXY input px, scores, labels} after NMS).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn


class DetectionHead(nn.Module, ABC):
    def __init__(self, num_classes: int, image_size: tuple[int, int]):
        super().__init__()
        self.num_classes, self.image_size = num_classes, tuple(image_size)

    def prepare(self, datamodule, stage: str) -> None:
        """Called before `stage` (fit, validate, test, predict) with the DataModule (or None)."""

    def forward(self, images: torch.Tensor):
        return self.net(images)

    def pretrained_part(self) -> nn.Module | None:
        """The backbone (what fine-tuning freezes and gives its own lr), or None."""
        return getattr(getattr(self, "net", None), "backbone", None)

    @abstractmethod
    def losses(self, out, targets: list[dict]) -> dict[str, torch.Tensor]: ...

    @abstractmethod
    def decode(
        self, out, score_threshold: float, nms_iou: float, max_det: int, multi_label: bool
    ) -> list[dict[str, torch.Tensor]]:
        """`multi_label`: a box may count for several classes (mAP candidates); heads whose decoding
        always does so ignore it."""
        ...

"""The segmenter's losses, one class per option of conf/model/loss/ (`model/loss=ce|dice|ce_dice`), each with
only its own keys. `forward(logits N×C×H×W, mask N×H×W)` returns the loss terms and their sum under "loss";
pixels equal to `ignore_index` are skipped. Dice is smp's multiclass `DiceLoss`."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

from src.errors import check


class SegmentationLoss(nn.Module, ABC):
    """The segmenter completes each partial loss with `ignore_index` and `num_classes`."""

    def __init__(self, ignore_index: int, num_classes: int):
        super().__init__()
        self.ignore_index, self.num_classes = ignore_index, num_classes

    @abstractmethod
    def terms(self, logits: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]: ...

    def forward(self, logits: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        terms = self.terms(logits, mask)
        terms["loss"] = sum(terms.values())
        return terms

    def cross_entropy(self, class_weights: list[float] | None) -> nn.CrossEntropyLoss:
        check(
            class_weights is None or len(class_weights) == self.num_classes,
            "class_weights",
            f"null or a list of {self.num_classes} weights (one per class)",
            class_weights,
        )
        weight = torch.tensor(class_weights, dtype=torch.float32) if class_weights else None
        return nn.CrossEntropyLoss(weight=weight, ignore_index=self.ignore_index)

    def dice(self) -> nn.Module:
        from segmentation_models_pytorch.losses import DiceLoss

        return DiceLoss(mode="multiclass", ignore_index=self.ignore_index, from_logits=True)


class CrossEntropy(SegmentationLoss):
    def __init__(self, ignore_index: int, num_classes: int, class_weights: list[float] | None):
        super().__init__(ignore_index, num_classes)
        self.ce = self.cross_entropy(class_weights)

    def terms(self, logits, mask):
        return {"ce": self.ce(logits, mask)}


class Dice(SegmentationLoss):
    def __init__(self, ignore_index: int, num_classes: int):
        super().__init__(ignore_index, num_classes)
        self.dice_loss = self.dice()

    def terms(self, logits, mask):
        return {"dice": self.dice_loss(logits, mask)}


class CeDice(SegmentationLoss):
    """Cross-entropy + `dice_weight` × Dice."""

    def __init__(
        self, ignore_index: int, num_classes: int, class_weights: list[float] | None, dice_weight: float
    ):
        super().__init__(ignore_index, num_classes)
        check(dice_weight >= 0, "dice_weight", "a weight >= 0", dice_weight)
        self.ce, self.dice_loss, self.dice_weight = (
            self.cross_entropy(class_weights),
            self.dice(),
            dice_weight,
        )

    def terms(self, logits, mask):
        return {"ce": self.ce(logits, mask), "dice": self.dice_weight * self.dice_loss(logits, mask)}

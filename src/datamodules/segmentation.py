"""Segmentation DataModule: any reader (synthetic, mask folder, VOC) + v2 transforms → (image, mask)."""

from __future__ import annotations

from src.data.common.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    Transformed,
    augment_config,
    eval_transform,
    train_transform,
)
from src.datamodules.base import BaseDataModule


class SegmentationDataModule(BaseDataModule):
    """Batches of `image` (N×3×H×W float) and `mask` (N×H×W int64, 255 = ignore)."""

    task = "segmentation"

    def __init__(
        self,
        reader,
        *,
        num_classes: int | str,
        image_size: int | list[int],
        augment: dict | None,
        batch_size: int,
        num_workers: int | str,
        mean: list[float] | None = IMAGENET_MEAN,
        std: list[float] | None = IMAGENET_STD,
        pin_memory: bool | str = "auto",
        root: str | None = None,
    ):
        super().__init__(batch_size, num_workers, pin_memory)
        self.resolve_classes(reader, num_classes, minimum=2)  # background + at least one class
        self.reader, self.image_size = reader, image_size
        self.augment = augment_config(augment)
        self.mean, self.std = mean, std
        self.root = root  # informational: readers take their own root

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is None and stage in (None, "fit"):
            self.train_set = Transformed(
                self.reader.dataset("train"),
                train_transform(self.augment, self.image_size, self.mean, self.std),
            )
        if self.val_set is None:
            self.val_set = Transformed(
                self.reader.dataset("val"), eval_transform(self.image_size, self.mean, self.std)
            )
        if self.test_set is None and stage in (None, "test"):
            split = "test" if "test" in self.reader.splits else "val"
            self.test_set = Transformed(
                self.reader.dataset(split), eval_transform(self.image_size, self.mean, self.std)
            )

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
from src.runtime.errors import ConfigError, check


class SegmentationDataModule(BaseDataModule):
    """Batches of `image` (N×3×H×W float) and `mask` (N×H×W int64, 255 = ignore)."""

    task = "segmentation"

    def __init__(
        self,
        reader,
        num_classes: int | str,
        image_size: int | list[int] = 64,
        augment: dict | None = None,
        mean: list[float] | None = IMAGENET_MEAN,
        std: list[float] | None = IMAGENET_STD,
        batch_size: int = 16,
        num_workers: int | str = "auto",
        pin_memory: bool | str = "auto",
        root: str | None = None,
    ):
        super().__init__(batch_size, num_workers, pin_memory)
        names = getattr(reader, "class_names", None)
        if num_classes == "auto":
            if not names:
                raise ConfigError("num_classes", f"{type(reader).__name__} knows no class names: set a count")
            num_classes = len(names)
        check(
            isinstance(num_classes, int) and num_classes >= 2,
            "num_classes",
            "'auto' (the dataset's classes) or an integer >= 2",
            num_classes,
        )
        self.reader = reader
        self.num_classes = num_classes
        self.image_size = image_size
        self.augment = augment_config(augment)
        self.mean, self.std = mean, std
        self.root = root  # informational: readers take their own root
        if names is not None and len(names) != num_classes:
            raise ConfigError(
                "num_classes",
                f"is {num_classes} but the dataset has {len(names)} classes: {names} "
                "(leave it at auto to take the dataset's)",
            )
        self.class_names = list(names) if names else [f"class_{i}" for i in range(num_classes)]

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
            split = "test" if "test" in getattr(self.reader, "splits", ("train", "val", "test")) else "val"
            self.test_set = Transformed(
                self.reader.dataset(split), eval_transform(self.image_size, self.mean, self.std)
            )

"""Detection DataModule: any reader (shapes, YOLO, COCO, VOC) + letterbox/mosaic/mix-up pipelines.

Batches are `(images N×3×H×W float, targets)` with one dict per image: `boxes` (K×4 XYXY pixels of
the network input), `labels` (int64, 0..C−1); evaluation targets also carry `orig_boxes`,
`orig_labels`, `iscrowd`, `scale`, `orig_size`, `image_id` to score in original image pixels.
"""

from __future__ import annotations

import torch

from src.data.common.transforms import IMAGENET_MEAN, IMAGENET_STD, augment_config, size_pair
from src.data.detection.datasets import (
    RESIZE_MODES,
    DetAugmentConfig,
    DetectionEvalSet,
    DetectionTrainSet,
    collate_detection,
    collate_detection_train,
)
from src.datamodules.base import BaseDataModule
from src.datamodules.batch_colour_mixin import BatchColour
from src.errors import check, check_choice


class DetectionDataModule(BatchColour, BaseDataModule):
    task = "detection"

    def __init__(
        self,
        reader,
        *,
        num_classes: int | str,
        image_size: int | list[int],
        resize: str,
        augment: dict | None,
        batch_size: int,
        num_workers: int | str,
        batch_colour: bool,
        mean: list[float] | None = IMAGENET_MEAN,
        std: list[float] | None = IMAGENET_STD,
        pin_memory: bool | str = "auto",
        root: str | None = None,
    ):
        super().__init__(batch_size, num_workers, pin_memory)
        self.resolve_classes(reader, num_classes, minimum=1)
        check_choice(resize, "resize", RESIZE_MODES)
        size = size_pair(image_size)
        check(min(size) >= 16, "image_size", "at least 16 pixels", image_size)
        self.reader, self.image_size, self.resize = reader, size, resize
        self.augment = augment_config(augment, DetAugmentConfig)
        self.mean, self.std = mean, std
        self.root = root  # informational: readers take their own root (${data.root})
        self.category_ids = list(getattr(reader, "category_ids", range(self.num_classes)))
        self.init_batch_colour(batch_colour, self.augment, mean, std)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is None and stage in (None, "fit"):
            augment, mean, std = self.worker_colour(self.augment, self.mean, self.std)
            self.train_set = DetectionTrainSet(
                self.reader.dataset("train"), augment, self.image_size, self.resize, mean, std
            )
        if self.val_set is None and stage in (None, "fit", "validate", "test"):
            self.val_set = DetectionEvalSet(
                self.reader.dataset("val"), self.image_size, self.resize, self.mean, self.std
            )
        if self.test_set is None and stage in (None, "test"):
            split = "test" if "test" in self.reader.splits else "val"
            self.test_set = DetectionEvalSet(
                self.reader.dataset(split), self.image_size, self.resize, self.mean, self.std
            )

    collate = staticmethod(collate_detection)  # picklable for spawned workers (see BaseDataModule)

    def train_dataloader(self):
        # targets packed into three tensors (collate_detection_train); the models unpack them
        return self.loader(self.train_set, train=True, collate=collate_detection_train)

    def train_box_sizes(self) -> torch.Tensor:
        """(w, h) of the training boxes in network-input pixels (after letterbox/resize): for anchors."""
        rows = (
            self.reader.dataset("train").box_sizes() if self.train_set is None else self.train_set.box_sizes()
        )
        if not len(rows):
            return torch.zeros(0, 2)
        h, w = self.image_size
        if self.resize == "stretch":
            return rows[:, :2] * torch.stack([w / rows[:, 2], h / rows[:, 3]], 1)
        r = torch.minimum(h / rows[:, 3], w / rows[:, 2])
        return rows[:, :2] * r[:, None]

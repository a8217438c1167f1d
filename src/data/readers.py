"""The reader contract of each task: what a `data.reader` option must provide to plug into its DataModule.

A reader is the `_target_` of `data.reader` in conf/data/*.yaml: it reads one dataset format (or makes
synthetic data) and hands each split to the task's DataModule, which adds transforms, loaders and seeding.
Samples follow DESIGN.md's shapes per task. tests/unit/test_reader_contract.py checks every reader in
conf/data/ against these Protocols.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import torch
from torch.utils.data import Dataset


@runtime_checkable
class SegmentationReader(Protocol):
    """`dataset(split)` yields `(image uint8 C×H×W, mask tv_tensors.Mask int64, 255 = ignore)`."""

    class_names: list[str]  # index = class id; `num_classes: auto` reads the count from here
    splits: Sequence[str]  # the splits on disk: "train", "val" and, where present, "test"

    def dataset(self, split: str) -> Dataset: ...


@runtime_checkable
class DetectionReader(Protocol):
    """`dataset(split)` yields `(image, {"boxes": BoundingBoxes XYXY px, "labels": int64 0..C-1})`."""

    class_names: list[str]
    category_ids: list[int]  # the dataset's own id of each class (COCO ids), written back in predictions
    splits: Sequence[str]

    def dataset(self, split: str) -> DetectionDataset: ...


class DetectionDataset(Protocol):
    def __len__(self) -> int: ...

    def box_sizes(self) -> torch.Tensor:
        """(w, h) of every training box, N×2 pixels: what k-means anchors are fitted to."""
        ...


@runtime_checkable
class VerificationReader(Protocol):
    """`dataset(split)` yields `(image, identity)`; `pairs(split)` yields `(image_a, image_b, same, fold)`."""

    splits: Sequence[str]
    crop: float | None  # a centre crop (fraction of the side) applied before resizing, or None

    @property
    def num_train_identities(self) -> int: ...

    def dataset(self, split: str) -> Dataset: ...

    def pairs(self, split: str) -> Dataset: ...


@runtime_checkable
class PretrainingReader(Protocol):
    """`dataset(split)` yields unlabeled images (tv_tensors.Image uint8 C×H×W)."""

    splits: Sequence[str]

    def dataset(self, split: str) -> Dataset: ...


READERS: dict[str, type] = {
    "segmentation": SegmentationReader,
    "detection": DetectionReader,
    "verification": VerificationReader,
    "pretraining": PretrainingReader,
}

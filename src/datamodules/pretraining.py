"""Self-supervised pretraining DataModule (`data=image_folder`): two augmented views of every image.

Training views are drawn through the seeded loader (src/datamodules/base.py: resumable, exact); the
validation views are seeded by the image index, so `val/loss` and `val/pair_acc` compare across epochs.
"""

from __future__ import annotations

import torch

from src.data.common.transforms import IMAGENET_MEAN, IMAGENET_STD, augment_config, train_transform
from src.datamodules.base import BaseDataModule


class TwoViews(torch.utils.data.Dataset):
    """(view_a, view_b): the same image through `transform` twice; `seeded`: views fixed per index."""

    def __init__(self, dataset, transform, seeded: bool):
        self.dataset, self.transform, self.seeded = dataset, transform, seeded

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int):
        image = self.dataset[i]
        if not self.seeded:
            return self.transform(image), self.transform(image)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(i)
            return self.transform(image), self.transform(image)


class ImageFolderDataModule(BaseDataModule):
    """Batches `(views_a, views_b)`, each N×3×H×W float, of the reader's unlabeled images."""

    task = "pretraining"

    def __init__(
        self,
        reader,
        *,
        root: str,
        image_size: int | list[int],
        augment: dict | None,
        batch_size: int,
        num_workers: int | str,
        mean: list[float] | None = IMAGENET_MEAN,
        std: list[float] | None = IMAGENET_STD,
        pin_memory: bool | str = "auto",
    ):
        super().__init__(batch_size, num_workers, pin_memory)
        self.reader = reader  # conf/data/image_folder.yaml: ImageFolderReader (src/data/readers.py)
        self.root, self.image_size = root, image_size
        self.augment = augment_config(augment)
        self.mean, self.std = mean, std

    def setup(self, stage: str | None = None) -> None:
        views = train_transform(self.augment, self.image_size, self.mean, self.std)
        if self.train_set is None:
            self.train_set = TwoViews(self.reader.dataset("train"), views, seeded=False)
        if self.val_set is None:
            self.val_set = TwoViews(self.reader.dataset("val"), views, seeded=True)
            self.test_set = self.val_set  # no labels, no test split: the test reports the val views

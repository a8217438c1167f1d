"""`shapes_seg`: synthetic segmentation data (shapes on textures), generated once per split in memory."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors

from src.data.common.shapes import SHAPES, render_scene, split_seed
from src.errors import check


class TensorSegDataset(Dataset):
    """Images (N×3×H×W uint8) and masks (N×H×W) held in memory."""

    def __init__(self, images: torch.Tensor, masks: torch.Tensor):
        self.images, self.masks = images, masks

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return tv_tensors.Image(self.images[i]), tv_tensors.Mask(self.masks[i].long())


class ShapesSeg:
    """Reader of the embedded shapes: `num_shapes` classes plus background (class 0)."""

    def __init__(
        self,
        num_train: int = 1000,
        num_val: int = 200,
        num_test: int = 200,
        image_size: int = 64,
        num_shapes: int = 3,
        max_objects: int = 4,
        seed: int = 0,
    ):
        for key, value in (("num_train", num_train), ("num_val", num_val), ("num_test", num_test)):
            check(isinstance(value, int) and value >= 1, key, "an integer >= 1", value)
        check(16 <= image_size <= 1024, "image_size", "an integer in [16, 1024]", image_size)
        check(1 <= num_shapes <= len(SHAPES), "num_shapes", f"an integer in [1, {len(SHAPES)}]", num_shapes)
        check(max_objects >= 1, "max_objects", "an integer >= 1", max_objects)
        self.sizes = {"train": num_train, "val": num_val, "test": num_test}
        self.image_size, self.num_shapes, self.max_objects, self.seed = (
            image_size,
            num_shapes,
            max_objects,
            seed,
        )
        self.class_names = ["background", *SHAPES[:num_shapes]]
        self.splits = ("train", "val", "test")

    def dataset(self, split: str) -> Dataset:
        scenes = [
            render_scene(
                split_seed(self.seed, split, i), self.image_size, self.num_shapes, 1, self.max_objects
            )
            for i in range(self.sizes[split])
        ]
        images = torch.from_numpy(np.stack([s.image for s in scenes])).permute(0, 3, 1, 2).contiguous()
        masks = torch.from_numpy(np.stack([s.semantic for s in scenes]))
        return TensorSegDataset(images, masks)

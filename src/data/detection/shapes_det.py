"""`shapes_det`: synthetic detection data from `render_scene`, generated once per split in memory.

Several shapes per image (placed independently, so some touch or overlap), a fraction of empty
images, every scene fixed by `seed`: the same images on every machine, no files.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors

from src.data.common.shapes import SHAPES, render_scene, split_seed
from src.errors import check


class ShapesDetDataset(Dataset):
    """Images (N×3×H×W uint8) and per-image boxes/labels held in memory."""

    def __init__(self, images: torch.Tensor, boxes: list[torch.Tensor], labels: list[torch.Tensor]):
        self.images, self.boxes, self.labels = images, boxes, labels

    def __len__(self) -> int:
        return len(self.images)

    def box_sizes(self) -> torch.Tensor:
        """K×4 rows (w, h, image W, image H) of every box, for k-means anchors."""
        h, w = self.images.shape[-2:]
        wh = torch.cat([b[:, 2:] - b[:, :2] for b in self.boxes]) if self.boxes else torch.zeros(0, 2)
        return torch.cat([wh, torch.tensor([[w, h]], dtype=torch.float32).expand(len(wh), 2)], 1)

    def __getitem__(self, i: int):
        h, w = self.images.shape[-2:]
        target = {
            "boxes": tv_tensors.BoundingBoxes(self.boxes[i].clone(), format="XYXY", canvas_size=(h, w)),
            "labels": self.labels[i].clone(),
            "iscrowd": torch.zeros(len(self.labels[i]), dtype=torch.int64),
            "image_id": i,
        }
        return tv_tensors.Image(self.images[i]), target


class ShapesDet:
    """Reader of the embedded shapes: `num_shapes` object classes (no background class)."""

    def __init__(
        self,
        num_train: int = 2000,
        num_val: int = 200,
        num_test: int = 200,
        image_size: int = 64,
        num_shapes: int = 3,
        min_objects: int = 1,
        max_objects: int = 5,
        radius: list[float] | tuple[float, float] = (0.1, 0.22),
        empty_prob: float = 0.1,
        seed: int = 0,
    ):
        for key, value in (("num_train", num_train), ("num_val", num_val), ("num_test", num_test)):
            check(isinstance(value, int) and value >= 1, key, "an integer >= 1", value)
        check(
            isinstance(image_size, int) and 16 <= image_size <= 1024,
            "image_size",
            "an integer in [16, 1024]",
            image_size,
        )
        check(1 <= num_shapes <= len(SHAPES), "num_shapes", f"an integer in [1, {len(SHAPES)}]", num_shapes)
        check(
            0 <= min_objects <= max_objects,
            "max_objects",
            f"an integer >= min_objects ({min_objects})",
            max_objects,
        )
        check(
            len(radius) == 2 and 0 < radius[0] <= radius[1] <= 0.5,
            "radius",
            "[min, max] fractions in (0, 0.5]",
            radius,
        )
        check(0 <= empty_prob <= 1, "empty_prob", "a probability in [0, 1]", empty_prob)
        self.sizes = {"train": num_train, "val": num_val, "test": num_test}
        self.image_size, self.num_shapes, self.seed = image_size, num_shapes, seed
        self.min_objects, self.max_objects, self.radius, self.empty_prob = (
            min_objects,
            max_objects,
            tuple(radius),
            empty_prob,
        )
        self.class_names = list(SHAPES[:num_shapes])
        self.category_ids = list(range(num_shapes))
        self.splits = ("train", "val", "test")

    def dataset(self, split: str) -> ShapesDetDataset:
        scenes = [
            render_scene(
                split_seed(self.seed, split, i),
                self.image_size,
                self.num_shapes,
                self.min_objects,
                self.max_objects,
                self.radius,
                self.empty_prob,
            )
            for i in range(self.sizes[split])
        ]
        images = torch.from_numpy(np.stack([s.image for s in scenes])).permute(0, 3, 1, 2).contiguous()
        boxes = [torch.from_numpy(s.boxes) for s in scenes]
        labels = [torch.from_numpy(s.labels) for s in scenes]
        return ShapesDetDataset(images, boxes, labels)

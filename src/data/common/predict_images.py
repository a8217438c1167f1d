"""The one prediction dataset: image files → network inputs, with what is needed to map outputs back.

Items are dicts `{"image": C×H×W float, "index": i, "orig_size": (H, W), "scale": (sx, sy)}`:
original px × (sx, sy) = network-input px. `PredictInput` resizes as the task was trained: `resize`
(segmentation, verification: stretched to `image_size`) or the detector's `letterbox` / `stretch`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as F

from src.data.common.image_files import read_image
from src.data.common.transforms import size_pair
from src.data.detection.datasets import letterbox


class PredictInput:
    """Resize (`resize` | `stretch` | `letterbox`) to `image_size`, scale to [0, 1], normalise."""

    def __init__(self, image_size, resize: str, mean: list[float] | None, std: list[float] | None):
        self.size, self.resize, self.mean, self.std = size_pair(image_size), resize, mean, std

    def __call__(self, image: torch.Tensor) -> tuple[torch.Tensor, tuple[float, float]]:
        h, w = image.shape[-2:]
        if self.resize == "letterbox":
            empty = {"boxes": tv_tensors.BoundingBoxes(torch.zeros(0, 4), format="XYXY", canvas_size=(h, w))}
            image, _, scale = letterbox(tv_tensors.Image(image), empty, self.size, "letterbox")
        else:
            image = F.resize(image, list(self.size), antialias=True)
            scale = (self.size[1] / w, self.size[0] / h)
        x = image.as_subclass(torch.Tensor).float() / 255
        if self.mean is not None:
            x = F.normalize(x, list(self.mean), list(self.std))
        return x, scale


class PredictImages(torch.utils.data.Dataset):
    """`files` read as RGB (optionally centre-cropped by `crop`) and prepared by `prepare`."""

    def __init__(self, files: list[Path], prepare: PredictInput, crop: float | None = None):
        self.files, self.prepare, self.crop = list(files), prepare, crop

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> dict:
        image = read_image(self.files[i], self.crop)
        h, w = image.shape[-2:]
        x, scale = self.prepare(image)
        return {
            "image": x,
            "index": i,
            "orig_size": torch.tensor([h, w]),
            "scale": torch.tensor(scale, dtype=torch.float32),
        }

"""Images on disk for the verification readers: decoding with clear errors, an optional centre crop."""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision import tv_tensors
from torchvision.io import ImageReadMode, decode_image

from src.utils.errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff")


def read_image(path: str | Path, crop: float | None = None) -> torch.Tensor:
    """An RGB uint8 tensor 3×H×W; `crop` keeps the central fraction of each side (LFW faces sit centred)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "image not found")
    try:
        image = decode_image(str(path), mode=ImageReadMode.RGB)
    except (RuntimeError, ValueError) as err:
        raise DataError(path, f"cannot decode image ({err}); the file is corrupt or not an image") from None
    if crop:
        h, w = image.shape[-2:]
        ch, cw = max(1, round(h * crop)), max(1, round(w * crop))
        top, left = (h - ch) // 2, (w - cw) // 2
        image = image[:, top : top + ch, left : left + cw]
    return image


def is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


class ImageFiles(torch.utils.data.Dataset):
    """Images read from `paths` with integer `labels`; items are (tv Image uint8, identity)."""

    def __init__(
        self, paths: list[Path], labels: list[int], identity_names: list[str], crop: float | None = None
    ):
        self.paths, self.labels, self.identity_names, self.crop = (
            list(paths),
            list(labels),
            identity_names,
            crop,
        )

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        return tv_tensors.Image(read_image(self.paths[i], self.crop)), int(self.labels[i])

    @property
    def targets(self) -> list[int]:
        return self.labels

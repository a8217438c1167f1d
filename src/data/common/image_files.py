"""Image files for the whole project: the extensions we read, folder listing, decoding with clear errors.

Every reader, the prediction dataset and `+source=` go through these few functions, so an extension
or a decoding rule is changed in one place.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.io import ImageReadMode, decode_image

from src.errors import ConfigError, DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff")
DECODED_BY_TORCHVISION = (".jpg", ".jpeg", ".png", ".webp", ".gif")  # the others go through PIL


def is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def list_images(folder: str | Path, recursive: bool = False) -> list[Path]:
    """The image files of a folder, sorted (hidden files skipped); DataError if there is none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(folder, "images folder not found")
    files = sorted(p for p in (folder.rglob("*") if recursive else folder.iterdir()) if is_image(p))
    if not files:
        raise DataError(folder, f"no images (extensions {', '.join(IMAGE_EXTENSIONS)})")
    return files


def image_sources(source, key: str = "source", recursive: bool = False) -> list[Path]:
    """The files named by a `+source=<image or folder>` value: the image itself or the folder's images."""
    if source in (None, ""):
        raise ConfigError(key, f"give an image or a folder of images: +{key}=path/to/images")
    path = Path(str(source)).expanduser()
    if path.is_dir():
        return list_images(path, recursive)
    if not path.is_file():
        raise ConfigError(key, f"{path} is neither an image nor a folder")
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        raise ConfigError(key, f"{path} is not an image (extensions {', '.join(IMAGE_EXTENSIONS)})")
    return [path]


def _decode_with_pil(path: Path) -> torch.Tensor:
    from PIL import Image

    with Image.open(path) as img:
        pixels = np.asarray(img.convert("RGB")).copy()
    return torch.from_numpy(pixels).permute(2, 0, 1)


def read_image(path: str | Path, crop: float | None = None) -> torch.Tensor:
    """An RGB uint8 tensor 3×H×W (grey and palette images are converted); `crop` keeps the central
    fraction of each side (LFW faces sit centred). DataError naming the file if it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "image not found")
    try:
        if path.suffix.lower() in DECODED_BY_TORCHVISION:
            image = decode_image(str(path), mode=ImageReadMode.RGB)
        else:
            image = _decode_with_pil(path)
    except Exception as err:  # torchvision and PIL raise many types for broken files
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(
            path, f"cannot decode image ({reason}); the file is corrupt or not an image"
        ) from None
    if crop:
        h, w = image.shape[-2:]
        ch, cw = max(1, round(h * crop)), max(1, round(w * crop))
        top, left = (h - ch) // 2, (w - cw) // 2
        image = image[:, top : top + ch, left : left + cw]
    return image


class ImageFiles(torch.utils.data.Dataset):
    """Images read from `paths` with integer `labels`; items are (tv Image uint8, identity)."""

    def __init__(self, paths: list[Path], labels: list[int], identity_names: list[str], crop: float | None):
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

"""`mask_folder`: images with same-stem PNG masks of class ids, and the file-backed dataset it shares with VOC.

On-disk layout (`data.root`):

    root/classes.txt                  optional: one class name per line, line i = class id i (without it,
                                      `num_classes: auto` counts 1 + the largest id in the masks)
    root/train/images/<stem>.<jpg|png|...>
    root/train/masks/<stem>.png       single-channel (mode L/P/I) PNG: pixel value = class id, 255 = ignore
    root/val/...                      same layout
    root/test/...                     optional; without it, testing uses val

Images may have any size (they are resized to `data.image_size` by the transforms); a mask must have the
size of its image. Problems are reported before training by a scan of the split (`verify`), each as a
DataError naming the file: a missing folder, an image without a mask, an unreadable image, a mask whose
size differs from its image, a mask value outside 0..num_classes−1 other than `ignore_index`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset
from torchvision import tv_tensors

from src.data.common.data_checks import probe_image
from src.data.common.image_files import list_images, read_image
from src.errors import ConfigError, DataError, check, check_choice

log = logging.getLogger("imagelab")

MASK_EXTS = (".png", ".tif", ".tiff", ".bmp")  # lossless only: JPEG would blur class ids
MASK_MODES = ("L", "P", "I", "I;16", "1")
VERIFY = ("fast", "full", "none")


def read_mask(path: Path, value_map: dict[int, int] | None = None) -> np.ndarray:
    """A mask PNG as an H×W int64 array of class ids (palette indices for mode P)."""
    try:
        with Image.open(path) as img:
            mode = img.mode
            mask = np.asarray(img).astype(np.int64)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise DataError(path, f"cannot read the mask ({err.__class__.__name__}: {err})") from None
    if mode not in MASK_MODES:
        raise DataError(
            path,
            f"a mask must be a single-channel PNG of class ids (mode L, P or I), got mode {mode}; "
            "convert colour masks to class ids first",
        )
    if value_map:
        mapped = mask.copy()
        for raw, cls in value_map.items():
            mapped[mask == int(raw)] = int(cls)
        mask = mapped
    return mask


def check_mask(
    mask: np.ndarray,
    path: Path,
    num_classes: int,
    ignore_index: int,
    image_size: tuple[int, int],
    image_path: Path,
) -> None:
    """DataError unless the mask has the image's size (W×H) and only values in 0..C−1 or ignore_index."""
    height, width = mask.shape[:2]
    if (width, height) != tuple(image_size):
        raise DataError(
            path,
            f"mask is {width}×{height} (W×H) but its image {image_path} is {image_size[0]}×{image_size[1]}",
        )
    values = np.unique(mask)
    bad = values[(values >= num_classes) | (values < 0)]
    bad = bad[bad != ignore_index]
    if bad.size:
        raise DataError(
            path,
            f"mask values {bad[:10].tolist()} are outside the classes 0..{num_classes - 1} "
            f"(and {ignore_index} = ignore); set data.num_classes, or map raw values with data.reader.value_map",
        )


class SegmentationFiles(Dataset):
    """(image, mask) file pairs → (`tv_tensors.Image` uint8 3×H×W, `tv_tensors.Mask` int64 H×W)."""

    def __init__(
        self,
        pairs: Sequence[tuple[Path, Path]],
        num_classes: int,
        ignore_index: int = 255,
        value_map: dict[int, int] | None = None,
    ):
        self.pairs = list(pairs)
        self.num_classes, self.ignore_index, self.value_map = num_classes, ignore_index, value_map

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int):
        image_path, mask_path = self.pairs[i]
        image = read_image(image_path)
        mask = read_mask(mask_path, self.value_map)
        size = (int(image.shape[-1]), int(image.shape[-2]))  # (W, H) as PIL reports it
        check_mask(mask, mask_path, self.num_classes, self.ignore_index, size, image_path)
        return tv_tensors.Image(image), tv_tensors.Mask(torch.from_numpy(mask))

    def scan(self, verify: str = "fast", where: str = "") -> None:
        """Check every pair before training. fast: image headers + masks decoded; full: images decoded too."""
        if verify == "none":
            return
        seen_foreground = seen_ignore = False
        for image_path, mask_path in self.pairs:
            size = probe_image(image_path, decode=verify == "full")
            mask = read_mask(mask_path, self.value_map)
            check_mask(mask, mask_path, self.num_classes, self.ignore_index, size, image_path)
            seen_foreground = seen_foreground or bool(((mask > 0) & (mask != self.ignore_index)).any())
            seen_ignore = seen_ignore or bool((mask == self.ignore_index).any())
        if self.pairs and seen_ignore and not seen_foreground:
            log.warning(
                "%s: every non-background mask pixel is %d (ignored). If the masks are 0/255 binary, "
                "set data.reader.value_map='{255: 1}'",
                where or "dataset",
                self.ignore_index,
            )


def read_class_names(path: Path) -> list[str]:
    """classes.txt: one name per line (line i = class id i); blank trailing lines are allowed."""
    lines = path.read_text(encoding="utf-8").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    names: list[str] = []
    for number, line in enumerate(lines, start=1):
        name = line.strip()
        if not name:
            raise DataError(
                path, "empty class name (line i names class id i−1; remove the blank line)", line=number
            )
        if name in names:
            raise DataError(path, f"class name {name!r} repeats line {names.index(name) + 1}", line=number)
        names.append(name)
    if len(names) < 2:
        raise DataError(path, f"needs at least 2 classes (background first), found {len(names)}")
    return names


def parse_value_map(value_map) -> dict[int, int] | None:
    if not value_map:
        return None
    try:
        return {int(k): int(v) for k, v in dict(value_map).items()}
    except (TypeError, ValueError):
        raise ConfigError(
            "value_map",
            f"expected a mapping of raw mask values to class ids, e.g. {{255: 1}} (got {value_map!r})",
        ) from None


class MaskFolder:
    """Reader of `root/{train,val[,test]}/{images,masks}` (see the module docstring)."""

    def __init__(
        self,
        root: str,
        num_classes: int | str = "auto",
        classes: list[str] | None = None,
        ignore_index: int = 255,
        value_map: dict[int, int] | None = None,
        images_dir: str = "images",
        masks_dir: str = "masks",
        verify: str = "fast",
    ):
        check(
            num_classes == "auto" or (isinstance(num_classes, int) and num_classes >= 2),
            "num_classes",
            "'auto' (from classes.txt, else the masks) or an integer >= 2",
            num_classes,
        )
        check_choice(verify, "verify", VERIFY)
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise DataError(
                self.root, "dataset folder not found (set data.root to the folder holding train/ and val/)"
            )
        self.ignore_index, self.verify = ignore_index, verify
        self.value_map = parse_value_map(value_map)
        self.images_dir, self.masks_dir = images_dir, masks_dir
        if classes:
            self.class_names = [str(c) for c in classes]
        elif (self.root / "classes.txt").is_file():
            self.class_names = read_class_names(self.root / "classes.txt")
        else:
            count = self.count_classes() if num_classes == "auto" else num_classes
            self.class_names = ["background", *(f"class_{i}" for i in range(1, count))]
        # an explicit count that differs from the names is reported by the DataModule
        self.num_classes = len(self.class_names) if num_classes == "auto" else num_classes
        self.splits = tuple(
            s for s in ("train", "val", "test") if s != "test" or (self.root / "test" / images_dir).is_dir()
        )

    def count_classes(self) -> int:
        """Without classes.txt: 1 + the largest class id in the train and val masks (at least 2)."""
        top = 0
        for split in ("train", "val"):
            for _, mask_path in self.pairs(split):
                values = np.unique(read_mask(mask_path, self.value_map))
                values = values[values != self.ignore_index]
                top = max(top, int(values.max()) if values.size else 0)
        log.info("mask_folder: %d classes from the masks (write root/classes.txt to name them)", top + 1)
        return max(2, top + 1)

    def pairs(self, split: str) -> list[tuple[Path, Path]]:
        images_dir = self.root / split / self.images_dir
        masks_dir = self.root / split / self.masks_dir
        for folder in (images_dir, masks_dir):
            if not folder.is_dir():
                raise DataError(
                    folder,
                    f"folder not found: the {split} split needs {split}/{self.images_dir}/ and {split}/{self.masks_dir}/",
                )
        images = list_images(images_dir)
        masks = {}
        for p in masks_dir.iterdir():
            if p.suffix.lower() in MASK_EXTS:
                masks.setdefault(p.stem, p if p.suffix.lower() == ".png" else masks.get(p.stem, p))
        pairs, stems = [], {}
        for image in images:
            if image.stem in stems:
                raise DataError(
                    image,
                    f"two images share the stem {image.stem!r} ({stems[image.stem].name}); masks are matched by stem",
                )
            stems[image.stem] = image
            mask = masks.get(image.stem)
            if mask is None:
                raise DataError(image, f"no mask {masks_dir / (image.stem + '.png')}")
            pairs.append((image, mask))
        return pairs

    def dataset(self, split: str) -> SegmentationFiles:
        data = SegmentationFiles(self.pairs(split), self.num_classes, self.ignore_index, self.value_map)
        data.scan(self.verify, where=str(self.root / split))
        log.info("mask_folder %s: %d images", split, len(data))
        return data

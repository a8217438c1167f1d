"""Detection records shared by the file readers (YOLO, COCO, VOC): checks, a cached scan, a Dataset.

A reader turns its annotation format into `records`: one dict per image with `file` (absolute path),
`width`, `height`, `boxes` (K×4 XYXY pixels), `labels` (class ids 0..C−1), `iscrowd` (1 = ignored in
evaluation: COCO crowds, VOC `difficult`), `image_id`. The first read checks every image (fully
decoded) and box, and stores the records in a JSON cache keyed on the files' sizes and mtimes (as
ultralytics' `.cache`), so a bad file fails before training and later runs skip the scan.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset
from torchvision import tv_tensors

from src.data.common.image_files import IMAGE_EXTENSIONS, is_image, read_image
from src.errors import DataError

IMAGE_SUFFIXES = IMAGE_EXTENSIONS  # the project-wide list (src/data/common/image_files.py)
CACHE_VERSION = 1


def image_size_of(path: Path) -> tuple[int, int]:
    """(width, height) of an image after decoding it fully, so truncated or corrupt files fail here."""
    try:
        with Image.open(path) as img:
            img.load()
            return img.size
    except (OSError, UnidentifiedImageError, SyntaxError) as err:
        raise DataError(path, f"unreadable or corrupt image ({err})") from None


def check_box(
    box, width: int, height: int, where: Path, line: int | None = None, tol: float = 1.0
) -> list[float]:
    """Refuse a box with non-positive size or reaching beyond the image by more than `tol` pixels.

    Returns the box clipped to the image (rounding of exported labels often overshoots by a pixel).
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    if not (x2 > x1 and y2 > y1):
        raise DataError(
            where, f"box {[round(v, 2) for v in (x1, y1, x2, y2)]} has non-positive width or height", line
        )
    if x1 < -tol or y1 < -tol or x2 > width + tol or y2 > height + tol:
        raise DataError(
            where,
            f"box {[round(v, 2) for v in (x1, y1, x2, y2)]} lies outside the {width}×{height} image",
            line,
        )
    return [max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2)]


def check_class(cls: int, num_classes: int, where: Path, line: int | None = None) -> int:
    if not 0 <= cls < num_classes:
        raise DataError(where, f"class id {cls} is out of range [0, {num_classes - 1}]", line)
    return cls


def list_images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise DataError(folder, "images folder not found")
    return sorted(p for p in folder.iterdir() if is_image(p))


def fingerprint(files: list[Path], extra: str = "") -> str:
    """Hash of the files' names, sizes and mtimes (missing files count too)."""
    h = hashlib.sha1(f"{CACHE_VERSION}|{extra}".encode())
    for f in files:
        try:
            st = os.stat(f)
            h.update(f"{f}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        except FileNotFoundError:
            h.update(f"{f}|missing\n".encode())
    return h.hexdigest()


def cache_path_for(preferred: Path) -> Path:
    """`preferred` if its folder is writable, else the same name under ~/.cache/imagelab/scans."""
    if os.access(preferred.parent, os.W_OK):
        return preferred
    digest = hashlib.sha1(str(preferred).encode()).hexdigest()[:12]
    fallback = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "imagelab" / "scans"
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback / f"{digest}_{preferred.name}"


def cached_scan(
    cache_file: Path, files: list[Path], scan: Callable[[], list[dict]], extra: str = ""
) -> list[dict]:
    """Records from `cache_file` if its fingerprint of `files` still matches, else `scan()` (then cached)."""
    cache_file = cache_path_for(cache_file)
    key = fingerprint(files, extra)
    if cache_file.is_file():
        try:
            cached = json.loads(cache_file.read_text())
            if cached.get("fingerprint") == key:
                return cached["records"]
        except (json.JSONDecodeError, KeyError, TypeError):
            pass
    records = scan()
    try:
        tmp = cache_file.with_suffix(cache_file.suffix + ".tmp")
        tmp.write_text(json.dumps({"fingerprint": key, "records": records}))
        tmp.replace(cache_file)
    except OSError:
        pass  # a read-only place: scan again next time
    return records


def make_record(file: Path, width: int, height: int, boxes, labels, iscrowd=None, image_id: int = 0) -> dict:
    return {
        "file": str(file),
        "width": int(width),
        "height": int(height),
        "boxes": [list(map(float, b)) for b in boxes],
        "labels": [int(c) for c in labels],
        "iscrowd": [int(c) for c in (iscrowd if iscrowd is not None else [0] * len(labels))],
        "image_id": int(image_id),
    }


def target_from(record: dict, height: int, width: int) -> dict:
    """The detection target of a record: boxes as tv_tensors (XYXY px), labels, iscrowd, image_id."""
    boxes = torch.tensor(record["boxes"], dtype=torch.float32).reshape(-1, 4)
    return {
        "boxes": tv_tensors.BoundingBoxes(boxes, format="XYXY", canvas_size=(height, width)),
        "labels": torch.tensor(record["labels"], dtype=torch.int64),
        "iscrowd": torch.tensor(record["iscrowd"], dtype=torch.int64),
        "image_id": int(record["image_id"]),
    }


class RecordDataset(Dataset):
    """(uint8 image C×H×W as tv_tensors.Image, target) from checked records; images decoded as RGB."""

    def __init__(self, records: list[dict]):
        self.records = records

    def __len__(self) -> int:
        return len(self.records)

    def box_sizes(self) -> torch.Tensor:
        """All non-crowd boxes' (w, h) in pixels, with each image's size: for anchors. K×4 (w, h, W, H)."""
        rows = [
            [b[2] - b[0], b[3] - b[1], r["width"], r["height"]]
            for r in self.records
            for b, c in zip(r["boxes"], r["iscrowd"])
            if not c
        ]
        return torch.tensor(rows, dtype=torch.float32).reshape(-1, 4)

    def __getitem__(self, i: int):
        record = self.records[i]
        image = read_image(record["file"])
        h, w = image.shape[-2:]
        return tv_tensors.Image(image), target_from(record, h, w)

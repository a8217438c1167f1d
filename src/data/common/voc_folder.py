"""The VOC<year> folder of a Pascal VOC layout, for both VOC readers (detection and segmentation)."""

from __future__ import annotations

from pathlib import Path

from src.errors import DataError


def find_voc_dir(root: Path, year: str, marker: str) -> Path:
    """`root` may be VOCdevkit's parent, VOCdevkit itself, or the VOC<year> folder; the folder found holds
    `marker` (e.g. `Annotations`, `JPEGImages`). `year="auto"` tries 2012, then 2007."""
    years = ("2012", "2007") if year == "auto" else (year,)
    candidates = [base / f"VOC{y}" for y in years for base in (root / "VOCdevkit", root)] + [root]
    for folder in candidates:
        if (folder / marker).is_dir():
            return folder
    wanted = " or ".join(f"VOCdevkit/VOC{y}" for y in years)
    raise DataError(root, f"no VOC dataset here: expected {wanted} holding {marker}/")

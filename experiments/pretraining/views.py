"""The study's data views: links to the prepared real set's files, with fewer labelled training images and,
for detection, every class mapped to one `object` class (10 classes stay at chance level within CPU minutes,
benchmarks/results/real_time_to_quality.md). Written once into the study folder; the set is never copied."""

from __future__ import annotations

import random
from pathlib import Path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


def keep(files: list[Path], fraction: float, seed: int = 0) -> list[Path]:
    """A fixed random `fraction` of `files` (at least two: an identity needs a pair), the same on every call."""
    files = sorted(files)
    count = min(len(files), max(2, round(len(files) * fraction)))
    return sorted(random.Random(seed).sample(files, count))


def link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not dst.exists():
        dst.symlink_to(src.resolve())


def images_in(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]


def segmentation(root: Path, out: Path, fraction: float) -> Path:
    """A mask folder (root/{train,val}/{images,masks}) with `fraction` of the training pairs."""
    for split in ("train", "val"):
        files = images_in(root / split / "images")
        for image in keep(files, fraction) if split == "train" else files:
            link(image, out / split / "images" / image.name)
            link(root / split / "masks" / f"{image.stem}.png", out / split / "masks" / f"{image.stem}.png")
    return out


def detection(root: Path, out: Path, fraction: float) -> Path:
    """A YOLO folder with `fraction` of the training images and every box's class rewritten to 0 (`object`)."""
    for split in ("train", "val"):
        files = images_in(root / "images" / split)
        for image in keep(files, fraction) if split == "train" else files:
            link(image, out / "images" / split / image.name)
            label = root / "labels" / split / f"{image.stem}.txt"
            target = out / "labels" / split / label.name
            target.parent.mkdir(parents=True, exist_ok=True)
            lines = label.read_text().splitlines() if label.is_file() else []
            target.write_text(
                "".join("0 " + line.split(maxsplit=1)[1] + "\n" for line in lines if line.strip())
            )
    (out / "data.yaml").write_text(
        f"path: {out.resolve()}\ntrain: images/train\nval: images/val\nnames:\n  0: object\n"
    )
    return out


def verification(root: Path, out: Path, fraction: float) -> Path:
    """An identity folder with `fraction` of each training identity's images (held-out identities whole)."""
    for split in ("train", "val"):
        for identity in sorted(p for p in (root / split).iterdir() if p.is_dir()):
            files = images_in(identity)
            for image in keep(files, fraction) if split == "train" else files:
                link(image, out / split / identity.name / image.name)
    return out


VIEWS = {"detection": detection, "segmentation": segmentation, "verification": verification}

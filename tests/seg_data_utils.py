"""Tiny on-disk segmentation datasets for the tests: a mask folder and a VOC layout, from the shapes renderer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from src.data.common.shapes import render_scene

SIZES = ((48, 40), (64, 64), (56, 72))  # (H, W): mixed sizes, resized by the datamodule


def scene(i: int, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """An H×W×3 uint8 image and its H×W uint8 class-id mask (0 background, 1..3 shapes)."""
    h, w = size
    s = render_scene(1000 + i, max(h, w), num_shapes=3, min_objects=1, max_objects=3)
    return s.image[:h, :w].copy(), s.semantic[:h, :w].copy()


def voc_palette() -> list[int]:
    """The VOC colour map (bit-interleaved), as a flat 768-entry PIL palette."""
    pal = []
    for k in range(256):
        r = g = b = 0
        c = k
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal += [r, g, b]
    return pal


def with_border(mask: np.ndarray) -> np.ndarray:
    """VOC style: pixels on the outline of every object become 255 (ignore)."""
    out = mask.copy()
    edge = np.zeros_like(mask, dtype=bool)
    edge[:-1] |= mask[:-1] != mask[1:]
    edge[:, :-1] |= mask[:, :-1] != mask[:, 1:]
    out[edge] = 255
    return out


def write_mask_folder(root: Path, counts=None, classes: bool = True, test: bool = False) -> Path:
    """root/{train,val[,test]}/{images,masks}; images alternate JPEG/PNG and sizes."""
    counts = counts or {"train": 12, "val": 6}
    if test:
        counts = {**counts, "test": 4}
    i = 0
    for split, n in counts.items():
        (root / split / "images").mkdir(parents=True)
        (root / split / "masks").mkdir(parents=True)
        for k in range(n):
            image, mask = scene(i, SIZES[k % len(SIZES)])
            ext = ".jpg" if k % 2 else ".png"
            Image.fromarray(image).save(root / split / "images" / f"img_{k:03d}{ext}", quality=95)
            Image.fromarray(mask).save(root / split / "masks" / f"img_{k:03d}.png")
            i += 1
    if classes:
        (root / "classes.txt").write_text("background\ncircle\nsquare\ntriangle\n")
    return root


def write_voc(root: Path, year: str = "2012", counts=None) -> Path:
    """root/VOCdevkit/VOC<year>/{JPEGImages,SegmentationClass,ImageSets/Segmentation} with palette masks."""
    counts = counts or {"train": 12, "val": 6}
    voc = root / "VOCdevkit" / f"VOC{year}"
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (voc / sub).mkdir(parents=True)
    pal, i = voc_palette(), 0
    for split, n in counts.items():
        ids = []
        for k in range(n):
            image_id = f"{year}_{i:06d}"
            image, mask = scene(i, SIZES[k % len(SIZES)])
            Image.fromarray(image).save(voc / "JPEGImages" / f"{image_id}.jpg", quality=95)
            png = Image.frombytes("P", (mask.shape[1], mask.shape[0]), with_border(mask).tobytes())
            png.putpalette(pal)
            png.save(voc / "SegmentationClass" / f"{image_id}.png")
            ids.append(image_id)
            i += 1
        (voc / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("\n".join(ids) + "\n")
    return root

"""The three dataset layouts of one real set (benchmarks/_real_data.py), written from its real objects, their
class names, the mask rule of an object and real background photos: identity folders (classes as
identities, 5 train / 5 held out), detection scenes (ultralytics layout) and segmentation scenes (mask
folder). A scene is a real photo tile with real objects pasted on it; its masks and boxes follow the pasted
pixels (written by hand: no library composes labelled scenes from object crops).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

ID_TRAIN, ID_VAL = [0, 1, 2, 3, 4], [5, 6, 7, 8, 9]  # held-out classes (identities) for validation
DET_TILE, SEG_TILE = (
    256,
    128,
)  # scene sizes: ultralytics' imgsz for this data is the image size (a multiple of 32)
SEEDS = {"ids": 0, "det": {"train": 1, "val": 2}, "seg": {"train": 3, "val": 4}}

Parts = dict[str, tuple[np.ndarray, np.ndarray]]  # split -> (grey uint8 images N×H×W, class ids N)


@dataclass(frozen=True)
class ObjectSet:
    """What one real set is made of; `sizes[layout][split]` = images (verification: per class)."""

    classes: list[str]
    identities: Parts  # where the identities' images are drawn from (train: ID_TRAIN, val: ID_VAL classes)
    objects: Parts  # the objects pasted in the scenes of each split
    backgrounds: dict[str, list[np.ndarray]]  # split -> RGB uint8 photos (or tiles of them), disjoint splits
    mask: Callable[[np.ndarray], np.ndarray]  # an enlarged object (float H×W) -> its boolean mask
    sizes: dict[str, dict[str, int]]


def compose_scene(
    rng, backgrounds, items, labels, tile: int, size_range: tuple[int, int], max_objects: int, mask
):
    """A real photo tile with 1..max_objects real objects pasted on it: image, class-id mask (0 = background),
    boxes XYXY of what stays visible of each object, and their labels (objects mostly hidden are dropped).
    `mask(object)` says which pixels of an enlarged object are the object (and get pasted)."""
    bg = backgrounds[rng.integers(len(backgrounds))]
    y, x = rng.integers(bg.shape[0] - tile + 1), rng.integers(bg.shape[1] - tile + 1)
    image = bg[y : y + tile, x : x + tile].astype(np.float32)
    owner = np.full((tile, tile), -1, np.int32)
    picks = rng.choice(len(items), rng.integers(1, max_objects + 1), replace=False)
    areas = []
    for k, i in enumerate(picks):
        side = int(rng.integers(*size_range))
        obj = np.asarray(Image.fromarray(items[i]).resize((side, side), Image.BILINEAR)).astype(np.float32)
        pixels = mask(obj)
        oy, ox = rng.integers(tile - side + 1), rng.integers(tile - side + 1)
        tint = rng.uniform(0.6, 1.0, 3)  # the grey object lit by a random colour
        region = image[oy : oy + side, ox : ox + side]
        region[pixels] = obj[pixels][:, None] * tint
        owner[oy : oy + side, ox : ox + side][pixels] = k
        areas.append(pixels.sum())
    semantic = np.zeros((tile, tile), np.uint8)
    boxes, kept = [], []
    for k, i in enumerate(picks):
        ys, xs = np.nonzero(owner == k)
        if len(ys) < 0.4 * areas[k]:  # mostly hidden by later objects
            continue
        semantic[owner == k] = labels[i] + 1
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        kept.append(int(labels[i]))
    return image.clip(0, 255).astype(np.uint8), semantic, boxes, kept


def write_ids(root: Path, s: ObjectSet) -> None:
    rng = np.random.default_rng(SEEDS["ids"])
    for split, classes in (("train", ID_TRAIN), ("val", ID_VAL)):
        images, labels = s.identities[split]
        for c in classes:
            idx = rng.choice(np.nonzero(labels == c)[0], s.sizes["ids"][split], replace=False)
            folder = root / split / s.classes[c]
            folder.mkdir(parents=True, exist_ok=True)
            for j, i in enumerate(idx):
                Image.fromarray(images[i]).save(folder / f"{j:04d}.png")


def scenes(s: ObjectSet, layout: str, split: str, tile: int):
    images, labels = s.objects[split]
    rng = np.random.default_rng(SEEDS[layout][split])
    size_range = (tile // 8, tile // 3) if tile >= 256 else (tile // 5, tile // 2)
    for k in range(s.sizes[layout][split]):
        yield k, compose_scene(rng, s.backgrounds[split], images, labels, tile, size_range, 6, s.mask)


def write_det(root: Path, s: ObjectSet) -> None:
    t = DET_TILE
    for split in s.sizes["det"]:
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for k, (image, _, boxes, labels) in scenes(s, "det", split, t):
            Image.fromarray(image).save(root / "images" / split / f"{k:05d}.jpg", quality=92)
            lines = [
                f"{c} {(b[0] + b[2]) / 2 / t:.6f} {(b[1] + b[3]) / 2 / t:.6f} {(b[2] - b[0]) / t:.6f} {(b[3] - b[1]) / t:.6f}"
                for b, c in zip(boxes, labels)
            ]
            (root / "labels" / split / f"{k:05d}.txt").write_text("".join(line + "\n" for line in lines))
    names = "".join(f"  {i}: {n}\n" for i, n in enumerate(s.classes))
    (root / "data.yaml").write_text(
        f"path: {root.resolve()}\ntrain: images/train\nval: images/val\nnames:\n{names}"
    )


def write_seg(root: Path, s: ObjectSet) -> None:
    for split in s.sizes["seg"]:
        (root / split / "images").mkdir(parents=True, exist_ok=True)
        (root / split / "masks").mkdir(parents=True, exist_ok=True)
        for k, (image, semantic, _, _) in scenes(s, "seg", split, SEG_TILE):
            Image.fromarray(image).save(root / split / "images" / f"{k:05d}.jpg", quality=92)
            Image.fromarray(semantic).save(root / split / "masks" / f"{k:05d}.png")
    (root / "classes.txt").write_text("background\n" + "\n".join(s.classes) + "\n")


def write_set(out: Path, name: str, s: ObjectSet) -> list[Path]:
    """`<name>_ids`, `<name>_det`, `<name>_seg` under `out`; returns the three folders."""
    folders = [out / f"{name}_{layout}" for layout in ("ids", "det", "seg")]
    for folder, write in zip(folders, (write_ids, write_det, write_seg)):
        write(folder, s)
    return folders

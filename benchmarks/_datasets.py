"""Small on-disk datasets for the benchmarks, in every format the readers take, at realistic image sizes.

Images are JPEG scenes of the shapes renderer (src/data/common/shapes.py): `mask_folder` and `voc_seg` at
384×288 with PNG class-id masks, `identity_folder` at 250×250 (LFW's size), `yolo`, `coco` and `voc_det`
at 480×360 with 3 classes. `write_dataset(name, root, n_train)` returns the Hydra overrides that
point the data config at it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from src.data.common.shapes import render_scene

NAMES = ["circle", "square", "triangle"]
SEG_SIZE, DET_SIZE, FACE_SIZE = (288, 384), (360, 480), 250  # (H, W)


def scene(seed: int, hw: tuple[int, int], max_objects: int = 5):
    """Image H×W×3 uint8, class-id mask H×W (0 = background), boxes XYXY px and labels, cropped from a
    square render (boxes clipped to the crop, those left empty dropped)."""
    h, w = hw
    s = render_scene(seed, max(h, w), num_shapes=3, min_objects=1, max_objects=max_objects)
    boxes = s.boxes.copy()
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
    keep = (boxes[:, 2] - boxes[:, 0] >= 2) & (boxes[:, 3] - boxes[:, 1] >= 2)
    return s.image[:h, :w].copy(), s.semantic[:h, :w].copy(), boxes[keep].round(), s.labels[keep]


def save_jpeg(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, quality=90)


def save_png(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def splits(n_train: int) -> dict[str, int]:
    return {"train": n_train, "val": max(8, n_train // 8)}


def write_mask_folder(root: Path, n_train: int) -> list[str]:
    i = 0
    for split, n in splits(n_train).items():
        for k in range(n):
            image, mask, _, _ = scene(i, SEG_SIZE)
            save_jpeg(image, root / split / "images" / f"{k:05d}.jpg")
            save_png(mask, root / split / "masks" / f"{k:05d}.png")
            i += 1
    (root / "classes.txt").write_text("background\n" + "\n".join(NAMES) + "\n")
    return [f"data.root={root}", "data.num_classes=4"]


def write_voc_seg(root: Path, n_train: int) -> list[str]:
    voc = root / "VOCdevkit" / "VOC2012"
    i = 0
    for split, n in splits(n_train).items():
        ids = []
        for _ in range(n):
            image_id = f"2012_{i:06d}"
            image, mask, _, _ = scene(i, SEG_SIZE)
            save_jpeg(image, voc / "JPEGImages" / f"{image_id}.jpg")
            save_png(mask, voc / "SegmentationClass" / f"{image_id}.png")
            ids.append(image_id)
            i += 1
        (voc / "ImageSets" / "Segmentation").mkdir(parents=True, exist_ok=True)
        (voc / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("\n".join(ids) + "\n")
    return [f"data.root={root}", "data.num_classes=4", f"data.reader.classes=[background,{','.join(NAMES)}]"]


def write_identity_folder(root: Path, n_train: int, per_identity: int = 8) -> list[str]:
    i = 0
    for split, n in splits(n_train).items():
        for person in range(max(2, n // per_identity)):
            for k in range(per_identity):
                image, _, _, _ = scene(i, (FACE_SIZE, FACE_SIZE), max_objects=3)
                save_jpeg(image, root / split / f"person_{person:04d}" / f"{k:03d}.jpg")
                i += 1
    return [f"data.root={root}"]


def det_items(n: int, offset: int = 0):
    for i in range(n):
        image, _, boxes, labels = scene(offset + i, DET_SIZE)
        yield f"{offset + i:06d}", image, boxes, labels


def write_yolo(root: Path, n_train: int) -> list[str]:
    h, w = DET_SIZE
    offset = 0
    for split, n in splits(n_train).items():
        for name, image, boxes, labels in det_items(n, offset):
            save_jpeg(image, root / "images" / split / f"{name}.jpg")
            lines = [
                f"{c} {(b[0] + b[2]) / 2 / w:.6f} {(b[1] + b[3]) / 2 / h:.6f} {(b[2] - b[0]) / w:.6f} {(b[3] - b[1]) / h:.6f}"
                for b, c in zip(boxes, labels)
            ]
            (root / "labels" / split).mkdir(parents=True, exist_ok=True)
            (root / "labels" / split / f"{name}.txt").write_text("\n".join(lines) + "\n")
        offset += n
    (root / "data.yaml").write_text(
        f"path: {root}\ntrain: images/train\nval: images/val\nnames:\n"
        + "".join(f"  {i}: {n}\n" for i, n in enumerate(NAMES))
    )
    return [f"data.root={root}", "data.num_classes=3"]


def write_coco(root: Path, n_train: int) -> list[str]:
    h, w = DET_SIZE
    offset = 0
    for split, n in splits(n_train).items():
        folder = f"{split}2017"
        images, anns = [], []
        for name, image, boxes, labels in det_items(n, offset):
            save_jpeg(image, root / folder / f"{name}.jpg")
            images.append({"id": int(name), "file_name": f"{name}.jpg", "width": w, "height": h})
            for b, c in zip(boxes.tolist(), labels.tolist()):
                bbox = [b[0], b[1], b[2] - b[0], b[3] - b[1]]
                anns.append(
                    {
                        "id": len(anns) + 1,
                        "image_id": int(name),
                        "category_id": int(c) + 1,
                        "bbox": bbox,
                        "area": bbox[2] * bbox[3],
                        "iscrowd": 0,
                    }
                )
        offset += n
        (root / "annotations").mkdir(parents=True, exist_ok=True)
        cats = [{"id": i + 1, "name": n} for i, n in enumerate(NAMES)]
        (root / "annotations" / f"instances_{folder}.json").write_text(
            json.dumps({"images": images, "annotations": anns, "categories": cats})
        )
    return [f"data.root={root}", "data.num_classes=3"]


def write_voc_det(root: Path, n_train: int) -> list[str]:
    h, w = DET_SIZE
    base = root / "VOCdevkit" / "VOC2007"
    offset = 0
    (base / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
    (base / "Annotations").mkdir(parents=True, exist_ok=True)
    for split, n in splits(n_train).items():
        ids = []
        for name, image, boxes, labels in det_items(n, offset):
            save_jpeg(image, base / "JPEGImages" / f"{name}.jpg")
            objs = "".join(
                f"<object><name>{NAMES[c]}</name><difficult>0</difficult><bndbox><xmin>{int(b[0]) + 1}</xmin>"
                f"<ymin>{int(b[1]) + 1}</ymin><xmax>{int(b[2])}</xmax><ymax>{int(b[3])}</ymax></bndbox></object>"
                for b, c in zip(boxes.tolist(), labels.tolist())
            )
            (base / "Annotations" / f"{name}.xml").write_text(
                f"<annotation><filename>{name}.jpg</filename><size><width>{w}</width><height>{h}</height>"
                f"<depth>3</depth></size>{objs}</annotation>"
            )
            ids.append(name)
        offset += n
        (base / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(ids) + "\n")
    return [f"data.root={root}", "data.num_classes=3", f"data.reader.classes=[{','.join(NAMES)}]"]


WRITERS = {
    "mask_folder": write_mask_folder,
    "voc_seg": write_voc_seg,
    "identity_folder": write_identity_folder,
    "yolo": write_yolo,
    "coco": write_coco,
    "voc_det": write_voc_det,
}


def write_dataset(name: str, root: Path, n_train: int) -> list[str]:
    """Write dataset `name` under `root`; the Hydra overrides (`data.root=...`, ...) that read it."""
    root.mkdir(parents=True, exist_ok=True)
    return WRITERS[name](root, n_train)

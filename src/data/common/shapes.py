"""Deterministic synthetic scenes of coloured shapes on textured backgrounds (the embedded data).

One renderer serves segmentation (class-id masks) and detection (boxes): `render_scene(seed, ...)`
gives the same scene for the same seed on every machine, so datasets are reproducible without files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHAPES = ("circle", "square", "triangle", "cross", "ring", "diamond")


@dataclass
class Scene:
    image: np.ndarray  # H×W×3 uint8
    semantic: np.ndarray  # H×W uint8: 0 background, k+1 for shape class k (later shapes on top)
    boxes: np.ndarray  # K×4 float32, XYXY pixels of each whole shape (clipped to the image)
    labels: np.ndarray  # K int64, shape class ids 0..num_shapes-1


def background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Smooth colour gradient + stripes + pixel noise, in a mid range so shapes stand out by form."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    base = rng.uniform(40, 150, size=3)
    slope = rng.uniform(-40, 40, size=(2, 3))
    img = base + xx[..., None] * slope[0] + yy[..., None] * slope[1]
    angle, freq = rng.uniform(0, np.pi), rng.uniform(4, 12)
    stripes = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * freq * np.pi)
    img += stripes[..., None] * rng.uniform(5, 20)
    img += rng.normal(0, 6, size=img.shape)
    return img


def shape_mask(
    kind: str, xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, r: float, aspect: float
) -> np.ndarray:
    dx, dy = xx - cx, yy - cy
    if kind == "circle":
        return dx**2 + dy**2 <= r**2
    if kind == "square":
        return (np.abs(dx) <= r * aspect) & (np.abs(dy) <= r / aspect)
    if kind == "triangle":  # apex up, base at cy + r/2
        return (dy <= r / 2) & (dy >= -r + 2 * np.abs(dx) * 0.9)
    if kind == "cross":
        arm = r / 3
        return ((np.abs(dx) <= arm) & (np.abs(dy) <= r)) | ((np.abs(dy) <= arm) & (np.abs(dx) <= r))
    if kind == "ring":
        d2 = dx**2 + dy**2
        return (d2 <= r**2) & (d2 >= (0.55 * r) ** 2)
    return np.abs(dx) + np.abs(dy) <= r  # diamond


def render_scene(
    seed: int,
    size: int = 64,
    num_shapes: int = 3,
    min_objects: int = 1,
    max_objects: int = 4,
    radius: tuple[float, float] = (0.1, 0.25),
    empty_prob: float = 0.0,
) -> Scene:
    """Render scene `seed`: up to `max_objects` shapes of `num_shapes` kinds with radii in `radius`·size."""
    rng = np.random.default_rng(seed)
    img = background(rng, size)
    semantic = np.zeros((size, size), np.uint8)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    count = 0 if rng.random() < empty_prob else int(rng.integers(min_objects, max_objects + 1))
    boxes, labels = [], []
    for _ in range(count):
        k = int(rng.integers(0, num_shapes))
        r = rng.uniform(*radius) * size
        cx, cy = rng.uniform(r * 0.6, size - r * 0.6, size=2)
        aspect = rng.uniform(0.75, 1.33)
        mask = shape_mask(SHAPES[k], xx, yy, cx, cy, r, aspect)
        if mask.sum() < 12:
            continue
        colour = rng.uniform(0, 255, size=3)
        colour[rng.integers(0, 3)] = rng.choice([rng.uniform(0, 30), rng.uniform(220, 255)])  # contrast
        shade = 1 + 0.15 * ((xx - cx) / size)[..., None]  # a little shading inside the shape
        img = np.where(mask[..., None], colour * shade, img)
        semantic[mask] = k + 1
        ys, xs = np.nonzero(mask)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        labels.append(k)
    img = np.clip(img + rng.normal(0, 4, size=img.shape), 0, 255).astype(np.uint8)
    return Scene(
        image=img,
        semantic=semantic,
        boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
        labels=np.asarray(labels, np.int64),
    )


def split_seed(seed: int, split: str, index: int) -> int:
    """Disjoint seeds per split, so train/val/test never share a scene."""
    offset = {"train": 0, "val": 1, "test": 2}[split]
    return (seed * 1_000_003 + offset) * 10_000_019 + index

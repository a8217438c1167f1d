"""Detection pipelines: letterbox/resize to `image_size`, mosaic, mix-up and v2 augmentation with boxes.

Every sample is `(image, target)`; boxes are `tv_tensors.BoundingBoxes` (XYXY pixels) and follow the
image through `torchvision.transforms.v2`. Training: (mosaic of 4 images | one image) → random affine
(scale/translate/rotate) → flips → mix-up → colour jitter → SanitizeBoundingBoxes → float. Evaluation:
letterbox + float only, and the target keeps what maps predictions back to the original image
(`scale` = (sx, sy), `orig_size` = (H, W), `orig_boxes` in original pixels).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from src.data.common.transforms import IMAGENET_MEAN, IMAGENET_STD, AugmentConfig, size_pair, to_float
from src.errors import check, check_choice

RESIZE_MODES = ("letterbox", "stretch")
PAD_VALUE = 114  # grey padding, as in ultralytics


@dataclass
class DetAugmentConfig(AugmentConfig):
    """The detection `data.augment` block: AugmentConfig plus mosaic, mix-up and affine scale."""

    affine_scale: list[float] | None  # zoom range; null = off
    mosaic: float  # probability of a 2×2 mosaic of four training images
    mixup: float  # probability of blending with a second training sample (boxes of both kept)
    min_box_size: float  # boxes smaller than this (pixels, after augmentation) are dropped

    def __post_init__(self):
        super().__post_init__()
        for key in ("mosaic", "mixup"):
            check(
                0 <= getattr(self, key) <= 1, f"augment.{key}", "a probability in [0, 1]", getattr(self, key)
            )
        if self.affine_scale is not None:
            check(
                len(self.affine_scale) == 2 and 0 < self.affine_scale[0] <= self.affine_scale[1],
                "augment.affine_scale",
                "[min, max] with 0 < min <= max, or null",
                self.affine_scale,
            )
        check(0 <= self.translate < 1, "augment.translate", "a fraction in [0, 1)", self.translate)
        check(self.min_box_size >= 0, "augment.min_box_size", "a value >= 0", self.min_box_size)


def letterbox(image, target: dict, size: tuple[int, int], mode: str = "letterbox"):
    """Resize `image` (and its boxes) to `size` (H, W): keep the aspect ratio and pad right/bottom with
    grey (`letterbox`), or stretch. Returns (image, target, (sx, sy)): original px × (sx, sy) = new px."""
    check_choice(mode, "resize", RESIZE_MODES)
    h, w = image.shape[-2:]
    th, tw = size
    if mode == "stretch":
        nh, nw, sx, sy = th, tw, tw / w, th / h
    else:
        r = min(th / h, tw / w)
        nh, nw = max(1, round(h * r)), max(1, round(w * r))
        sx, sy = nw / w, nh / h
    if (nh, nw) != (h, w):
        image, boxes = F.resize(image, [nh, nw], antialias=True), F.resize(target["boxes"], [nh, nw])
        target = {**target, "boxes": boxes}
    if (nh, nw) != (th, tw):
        pad = [0, 0, tw - nw, th - nh]
        image = F.pad(image, pad, fill=PAD_VALUE)
        target = {**target, "boxes": F.pad(target["boxes"], pad)}
    return image, target, (sx, sy)


def drop_crowd(target: dict) -> dict:
    """Training targets without crowd/ignored boxes (they are only used to ignore detections in eval)."""
    keep = target["iscrowd"] == 0
    boxes = tv_tensors.wrap(target["boxes"][keep], like=target["boxes"])
    return {"boxes": boxes, "labels": target["labels"][keep]}


class DetectionTrainSet(Dataset):
    """Augmented training samples (image float C×H×W, {"boxes", "labels"}) of a detection dataset."""

    def __init__(
        self,
        dataset,
        cfg: DetAugmentConfig,
        image_size,
        resize: str = "letterbox",
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
    ):
        self.dataset, self.cfg, self.size, self.resize = dataset, cfg, size_pair(image_size), resize
        self.mosaic, self.mixup = (cfg.mosaic, cfg.mixup) if cfg.enabled else (0.0, 0.0)
        geo: list = []
        if cfg.enabled:
            if cfg.scale is not None:
                geo.append(
                    v2.RandomResizedCrop(
                        self.size, scale=tuple(cfg.scale), ratio=tuple(cfg.ratio), antialias=True
                    )
                )
            if cfg.affine_scale or cfg.translate or cfg.degrees:
                geo.append(
                    v2.RandomAffine(
                        degrees=cfg.degrees,
                        translate=(cfg.translate, cfg.translate) if cfg.translate else None,
                        scale=tuple(cfg.affine_scale) if cfg.affine_scale else None,
                        fill={tv_tensors.Image: PAD_VALUE, "others": 0},
                    )
                )
            if cfg.hflip:
                geo.append(v2.RandomHorizontalFlip(cfg.hflip))
            if cfg.vflip:
                geo.append(v2.RandomVerticalFlip(cfg.vflip))
        self.geometric = v2.Compose([*geo, v2.ClampBoundingBoxes()])
        colour: list = []
        if cfg.enabled and (cfg.color_jitter or cfg.hue):
            s = cfg.color_jitter
            colour.append(v2.ColorJitter(brightness=s, contrast=s, saturation=s, hue=cfg.hue))
        if cfg.enabled and cfg.grayscale:
            colour.append(v2.RandomGrayscale(cfg.grayscale))
        if cfg.enabled and cfg.blur:
            colour.append(v2.RandomApply([v2.GaussianBlur(3)], p=cfg.blur))
        min_size = max(cfg.min_box_size, 1e-3)
        self.finish = v2.Compose(
            [*colour, v2.SanitizeBoundingBoxes(min_size=min_size, min_area=min_size), *to_float(mean, std)]
        )

    def __len__(self) -> int:
        return len(self.dataset)

    def box_sizes(self) -> torch.Tensor:
        return self.dataset.box_sizes()

    def load(self, i: int):
        image, target = self.dataset[i]
        image, target, _ = letterbox(image, drop_crowd(target), self.size, self.resize)
        return image, target

    def load_mosaic(self, i: int):
        """Four letterboxed images in a 2×2 grid, cropped at a random window of 1–2× the size and
        resized back: objects appear at half to full scale, at new positions and next to new context."""
        h, w = self.size
        ids = [i, *torch.randint(len(self.dataset), (3,)).tolist()]
        canvas = torch.full((3, 2 * h, 2 * w), PAD_VALUE, dtype=torch.uint8)
        boxes, labels = [], []
        for k, j in enumerate(ids):
            image, target = self.load(j)
            oy, ox = (k // 2) * h, (k % 2) * w
            canvas[:, oy : oy + h, ox : ox + w] = image
            boxes.append(target["boxes"].as_subclass(torch.Tensor) + torch.tensor([ox, oy, ox, oy]))
            labels.append(target["labels"])
        side = float(torch.empty(1).uniform_(1.0, 2.0))
        ch, cw = int(h * side), int(w * side)
        top, left = int(torch.randint(0, 2 * h - ch + 1, (1,))), int(torch.randint(0, 2 * w - cw + 1, (1,)))
        image = tv_tensors.Image(canvas)
        bb = tv_tensors.BoundingBoxes(torch.cat(boxes), format="XYXY", canvas_size=(2 * h, 2 * w))
        image, bb = F.crop(image, top, left, ch, cw), F.crop(bb, top, left, ch, cw)
        bb = F.clamp_bounding_boxes(bb)
        image, bb = F.resize(image, [h, w], antialias=True), F.resize(bb, [h, w])
        return image, {"boxes": bb, "labels": torch.cat(labels)}

    def sample(self, i: int):
        if self.mosaic and float(torch.rand(1)) < self.mosaic:
            image, target = self.load_mosaic(i)
        else:
            image, target = self.load(i)
        return self.geometric(image, target)

    def __getitem__(self, i: int):
        image, target = self.sample(i)
        if self.mixup and float(torch.rand(1)) < self.mixup:
            other, other_t = self.sample(int(torch.randint(len(self.dataset), (1,))))
            lam = float(torch.distributions.Beta(32.0, 32.0).sample())
            image = tv_tensors.wrap(
                (image.float() * lam + other.float() * (1 - lam)).round().to(torch.uint8), like=image
            )
            boxes = torch.cat(
                [target["boxes"].as_subclass(torch.Tensor), other_t["boxes"].as_subclass(torch.Tensor)]
            )
            target = {
                "boxes": tv_tensors.wrap(boxes, like=target["boxes"]),
                "labels": torch.cat([target["labels"], other_t["labels"]]),
            }
        image, target = self.finish(image, target)
        return image, {"boxes": target["boxes"].as_subclass(torch.Tensor), "labels": target["labels"]}


class DetectionEvalSet(Dataset):
    """Letterboxed, normalized samples whose targets also carry what maps predictions back."""

    def __init__(self, dataset, image_size, resize: str = "letterbox", mean=IMAGENET_MEAN, std=IMAGENET_STD):
        self.dataset, self.size, self.resize = dataset, size_pair(image_size), resize
        self.finish = v2.Compose(to_float(mean, std))

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int):
        image, target = self.dataset[i]
        orig_h, orig_w = image.shape[-2:]
        orig_boxes = target["boxes"].as_subclass(torch.Tensor).clone()
        image, target, (sx, sy) = letterbox(image, target, self.size, self.resize)
        image = self.finish(image)
        keep = target["iscrowd"] == 0
        return image, {
            "boxes": target["boxes"].as_subclass(torch.Tensor)[keep],  # training-style target (loss)
            "labels": target["labels"][keep],
            "orig_boxes": orig_boxes,  # all boxes in original pixels, crowd/difficult included (metrics)
            "orig_labels": target["labels"],
            "iscrowd": target["iscrowd"],
            "scale": torch.tensor([sx, sy, sx, sy], dtype=torch.float32),
            "orig_size": torch.tensor([orig_h, orig_w]),
            "image_id": int(target.get("image_id", i)),
        }


def collate_detection(batch):
    """Stack images (N×C×H×W); keep targets as a list of dicts (a different box count per image)."""
    images = torch.stack([b[0].as_subclass(torch.Tensor) for b in batch])
    return images, [b[1] for b in batch]


def collate_detection_train(batch):
    """Training batches: images N×C×H×W and the targets packed as {"boxes": ΣM×4, "labels": ΣM, "counts": [M_i]}.

    Three tensors cross from the loader worker instead of two per image: each tensor travels as its own
    shared-memory block, ~15 % of a 64-px detection batch's time in the worker (benchmarks/starvation.py).
    `target_list` gives the per-image dicts back (views, after the transfer to the device).
    """
    images = torch.stack([b[0].as_subclass(torch.Tensor) for b in batch])
    targets = [b[1] for b in batch]
    return images, {
        "boxes": torch.cat([t["boxes"].reshape(-1, 4) for t in targets]),
        "labels": torch.cat([t["labels"].reshape(-1) for t in targets]),
        "counts": [len(t["labels"]) for t in targets],
    }


def target_list(targets) -> list[dict]:
    """Per-image {"boxes", "labels"} from a packed training batch (a list passes through unchanged)."""
    if not isinstance(targets, dict):
        return targets
    counts = [int(c) for c in targets["counts"]]
    boxes, labels = targets["boxes"].split(counts), targets["labels"].split(counts)
    return [{"boxes": b, "labels": lab} for b, lab in zip(boxes, labels)]


def to_original(boxes: torch.Tensor, scale: torch.Tensor, orig_size: torch.Tensor) -> torch.Tensor:
    """Boxes in letterboxed pixels → original image pixels (clipped to the image)."""
    out = boxes / scale.to(boxes)
    h, w = int(orig_size[0]), int(orig_size[1])
    return torch.stack(
        [out[:, 0].clamp(0, w), out[:, 1].clamp(0, h), out[:, 2].clamp(0, w), out[:, 3].clamp(0, h)], 1
    )

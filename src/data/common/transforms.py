"""`torchvision.transforms.v2` pipelines built from a data config's `augment` block.

v2 transforms move `tv_tensors.Mask` and `tv_tensors.BoundingBoxes` together with the image, so one
pipeline serves segmentation, detection and verification. Validation gets only resize + normalize.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from src.errors import ConfigError, check

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class AugmentConfig:
    """The `data.augment` block (training only). No defaults here: they live in conf/data/augment/."""

    enabled: bool
    hflip: float  # probability of a horizontal flip
    vflip: float  # probability of a vertical flip
    scale: list[float] | None  # random-resized-crop area range
    ratio: list[float]  # its aspect-ratio range
    degrees: float  # random rotation / affine angle
    translate: float  # random affine shift, fraction of the size
    color_jitter: float  # brightness/contrast/saturation strength; 0 = off
    hue: float
    grayscale: float  # probability of grayscale
    blur: float  # probability of a Gaussian blur

    def __post_init__(self):
        for key in ("hflip", "vflip", "grayscale", "blur"):
            value = getattr(self, key)
            check(0 <= value <= 1, f"augment.{key}", "a probability in [0, 1]", value)
        if self.scale is not None:
            check(
                len(self.scale) == 2 and 0 < self.scale[0] <= self.scale[1] <= 1,
                "augment.scale",
                "[min, max] with 0 < min <= max <= 1, or null",
                self.scale,
            )
        check(0 <= self.hue <= 0.5, "augment.hue", "a value in [0, 0.5]", self.hue)
        check(self.color_jitter >= 0, "augment.color_jitter", "a value >= 0", self.color_jitter)


def augment_config(block: dict | None, extra: type | None = None) -> AugmentConfig:
    """Parse an `augment` block into `extra` (a subclass of AugmentConfig) or AugmentConfig."""
    cls = extra or AugmentConfig
    try:
        return cls(**(block or {}))
    except TypeError as err:
        raise ConfigError("augment", f"{err}; allowed keys: {list(cls.__dataclass_fields__)}") from None


def size_pair(image_size) -> tuple[int, int]:
    if isinstance(image_size, int):
        return image_size, image_size
    return int(image_size[0]), int(image_size[1])


def to_float(mean=IMAGENET_MEAN, std=IMAGENET_STD) -> list:
    """uint8 image → float in [0, 1] → normalized; masks and boxes pass through unchanged."""
    steps = [v2.ToDtype({tv_tensors.Image: torch.float32, "others": None}, scale=True)]
    if mean is not None:
        steps.append(v2.Normalize(mean=list(mean), std=list(std)))
    return steps


def geometric_and_colour(cfg: AugmentConfig, size: tuple[int, int]) -> list:
    """The shared training augmentations (crop/scale, flips, affine, colour)."""
    steps: list = []
    if cfg.scale is not None:
        steps.append(
            v2.RandomResizedCrop(size, scale=tuple(cfg.scale), ratio=tuple(cfg.ratio), antialias=True)
        )
    else:
        steps.append(v2.Resize(size, antialias=True))
    if cfg.degrees or cfg.translate:
        steps.append(
            v2.RandomAffine(
                degrees=cfg.degrees, translate=(cfg.translate, cfg.translate) if cfg.translate else None
            )
        )
    if cfg.hflip:
        steps.append(v2.RandomHorizontalFlip(cfg.hflip))
    if cfg.vflip:
        steps.append(v2.RandomVerticalFlip(cfg.vflip))
    if cfg.color_jitter or cfg.hue:
        s = cfg.color_jitter
        steps.append(v2.ColorJitter(brightness=s, contrast=s, saturation=s, hue=cfg.hue))
    if cfg.grayscale:
        steps.append(v2.RandomGrayscale(cfg.grayscale))
    if cfg.blur:
        steps.append(v2.RandomApply([v2.GaussianBlur(3)], p=cfg.blur))
    return steps


def train_transform(cfg: AugmentConfig, image_size, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> v2.Compose:
    size = size_pair(image_size)
    if not cfg.enabled:
        return eval_transform(image_size, mean, std)
    return v2.Compose([*geometric_and_colour(cfg, size), *to_float(mean, std)])


def eval_transform(image_size, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> v2.Compose:
    return v2.Compose([v2.Resize(size_pair(image_size), antialias=True), *to_float(mean, std)])


class Transformed(torch.utils.data.Dataset):
    """A dataset of samples (tuples: image + mask, or image + identity) with a v2 transform applied to each
    sample; v2 transforms the tv_tensors (and the first plain tensor, the image) and passes labels through."""

    def __init__(self, dataset, transform):
        self.dataset, self.transform = dataset, transform

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int):
        return self.transform(*self.dataset[i])

    @property
    def targets(self) -> list[int]:
        """The identities of a labelled dataset (what the P×K sampler groups by)."""
        return list(self.dataset.targets)

"""`data=image_folder`: every image under a folder (recursive, no labels), split into train and val by
a seeded shuffle; items are tv_tensors Images (uint8). The unlabeled images of self-supervised pretraining.
(torchvision's ImageFolder needs one folder per class and yields labels: not what unlabeled images are.)"""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision import tv_tensors

from src.data.common.image_files import list_images, read_image
from src.errors import check


class ImageFolderReader:
    splits = ("train", "val")

    def __init__(self, root: str, val_fraction: float, seed: int):
        check(0 < val_fraction < 1, "val_fraction", "a fraction in (0, 1)", val_fraction)
        files = list_images(Path(str(root)).expanduser(), recursive=True)
        check(len(files) >= 4, "root", f"a folder with at least 4 images (found {len(files)} in {root})")
        order = torch.randperm(len(files), generator=torch.Generator().manual_seed(seed)).tolist()
        num_val = max(2, round(len(files) * val_fraction))
        self.files = {
            "val": [files[i] for i in sorted(order[:num_val])],
            "train": [files[i] for i in sorted(order[num_val:])],
        }

    def dataset(self, split: str) -> UnlabeledImages:
        return UnlabeledImages(self.files[split])


class UnlabeledImages(torch.utils.data.Dataset):
    def __init__(self, paths: list[Path]):
        self.paths = list(paths)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tv_tensors.Image:
        return tv_tensors.Image(read_image(self.paths[i]))

"""Verification DataModule: any reader (faces_synth, identity_folder, lfw) → training images and eval pairs.

Training batches are `(images N×3×H×W, identities N)`, drawn P identities × K images at a time
(`sampler: pk`, what mining and pair losses need) or shuffled (`sampler: random`). Validation and
test batches are pairs `(image_a, image_b, same, fold)`. A reader provides `dataset(split)` (images
with identities), `pairs(split)` (a PairSet), `splits` and `num_train_identities`.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, RandomSampler

from src.data.common.samplers import PKBatchSampler
from src.data.common.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    Transformed,
    augment_config,
    eval_transform,
    train_transform,
)
from src.datamodules.base import BaseDataModule
from src.datamodules.batch_colour_mixin import BatchColour
from src.errors import check, check_choice

SAMPLERS = ("pk", "random")


class VerificationDataModule(BatchColour, BaseDataModule):
    task = "verification"

    def __init__(
        self,
        reader,
        *,
        image_size: int | list[int],
        augment: dict | None,
        identities_per_batch: int,
        images_per_identity: int,
        batch_size: int,
        num_workers: int | str,
        batch_colour: bool,
        mean: list[float] | None = IMAGENET_MEAN,
        std: list[float] | None = IMAGENET_STD,
        sampler: str = "pk",
        pin_memory: bool | str = "auto",
        seed: int = 0,
        root: str | None = None,
    ):
        super().__init__(batch_size, num_workers, pin_memory)
        check_choice(sampler, "sampler", SAMPLERS)
        check(
            isinstance(identities_per_batch, int) and identities_per_batch >= 2,
            "identities_per_batch",
            "an integer >= 2",
            identities_per_batch,
        )
        check(
            isinstance(images_per_identity, int) and images_per_identity >= 1,
            "images_per_identity",
            "an integer >= 1",
            images_per_identity,
        )
        self.reader, self.image_size, self.augment = reader, image_size, augment_config(augment)
        self.mean, self.std = mean, std
        self.sampler, self.p, self.k, self.seed = sampler, identities_per_batch, images_per_identity, seed
        self.root = root  # informational: readers take their own root
        self.eval_tf = eval_transform(image_size, mean, std)
        self.init_batch_colour(batch_colour, self.augment, mean, std)

    @property
    def num_train_identities(self) -> int:
        return int(self.reader.num_train_identities)

    @property
    def crop(self) -> float | None:
        return self.reader.crop

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is None and stage in (None, "fit"):
            augment, mean, std = self.worker_colour(self.augment, self.mean, self.std)
            self.train_set = Transformed(
                self.reader.dataset("train"), train_transform(augment, self.image_size, mean, std)
            )
        if self.val_set is None and stage in (None, "fit", "validate"):
            self.val_set = self.reader.pairs("val").with_transform(self.eval_tf)
        if self.test_set is None and stage in (None, "test"):
            split = "test" if "test" in self.reader.splits else "val"
            self.test_set = self.reader.pairs(split).with_transform(self.eval_tf)

    def train_dataloader(self) -> DataLoader:
        if self.sampler == "random":
            return self.loader(self.train_set, train=True, batch_size=self.p * self.k)
        batches = PKBatchSampler(
            # shuffled, so that Lightning's DDP share of it is shuffled too; its own generator: the order of
            # the pool does not matter here and the global RNG (restored on resume) stays untouched
            RandomSampler(self.train_set, generator=torch.Generator().manual_seed(self.seed)),
            self.train_set.targets,
            self.p,
            self.k,
            seed=self.seed,
            # outside DDP the loader's SeededBatches sets the epoch (also when resuming mid-epoch)
            epoch_source=self.trainer_epoch if self.distributed() else None,
        )
        return self.loader(self.train_set, train=True, batch_sampler=batches)

    def gallery(
        self, split: str = "val", max_identities: int = 12, per_identity: int = 10
    ) -> tuple[torch.Tensor, list[int], list[str]]:
        """Eval-transformed images of the first `max_identities` identities of a split's pairs (for plots)."""
        pairs = self.val_set if split == "val" else self.test_set
        if pairs is None:
            return torch.empty(0), [], []
        pool = pairs.pool
        labels = list(pool.targets)
        chosen = sorted(set(labels))[:max_identities]
        index = [i for c in chosen for i in [j for j, lab in enumerate(labels) if lab == c][:per_identity]]
        images = torch.stack([self.eval_tf(pool[i][0]) for i in index]) if index else torch.empty(0)
        names = getattr(pool, "identity_names", None)
        label_names = [names[labels[i]] if names else str(labels[i]) for i in index]
        return images, [labels[i] for i in index], label_names

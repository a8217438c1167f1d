"""DataLoader plumbing shared by the three tasks' DataModules (workers, pinning, batch size)."""

from __future__ import annotations

import multiprocessing
import os

import lightning.pytorch as pl
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset

from src.data.common.seeded_data import (
    ResumableLoader,
    SeededBatches,
    SeededPermutation,
    SeededSamples,
    derived_seed,
    run_seed,
)
from src.errors import ConfigError, check


def default_workers() -> int:
    """Workers per loader when `num_workers: auto`: the cores this process may use, at most 4."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return min(4, max(0, cores - 1))


def worker_context():
    """The start method for loader workers: the platform's standard one.

    Inside a joblib (loky) job the process-wide default context is loky's own, whose processes
    DataLoader cannot start; naming the standard method keeps workers working under any launcher.
    """
    method = multiprocessing.get_start_method(allow_none=True)
    if method not in multiprocessing.get_all_start_methods():
        method = multiprocessing.get_all_start_methods()[0]
    return multiprocessing.get_context(method)


class BaseDataModule(pl.LightningDataModule):
    task: str = ""

    def __init__(
        self, batch_size: int = 16, num_workers: int | str = "auto", pin_memory: bool | str = "auto"
    ):
        super().__init__()
        check(isinstance(batch_size, int) and batch_size >= 1, "batch_size", "an integer >= 1", batch_size)
        if num_workers == "auto":
            num_workers = default_workers()
        check(
            isinstance(num_workers, int) and num_workers >= 0,
            "num_workers",
            "an integer >= 0 or 'auto'",
            num_workers,
        )
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = torch.cuda.is_available() if pin_memory == "auto" else bool(pin_memory)
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None
        self.resume_point: tuple[int, int] | None = None

    def use_normalisation(self, mean: list[float], std: list[float]) -> None:
        """Normalise with the mean/std a model's pretrained weights were trained with (before setup)."""
        from src.data.common.transforms import eval_transform

        self.mean, self.std = list(mean), list(std)
        if hasattr(self, "batch_mean"):
            self.batch_mean, self.batch_std = self.mean, self.std
        if hasattr(self, "eval_tf"):
            self.eval_tf = eval_transform(self.image_size, self.mean, self.std)

    def resolve_classes(self, reader, num_classes: int | str, minimum: int) -> None:
        """Set `num_classes` and `class_names` from the reader's class names (`num_classes: auto`), or
        check a given count against them; a reader without names gets `class_<i>`."""
        names = getattr(reader, "class_names", None)
        if num_classes == "auto":
            if not names:
                raise ConfigError("num_classes", f"{type(reader).__name__} knows no class names: set a count")
            num_classes = len(names)
        check(
            isinstance(num_classes, int) and num_classes >= minimum,
            "num_classes",
            f"'auto' (the dataset's classes) or an integer >= {minimum}",
            num_classes,
        )
        if names is not None and len(names) != num_classes:
            raise ConfigError(
                "num_classes",
                f"is {num_classes} but the dataset has {len(names)} classes: {names} "
                "(leave it at auto to take the dataset's)",
            )
        self.num_classes = num_classes
        self.class_names = list(names) if names else [f"class_{i}" for i in range(num_classes)]

    # a plain function, not a bound method: spawned loader workers (DDP spawn) pickle `collate_fn`, and a
    # bound method would drag the DataModule, its Trainer and the DDP-wrapped model along (unpicklable)
    collate = staticmethod(torch.utils.data.default_collate)

    def loader(
        self,
        dataset: Dataset,
        train: bool,
        batch_size: int | None = None,
        sampler=None,
        batch_sampler=None,
        collate=None,
    ) -> DataLoader:
        """A loader with the module's workers and pinning; `batch_sampler` replaces batching (P×K);
        `collate` replaces the module's `collate` (a plain function, see below).

        A training loader outside DDP draws its order and every augmentation from (seed, epoch, sample
        index) and resumes mid-epoch (src/data/common/seeded_data.py): `ckpt_path=last` continues exactly.
        """
        size = batch_size or self.batch_size
        seed = run_seed()
        loader_cls = DataLoader
        extra = {}
        if train and not self.distributed():
            if batch_sampler is None:
                order = sampler or SeededPermutation(len(dataset), seed)
                batch_sampler = BatchSampler(order, size, drop_last=len(dataset) > size)
            batch_sampler = SeededBatches(
                batch_sampler, self.trainer_epoch, self.take_resume_point, self.train_batch_limit()
            )
            dataset, loader_cls = SeededSamples(dataset, seed), ResumableLoader
            extra = {"position": self.state_dict}
        batching = (
            {"batch_sampler": batch_sampler}
            if batch_sampler is not None
            else {
                "batch_size": size,
                "shuffle": train and sampler is None,
                "sampler": sampler,
                "drop_last": train and len(dataset) > size,
            }
        )
        return loader_cls(
            dataset,
            **batching,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
            multiprocessing_context=worker_context() if self.num_workers > 0 else None,
            collate_fn=collate or self.collate,
            # the workers' base seed comes from here, not from the global RNG a checkpoint restores
            generator=torch.Generator().manual_seed(derived_seed(seed, int(train))),
            **extra,
        )

    def distributed(self) -> bool:
        trainer = self.trainer
        return trainer is not None and trainer.world_size > 1

    def train_batch_limit(self) -> int | None:
        """The Trainer's `limit_train_batches` when it is a count of batches (None: whole epochs)."""
        limit = getattr(self.trainer, "limit_train_batches", None) if self.trainer is not None else None
        return limit if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 1 else None

    def trainer_epoch(self) -> int | None:
        return self.trainer.current_epoch if self.trainer is not None else None

    def state_dict(self) -> dict:
        """Where training is in its data: the epoch and the batches of it done (saved in checkpoints)."""
        if self.trainer is None:
            return {}
        epoch = self.trainer.current_epoch
        done = self.trainer.fit_loop.epoch_loop.batch_progress.current.processed
        if done >= self.trainer.num_training_batches:  # saved at the epoch's end (limit_train_batches too)
            epoch, done = epoch + 1, 0
        return {"epoch": int(epoch), "batches": int(done)}

    def load_state_dict(self, state: dict) -> None:
        if "epoch" in state:
            self.resume_point = (int(state["epoch"]), int(state["batches"]))

    def take_resume_point(self) -> tuple[int, int] | None:
        """The restored (epoch, batches done), once: the next training pass continues from there."""
        point, self.resume_point = self.resume_point, None
        return point

    def train_dataloader(self) -> DataLoader:
        return self.loader(self.train_set, train=True)

    def val_dataloader(self) -> DataLoader:
        return self.loader(self.val_set, train=False)

    def test_dataloader(self) -> DataLoader:
        return self.loader(self.test_set if self.test_set is not None else self.val_set, train=False)

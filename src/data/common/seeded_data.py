"""Training data as a function of (seed, epoch, sample index), so that a resumed run sees the same batches.

Loader workers hold their own RNG streams, seeded when they start: a run resumed with `ckpt_path=last`
starts new workers with new streams and draws other augmentations than the run it continues (and a
shuffling sampler draws its order from the main process's RNG). Here nothing depends on those streams:

- `SeededBatches` orders an epoch from (seed, epoch) alone (or wraps a batch sampler that does, P×K)
  and yields `(epoch, index)` keys instead of indices;
- `SeededSamples` seeds torch's RNG from (seed, epoch, index) around each sample, so every random draw
  of a sample (flips, crops, mosaic partners, mix-up) is the same in any worker, with any worker count;
- `ResumableLoader` saves how many batches of the epoch the trainer consumed and skips them on a
  mid-epoch resume (Lightning restores it like any loader with `state_dict` / `load_state_dict`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, Sampler, get_worker_info


def run_seed() -> int:
    """The run's seed (`seed_everything` exports it to every process; DDP children inherit it)."""
    value = os.environ.get("PL_GLOBAL_SEED")
    return int(value) if value not in (None, "") else torch.initial_seed() % 2**32


def derived_seed(*keys: int) -> int:
    """A 63-bit seed from non-negative integers (well mixed: nearby keys give unrelated streams)."""
    return int(
        np.random.SeedSequence([int(k) for k in keys]).generate_state(2, np.uint32).view(np.uint64)[0] >> 1
    )


class SeededSamples(Dataset):
    """`dataset[(epoch, i)]` = `dataset[i]` drawn with torch's RNG seeded from (seed, epoch, i)."""

    def __init__(self, dataset: Dataset, seed: int):
        self.dataset, self.seed = dataset, seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key):
        epoch, index = key if isinstance(key, tuple) else (0, key)
        seed = derived_seed(self.seed, epoch, index)
        # the CPU generator only: torch.manual_seed also seeds every accelerator (~0.2 ms a call, ~20 % of
        # a small sample's cost), and the transforms draw on the CPU
        if get_worker_info() is not None:  # a loader worker: its RNG serves nothing else
            torch.default_generator.manual_seed(seed)
            return self.dataset[index]
        with torch.random.fork_rng(devices=[]):  # the main process: keep the training RNG untouched
            torch.default_generator.manual_seed(seed)
            return self.dataset[index]


class SeededPermutation(Sampler[int]):
    """The indices 0..n-1 in an order drawn from (seed, epoch) only; `SeededBatches` sets the epoch."""

    def __init__(self, size: int, seed: int):
        self.size, self.seed, self.epoch = size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[int]:
        gen = torch.Generator().manual_seed(derived_seed(self.seed, self.epoch, 1 << 40))
        return iter(torch.randperm(self.size, generator=gen).tolist())


class SeededBatches(Sampler[list]):
    """Batches of `(epoch, index)` keys from a batch sampler whose order depends on the epoch only.

    Each pass asks `epoch_source` for the epoch (None: count the passes) and hands it to the wrapped
    batch sampler and its sampler (`set_epoch`). After a restored checkpoint `resume_source` gives
    (epoch, batches done) once: that pass is that epoch without its first batches (index lists only,
    nothing is loaded for them). Lightning may build the training iterator before it restores the
    loops, hence the explicit epoch. `limit` (the Trainer's `limit_train_batches` as a count) ends each
    pass there: Lightning, which fetches a batch ahead, would otherwise have the workers make one more
    batch than it trains on, and wait for it.
    """

    def __init__(
        self,
        batches: BatchSampler,
        epoch_source: Callable[[], int | None],
        resume_source: Callable[[], tuple[int, int] | None],
        limit: int | None = None,
    ):
        self.batches, self.epoch_source, self.resume_source = batches, epoch_source, resume_source
        self.limit = limit
        self.passes = 0

    def __len__(self) -> int:
        return len(self.batches) if self.limit is None else min(len(self.batches), self.limit)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        resume = self.resume_source()
        if resume is not None:
            epoch, skip = resume
            if skip >= len(self):  # saved at the end of an epoch: the next one starts afresh
                epoch, skip = epoch + 1, 0
        else:
            epoch, skip = self.epoch_source(), 0
            epoch = self.passes if epoch is None else epoch
        self.passes = epoch + 1
        for target in (self.batches, getattr(self.batches, "sampler", None)):
            if callable(getattr(target, "set_epoch", None)):
                target.set_epoch(epoch)
        for n, batch in enumerate(self.batches):
            if n >= len(self):  # the epoch's limit: the loader ends there, no batch is made beyond it
                return
            if n >= skip:
                yield [(epoch, int(i)) for i in batch]


class ResumableLoader(DataLoader):
    """A DataLoader over `SeededBatches`: resumable, so Lightning resumes mid-epoch without a warning.

    Its position travels in the DataModule's checkpoint state (`BaseDataModule.state_dict`), which
    Lightning restores before the loader is first iterated; the loop state keeps a copy for reading.
    """

    def __init__(self, *args, position: Callable[[], dict] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.position = position

    def state_dict(self) -> dict:
        return self.position() if self.position is not None else {}

    def load_state_dict(self, state: dict) -> None:
        """Nothing to do: the DataModule's state already set the resume point."""

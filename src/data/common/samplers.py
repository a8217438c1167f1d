"""P×K batch sampling for metric learning: P identities, K images of each, in every batch.

Mining losses (batch-hard triplet, contrastive with balanced pairs, SupCon) need several images of
the same identity in a batch; a shuffled loader rarely gives that with many identities. Each epoch
visits the identities in a new seeded order; identities with fewer than K images are sampled with
replacement.

It is a `torch.utils.data.BatchSampler` over an index `sampler`: the images of an epoch are those the
sampler yields. Under DDP Lightning re-creates it around a `DistributedSampler`, so each rank draws
its P×K batches from its own share of the images (and from its own seed stream: the rank offsets it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import BatchSampler, Sampler

from src.errors import ConfigError


class PKBatchSampler(BatchSampler):
    """Batches of indices: `p` identities × `k` images; `len(sampler) // (p*k)` batches per epoch."""

    def __init__(
        self,
        sampler: Sampler[int] | Sequence[int],
        labels: Sequence[int],
        p: int,
        k: int,
        seed: int = 0,
        num_batches: int | None = None,
        epoch_source: Callable[[], int | None] | None = None,
    ):
        if p < 2 or k < 1:
            raise ConfigError(
                "sampler", f"expected p >= 2 identities and k >= 1 images per batch (got p={p}, k={k})"
            )
        super().__init__(sampler, batch_size=p * k, drop_last=True)
        self.labels = np.asarray(labels)
        identities = len(np.unique(self.labels))
        if identities < p:
            raise ConfigError("sampler.p", f"is {p} but the training set has only {identities} identities")
        self.p, self.k, self.seed = p, k, seed
        self.num_batches = num_batches or max(1, len(sampler) // (p * k))
        self.epoch = 0
        # Lightning calls set_epoch on samplers, not on batch samplers: asking the trainer for its epoch
        # keeps a run resumed from a checkpoint on the same batches as an uninterrupted one.
        self.epoch_source = epoch_source

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self) -> Iterator[list[int]]:
        rank = (
            torch.distributed.get_rank()
            if torch.distributed.is_available() and torch.distributed.is_initialized()
            else 0
        )
        epoch = self.epoch_source() if self.epoch_source is not None else None
        epoch = self.epoch if epoch is None else epoch
        rng = np.random.default_rng([self.seed, epoch, rank])
        self.epoch = epoch + 1
        pool = np.sort(np.fromiter(iter(self.sampler), dtype=np.int64))  # this epoch's (rank's) images
        pool_labels = self.labels[pool]
        by_id = [pool[pool_labels == c] for c in np.unique(pool_labels)]
        order: list[int] = []
        for _ in range(self.num_batches):
            if len(order) < self.p:
                order = list(rng.permutation(len(by_id)))  # leftovers dropped: no identity twice
            chosen, order = order[: self.p], order[self.p :]
            batch = []
            for c in chosen:
                idx = by_id[c]
                batch += rng.choice(idx, self.k, replace=len(idx) < self.k).tolist()
            yield batch

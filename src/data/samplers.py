"""P×K batch sampling for metric learning: P identities, K images of each, in every batch.

Mining losses (batch-hard triplet, contrastive with balanced pairs, SupCon) need several images of
the same identity in a batch; a shuffled loader rarely gives that with many identities. Each epoch
visits the identities in a new seeded order; identities with fewer than K images are sampled with
replacement. Under DDP each rank draws from its own seed stream (rank offsets the seed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch

from src.utils.errors import ConfigError


class PKBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Batches of indices: `p` identities × `k` images; `len(labels) // (p*k)` batches per epoch."""

    def __init__(
        self,
        labels: Sequence[int],
        p: int,
        k: int,
        seed: int = 0,
        num_batches: int | None = None,
        epoch_source: Callable[[], int | None] | None = None,
    ):
        labels = np.asarray(labels)
        self.by_id = [np.flatnonzero(labels == c) for c in np.unique(labels)]
        if p < 2 or k < 1:
            raise ConfigError(
                "sampler", f"expected p >= 2 identities and k >= 1 images per batch (got p={p}, k={k})"
            )
        if len(self.by_id) < p:
            raise ConfigError(
                "sampler.p", f"is {p} but the training set has only {len(self.by_id)} identities"
            )
        self.p, self.k, self.seed = p, k, seed
        self.num_batches = num_batches or max(1, len(labels) // (p * k))
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
        order: list[int] = []
        for _ in range(self.num_batches):
            if len(order) < self.p:
                order = list(rng.permutation(len(self.by_id)))  # leftovers dropped: no identity twice
            chosen, order = order[: self.p], order[self.p :]
            batch = []
            for c in chosen:
                idx = self.by_id[c]
                batch += rng.choice(idx, self.k, replace=len(idx) < self.k).tolist()
            yield batch

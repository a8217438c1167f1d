"""Verification pairs over a pool of labelled images: `(image_a, image_b, same, fold)` samples.

`balanced_pairs` draws pairs deterministically (half same identity, half different, in 10 contiguous
folds like LFW's pairs.txt); `PairSet` serves them from any pool dataset of `(image, identity)`.
"""

from __future__ import annotations

import numpy as np
import torch

NUM_FOLDS = 10


def balanced_pairs(
    labels: np.ndarray, num_pairs: int, seed: int = 0, num_folds: int = NUM_FOLDS
) -> np.ndarray:
    """An int64 array num_pairs×4 of (index_a, index_b, same, fold) into a pool with `labels`.

    Pairs alternate same/different; fold f holds the f-th contiguous tenth. Same pairs use identities
    with at least two images, never an image with itself; different pairs use two distinct identities.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    by_id = {c: np.flatnonzero(labels == c) for c in np.unique(labels)}
    multi = [c for c, idx in by_id.items() if len(idx) >= 2]
    ids = list(by_id)
    if not multi or len(ids) < 2:
        raise ValueError("balanced pairs need an identity with >= 2 images and at least 2 identities")
    out = np.zeros((num_pairs, 4), dtype=np.int64)
    for t in range(num_pairs):
        if t % 2 == 0:
            c = multi[rng.integers(len(multi))]
            a, b = rng.choice(by_id[c], 2, replace=False)
            same = 1
        else:
            c1, c2 = rng.choice(len(ids), 2, replace=False)
            a, b = rng.choice(by_id[ids[c1]]), rng.choice(by_id[ids[c2]])
            same = 0
        out[t] = (a, b, same, t * num_folds // num_pairs)
    return out


class PairSet(torch.utils.data.Dataset):
    """Pairs (num_pairs×4: index_a, index_b, same, fold) over `pool`, a dataset of (image, identity)."""

    def __init__(self, pool, index: np.ndarray, transform=None):
        self.pool, self.index, self.transform = pool, np.asarray(index, dtype=np.int64), transform

    def __len__(self) -> int:
        return len(self.index)

    def image(self, i: int):
        image = self.pool[int(i)][0]
        return self.transform(image) if self.transform is not None else image

    def __getitem__(self, t: int):
        a, b, same, fold = self.index[t]
        return self.image(a), self.image(b), bool(same), int(fold)

    def with_transform(self, transform) -> PairSet:
        return PairSet(self.pool, self.index, transform)

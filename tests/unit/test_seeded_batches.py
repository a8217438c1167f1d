"""SeededBatches with the Trainer's `limit_train_batches`: the loader ends at the limit (Lightning, which
fetches a batch ahead, then asks the workers for no batch it will not train on) and resumes inside it."""

from __future__ import annotations

from torch.utils.data import BatchSampler

from src.data.common.seeded_data import SeededBatches, SeededPermutation


def batches(limit=None, resume=None):
    order = BatchSampler(SeededPermutation(20, seed=0), 4, drop_last=True)  # 5 batches an epoch
    points = [resume]
    return SeededBatches(order, lambda: None, lambda: points.pop() if points else None, limit)


def test_a_limit_ends_each_pass_at_the_same_batches():
    whole, limited = list(batches()), list(batches(limit=3))
    assert len(batches(limit=3)) == 3 and len(batches(limit=9)) == 5 and len(batches()) == 5
    assert limited == whole[:3]


def test_a_resume_continues_inside_the_limit():
    first = list(batches(limit=3))
    assert list(batches(limit=3, resume=(0, 1))) == first[1:]
    resumed_at_end = list(batches(limit=3, resume=(0, 3)))  # saved at the limited epoch's end: epoch 1
    assert [key[0] for batch in resumed_at_end for key in batch] == [1] * 12

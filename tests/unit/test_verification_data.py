"""Verification readers on tiny datasets written in tmp_path: samples, determinism, and their errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from src.data.common.samplers import PKBatchSampler
from src.data.verification.faces_synth import FacesSynth, identity_table
from src.data.verification.identity_folder import IdentityFolder
from src.data.verification.lfw import LfwPairs
from src.errors import ConfigError, DataError


def write_image(path: Path, seed: int, size: int = 24) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(path)


def write_identity_folder(root: Path, people: dict[str, dict[str, int]]) -> Path:
    """people: split -> {identity: number of images}."""
    for split, ids in people.items():
        for k, (name, count) in enumerate(ids.items()):
            for i in range(count):
                write_image(root / split / name / f"{name}_{i:04d}.jpg", seed=hash((split, k, i)) % 2**32)
    return root


def write_lfw(
    root: Path, people: dict[str, int], pairs_lines: list[str], folder: str = "lfw", name: str = "pairs.txt"
) -> Path:
    for k, (person, count) in enumerate(people.items()):
        for i in range(1, count + 1):
            write_image(root / folder / person / f"{person}_{i:04d}.jpg", seed=k * 100 + i)
    (root / name).write_text("\n".join(pairs_lines) + "\n")
    return root


SMALL_FACES = dict(
    num_train_identities=6,
    train_images_per_identity=4,
    num_val_identities=4,
    num_test_identities=4,
    eval_images_per_identity=3,
    num_val_pairs=20,
    num_test_pairs=20,
    image_size=24,
    pose=1.0,
    lighting=1.0,
    noise=0.04,
    seed=0,
)


# ---- faces_synth --------------------------------------------------------------------------------------
def test_faces_synth_is_deterministic_and_shaped():
    a, b = FacesSynth(**{**SMALL_FACES, "seed": 3}), FacesSynth(**{**SMALL_FACES, "seed": 3})
    img, ident = a.dataset("train")[5]
    assert img.shape == (3, 24, 24) and img.dtype == torch.uint8 and ident == 1
    assert torch.equal(a.images("train")[0], b.images("train")[0])
    assert not torch.equal(a.images("train")[0], FacesSynth(**{**SMALL_FACES, "seed": 4}).images("train")[0])
    ia, ib, same, fold = a.pairs("val")[0]
    assert ia.shape == ib.shape == (3, 24, 24) and isinstance(same, bool) and 0 <= fold < 10


def test_faces_synth_identities_are_disjoint_and_views_vary():
    train, val = identity_table(0, "train", 20), identity_table(0, "val", 20)
    # no validation identity equals a training identity
    diffs = torch.cdist(train["face_ax"][:, None], val["face_ax"][:, None]) + torch.cdist(
        train["skin"], val["skin"]
    )
    assert float(diffs.min()) > 0
    images = FacesSynth(**SMALL_FACES).images("train")[0].float()
    assert float((images[0] - images[1]).abs().mean()) > 1.0  # two views of one identity differ


def test_faces_synth_pairs_are_balanced_in_ten_folds():
    pairs = FacesSynth(**SMALL_FACES).pairs("val")
    same, folds = pairs.index[:, 2], pairs.index[:, 3]
    assert same.sum() == len(same) // 2 and sorted(set(folds)) == list(range(10))
    labels = pairs.pool.labels.numpy()
    assert all((labels[a] == labels[b]) == s for a, b, s, _ in pairs.index)
    assert all(a != b for a, b, s, _ in pairs.index)


def test_faces_synth_rejects_bad_values():
    with pytest.raises(ConfigError, match="num_train_identities"):
        FacesSynth(**{**SMALL_FACES, "num_train_identities": 1})
    with pytest.raises(ConfigError, match="image_size"):
        FacesSynth(**{**SMALL_FACES, "image_size": 8})


def test_pk_sampler_batches():
    labels = np.repeat(np.arange(10), 5)
    sampler = PKBatchSampler(range(len(labels)), labels, p=4, k=3, seed=0)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 50 // 12
    for batch in batches:
        ids = labels[batch]
        assert len(batch) == 12 and len(set(ids)) == 4 and all((ids == c).sum() == 3 for c in set(ids))
    assert batches != list(sampler)  # the next epoch draws anew
    sampler.set_epoch(0)
    assert batches == list(sampler)  # seeded per epoch
    with pytest.raises(ConfigError, match="sampler.p"):
        PKBatchSampler(range(len(labels)), labels, p=20, k=2)


def test_pk_sampler_draws_only_from_its_index_sampler():
    """Under DDP Lightning hands the batch sampler a DistributedSampler: batches stay in the rank's share."""
    labels = np.repeat(np.arange(10), 6)
    share = torch.utils.data.DistributedSampler(range(len(labels)), num_replicas=2, rank=1, shuffle=True)
    sampler = PKBatchSampler(share, labels, p=4, k=2, seed=0)
    mine = set(share)
    assert len(sampler) == 30 // 8
    for batch in sampler:
        assert set(batch) <= mine and len(set(labels[batch])) == 4


# ---- identity folder ----------------------------------------------------------------------------------
def test_identity_folder_reads_and_draws_deterministic_pairs(tmp_path):
    root = write_identity_folder(
        tmp_path, {"train": {"ann": 3, "bob": 2, "cy": 2}, "val": {"dee": 3, "eve": 2, "fay": 2}}
    )
    reader = IdentityFolder(str(root), num_val_pairs=20)
    train = reader.dataset("train")
    assert (
        len(train) == 7 and reader.num_train_identities == 3 and train.identity_names == ["ann", "bob", "cy"]
    )
    image, label = train[3]
    assert image.shape == (3, 24, 24) and label == 1
    p1, p2 = reader.pairs("val"), IdentityFolder(str(root), num_val_pairs=20).pairs("val")
    assert np.array_equal(p1.index, p2.index) and len(p1) == 20


def test_identity_folder_errors(tmp_path):
    root = write_identity_folder(tmp_path / "one", {"train": {"ann": 3, "solo": 1}, "val": {"b": 2, "c": 2}})
    with pytest.raises(DataError, match="solo.*1 image"):
        IdentityFolder(str(root)).dataset("train")
    root = write_identity_folder(tmp_path / "bad", {"train": {"ann": 2, "bob": 2}, "val": {"b": 2, "c": 2}})
    corrupt = root / "train" / "bob" / "bob_0001.jpg"
    corrupt.write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="bob_0001.jpg.*corrupt"):
        IdentityFolder(str(root)).dataset("train")[3]
    with pytest.raises(DataError, match="missing"):
        IdentityFolder(str(root), val_dir="missing").pairs("val")
    with pytest.raises(ConfigError, match="root"):
        IdentityFolder(str(tmp_path / "nowhere"))


# ---- LFW ------------------------------------------------------------------------------------------------
PEOPLE = {"Ann_A": 3, "Bob_B": 2, "Cy_C": 2, "Dee_D": 1}
GOOD = [
    "2\t2",
    "Ann_A\t1\t2",
    "Bob_B\t1\t2",  # fold 0 matched
    "Ann_A\t3\tDee_D\t1",
    "Cy_C\t1\tBob_B\t2",  # fold 0 mismatched
    "Cy_C\t1\t2",
    "Ann_A\t2\t3",  # fold 1 matched
    "Dee_D\t1\tBob_B\t1",
    "Ann_A\t1\tCy_C\t2",  # fold 1 mismatched
]


def test_lfw_pairs_and_folds(tmp_path):
    reader = LfwPairs(str(write_lfw(tmp_path, PEOPLE, GOOD, folder="lfw-deepfunneled")))
    pairs = reader.pairs("test")
    assert len(pairs) == 8
    assert pairs.index[:, 2].tolist() == [1, 1, 0, 0, 1, 1, 0, 0]
    assert pairs.index[:, 3].tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    a, b, same, fold = pairs[2]
    assert a.shape == (3, 24, 24) and same is False and fold == 0
    paths = pairs.pool.paths
    assert (
        paths[pairs.index[2, 0]].name == "Ann_A_0003.jpg"
        and paths[pairs.index[2, 1]].name == "Dee_D_0001.jpg"
    )
    assert reader.splits == ("val", "test")
    with pytest.raises(ConfigError, match="train_pairs_file"):
        reader.dataset("train")


def test_lfw_view1_header_and_images_dir(tmp_path):
    lines = ["2", "Ann_A 1 2", "Bob_B 1 2", "Ann_A 1 Bob_B 1", "Cy_C 2 Dee_D 1"]
    root = write_lfw(tmp_path, PEOPLE, lines, folder="faces", name="pairsDevTrain.txt")
    reader = LfwPairs(
        str(root), pairs_file="pairsDevTrain.txt", train_pairs_file="pairsDevTrain.txt", images_dir="faces"
    )
    assert set(reader.pairs("test").index[:, 3]) == {0}
    train = reader.dataset("train")
    assert reader.num_train_identities == 4 and len(train) == 6  # the distinct images named


@pytest.mark.parametrize(
    ("lines", "match"),
    [
        (["x y z", *GOOD[1:]], r"pairs.txt:1: malformed header"),
        (["2 2", *GOOD[1:4]], r"header promises"),
        ([*GOOD[:2], "Zed_Z 1 2", *GOOD[3:]], r"pairs.txt:3: person 'Zed_Z' not found"),
        ([*GOOD[:2], "Bob_B 1 7", *GOOD[3:]], r"pairs.txt:3: image 7 of 'Bob_B' not found"),
        ([*GOOD[:3], "Ann_A 1 Dee_D 1 2", *GOOD[4:]], r"pairs.txt:4: expected 'name i j'"),
        ([*GOOD[:1], "Ann_A one 2", *GOOD[2:]], r"pairs.txt:2: image number 'one'"),
    ],
)
def test_lfw_errors_name_file_and_line(tmp_path, lines, match):
    root = write_lfw(tmp_path, PEOPLE, lines)
    with pytest.raises(DataError, match=match):
        LfwPairs(str(root)).pairs("test")


def test_lfw_missing_images_folder_and_corrupt_image(tmp_path):
    (tmp_path / "pairs.txt").write_text("\n".join(GOOD))
    with pytest.raises(DataError, match="no LFW image folder"):
        LfwPairs(str(tmp_path))
    root = write_lfw(tmp_path / "c", PEOPLE, GOOD)
    (root / "lfw" / "Bob_B" / "Bob_B_0002.jpg").write_bytes(b"\xff\xd8broken")
    with pytest.raises(DataError, match="Bob_B_0002.jpg"):  # the verify=fast scan, before any pair is read
        LfwPairs(str(root)).pairs("test")
    pairs = LfwPairs(str(root), verify="none").pairs("test")
    with pytest.raises(DataError, match="Bob_B_0002.jpg"):
        [pairs[i] for i in range(len(pairs))]

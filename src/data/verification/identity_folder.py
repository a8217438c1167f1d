"""`identity_folder`: `root/{train,val[,test]}/<identity>/<image>`, the layout of CASIA-WebFace, VGGFace2, LFW.

Training yields every image with its identity; validation (and test) yields pairs drawn
deterministically (seeded) from that split's identities, half same and half different, in 10 folds.
An identity folder with fewer than `min_images` images is an error naming the folder: it cannot give
a same-identity pair, and P×K batches would repeat its single image.
"""

from __future__ import annotations

from pathlib import Path

from src.data.common.data_checks import VERIFY, first_duplicate, verify_images
from src.data.common.image_files import ImageFiles, is_image
from src.data.verification.pairs import PairSet, balanced_pairs
from src.errors import ConfigError, DataError, check, check_choice


def scan_identities(folder: Path, min_images: int = 2) -> tuple[list[Path], list[int], list[str]]:
    """Image paths, identity indices and identity names (sorted) under `folder/<identity>/`."""
    if not folder.is_dir():
        raise DataError(folder, "folder not found (expected <root>/<split>/<identity>/<image>)")
    paths, labels, names = [], [], []
    for person in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        images = sorted(p for p in person.iterdir() if is_image(p))
        if len(images) < min_images:
            raise DataError(
                person,
                f"identity folder has {len(images)} image(s); at least {min_images} are needed "
                "(remove the folder or move it out of the split)",
            )
        paths += images
        labels += [len(names)] * len(images)
        names.append(person.name)
    if len(names) < 2:
        raise DataError(folder, f"found {len(names)} identity folder(s) with images; at least 2 are needed")
    check_identity_names(folder, names)
    return paths, labels, names


def same_person(name: str) -> str:
    """The spelling-free form of an identity name: `John_Doe`, `john doe` and `John-Doe ` are one person."""
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def check_identity_names(folder: Path, names: list[str]) -> None:
    """Two folders of one person would be labelled as two people (a false negative in every pair)."""
    twice = first_duplicate(names, key=same_person)
    if twice:
        raise DataError(
            folder / twice[1], f"looks like the same identity as {folder / twice[0]}; merge the two folders"
        )


class IdentityFolder:
    """Reader of an identity-per-folder dataset; `test_dir: null` evaluates the test stage on val."""

    def __init__(
        self,
        root: str,
        train_dir: str = "train",
        val_dir: str = "val",
        test_dir: str | None = None,
        num_val_pairs: int = 1000,
        num_test_pairs: int = 1000,
        min_images: int = 2,
        crop: float | None = None,
        seed: int = 0,
        verify: str = "fast",
    ):
        check(bool(root), "root", "the dataset folder", root)
        check(
            num_val_pairs >= 10 and num_test_pairs >= 10,
            "num_val_pairs",
            "at least 10 pairs (10 folds)",
            num_val_pairs,
        )
        check(min_images >= 1, "min_images", "an integer >= 1", min_images)
        check(crop is None or 0 < crop <= 1, "crop", "a fraction in (0, 1] or null", crop)
        check_choice(verify, "verify", VERIFY)
        self.verify = verify
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise ConfigError("root", f"dataset folder {self.root} not found")
        self.dirs = {"train": train_dir, "val": val_dir, "test": test_dir or val_dir}
        self.num_pairs = {"val": num_val_pairs, "test": num_test_pairs}
        self.min_images, self.crop, self.seed = min_images, crop, seed
        self.splits = ("train", "val", "test")
        self._scans: dict[str, tuple] = {}

    def _scan(self, split: str):
        if split not in self._scans:
            self._scans[split] = scan_identities(
                self.root / self.dirs[split], self.min_images if split == "train" else 2
            )
            verify_images(self._scans[split][0], self.verify)
        return self._scans[split]

    @property
    def num_train_identities(self) -> int:
        return len(self._scan("train")[2])

    def dataset(self, split: str) -> ImageFiles:
        paths, labels, names = self._scan(split)
        return ImageFiles(paths, labels, names, self.crop)

    def pairs(self, split: str) -> PairSet:
        pool = self.dataset(split)
        index = balanced_pairs(
            pool.labels, self.num_pairs[split], seed=self.seed + (1 if split == "val" else 2)
        )
        return PairSet(pool, index)

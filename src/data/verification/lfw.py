"""`lfw`: the Labeled Faces in the Wild pair protocol read from disk (no archive checksums, no download).

`data.root` holds `pairs.txt` (View 2: header `folds n`, then per fold n matched lines `name i j` and n
mismatched lines `name i other j`) and the images in one of `lfw/`, `lfw_funneled/`,
`lfw-deepfunneled/` (or `images_dir`) as `<name>/<name>_<i:04d>.jpg`. `pairsDevTrain.txt` /
`pairsDevTest.txt` (View 1, header a single `n`) read the same way, as one fold. Every problem names
the pairs file and line: a malformed header or line, a person or image that is not on disk.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from src.data.common.data_checks import VERIFY, verify_images
from src.data.common.image_files import ImageFiles
from src.data.verification.pairs import PairSet
from src.errors import ConfigError, DataError, check, check_choice

IMAGE_DIRS = ("lfw", "lfw_funneled", "lfw-deepfunneled")


def find_images_dir(root: Path, images_dir: str | None) -> Path:
    """`images_dir` (absolute or under root) or the first of IMAGE_DIRS present under `root`."""
    if images_dir:
        path = Path(images_dir).expanduser()
        path = path if path.is_absolute() else root / path
        if not path.is_dir():
            raise ConfigError("images_dir", f"folder {path} not found")
        return path
    for name in IMAGE_DIRS:
        if (root / name).is_dir():
            return root / name
    raise DataError(
        root, f"no LFW image folder: expected one of {list(IMAGE_DIRS)} here, or set data.images_dir"
    )


def parse_header(tokens: list[str], path: Path) -> tuple[int, int]:
    """(folds, pairs of each kind per fold) from `folds n` (View 2) or `n` (View 1)."""
    try:
        values = [int(t) for t in tokens]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or min(values) < 1:
        raise DataError(
            path,
            f"malformed header {' '.join(tokens)!r}: expected 'folds n' (pairs.txt) or 'n' (pairsDevTrain/DevTest.txt)",
            line=1,
        )
    return (1, values[0]) if len(values) == 1 else (values[0], values[1])


def parse_pairs(path: Path, images: Path) -> tuple[list[Path], list[int], list[str], np.ndarray]:
    """Image paths, identity indices, identity names, and pairs (index_a, index_b, same, fold)."""
    if not path.is_file():
        raise DataError(path, "pairs file not found")
    lines = [(n, line.split()) for n, line in enumerate(path.read_text().splitlines(), 1)]
    lines = [(n, t) for n, t in lines if t]
    if not lines:
        raise DataError(path, "empty pairs file", line=1)
    folds, per_fold = parse_header(lines[0][1], path)
    body = lines[1:]
    if len(body) != folds * 2 * per_fold:
        raise DataError(
            path,
            f"the header promises {folds} fold(s) × {2 * per_fold} pairs = {folds * 2 * per_fold} lines, found {len(body)}",
        )
    pool: dict[Path, int] = {}
    names: dict[str, int] = {}
    rows = []

    def image_index(name: str, number: str, line: int) -> int:
        try:
            i = int(number)
        except ValueError:
            raise DataError(
                path, f"image number {number!r} of {name!r} is not an integer", line=line
            ) from None
        person = images / name
        if not person.is_dir():
            raise DataError(path, f"person {name!r} not found in {images}", line=line)
        file = person / f"{name}_{i:04d}.jpg"
        if not file.is_file():
            raise DataError(path, f"image {i} of {name!r} not found ({file})", line=line)
        names.setdefault(name, len(names))
        return pool.setdefault(file, len(pool))

    for k, (line, tokens) in enumerate(body):
        if len(tokens) == 3:
            a, b, same = image_index(tokens[0], tokens[1], line), image_index(tokens[0], tokens[2], line), 1
        elif len(tokens) == 4:
            if tokens[0] == tokens[2]:
                raise DataError(path, f"a mismatched pair names {tokens[0]!r} twice (same person)", line=line)
            a, b, same = image_index(tokens[0], tokens[1], line), image_index(tokens[2], tokens[3], line), 0
        else:
            raise DataError(
                path,
                f"expected 'name i j' (matched) or 'name i other j' (mismatched), got {' '.join(tokens)!r}",
                line=line,
            )
        rows.append((a, b, same, k // (2 * per_fold)))
    paths = list(pool)
    labels = [names[p.parent.name] for p in paths]
    return paths, labels, list(names), np.array(rows, dtype=np.int64)


class LfwPairs:
    """Reader of the LFW protocol: `pairs(split)` from the pairs files; training only if `train_pairs_file`."""

    def __init__(
        self,
        root: str,
        pairs_file: str = "pairs.txt",
        val_pairs_file: str | None = None,
        train_pairs_file: str | None = None,
        images_dir: str | None = None,
        crop: float | None = None,
        verify: str = "fast",
    ):
        check(bool(root), "root", "the folder holding pairs.txt and the LFW images", root)
        check(crop is None or 0 < crop <= 1, "crop", "a fraction in (0, 1] or null", crop)
        check_choice(verify, "verify", VERIFY)
        self.verify = verify
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise ConfigError("root", f"LFW folder {self.root} not found")
        self.images = find_images_dir(self.root, images_dir)
        self.files = {"test": pairs_file, "val": val_pairs_file or pairs_file, "train": train_pairs_file}
        self.crop = crop
        self.splits = ("train", "val", "test") if train_pairs_file else ("val", "test")
        self._parsed: dict[str, tuple] = {}

    def _parse(self, split: str):
        if self.files[split] is None:
            raise ConfigError(
                "train_pairs_file",
                "LFW is an evaluation protocol: set data.train_pairs_file=pairsDevTrain.txt to train on View 1, "
                "or train on data=identity_folder and evaluate with `python eval.py data=lfw ckpt_path=...`",
            )
        if split not in self._parsed:
            path = Path(self.files[split])
            self._parsed[split] = parse_pairs(path if path.is_absolute() else self.root / path, self.images)
            verify_images(self._parsed[split][0], self.verify)
        return self._parsed[split]

    @property
    def num_train_identities(self) -> int:
        return len(self._parse("train")[2])

    def dataset(self, split: str) -> ImageFiles:
        """Every image named in the split's pairs file, labelled by person (training on View 1)."""
        paths, labels, names, _ = self._parse(split)
        return ImageFiles(paths, labels, names, self.crop)

    def pairs(self, split: str) -> PairSet:
        paths, labels, names, index = self._parse(split)
        return PairSet(ImageFiles(paths, labels, names, self.crop), index)

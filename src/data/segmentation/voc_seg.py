"""`voc_seg`: Pascal VOC semantic segmentation (VOC2012 / VOC2007 layout, or your data exported in it).

On-disk layout (`data.root`, the folder holding `VOCdevkit/`; `root` may also be `VOCdevkit/` or the
`VOC2012/` folder itself):

    VOCdevkit/VOC2012/JPEGImages/<id>.jpg
    VOCdevkit/VOC2012/SegmentationClass/<id>.png        palette PNG: index = class id, 255 = border/ignore
    VOCdevkit/VOC2012/ImageSets/Segmentation/train.txt  one image id per line (likewise val.txt, test.txt)

A listed id without its JPEG or its mask is a DataError naming the list file and line; the masks are
then checked like the mask folder's (size equal to the image's, values in 0..20 or 255). The classes
are `classes`, else a `classes.txt` / `class_names.txt` in VOC2012/ or root (one name a line, background
first, as labelme2voc writes it), else VOC's 21.
"""

from __future__ import annotations

import logging
from pathlib import Path

from src.data.common.data_checks import first_duplicate
from src.data.common.voc_folder import find_voc_dir
from src.data.segmentation.mask_folder import VERIFY, SegmentationFiles, read_class_names
from src.errors import ConfigError, DataError, check, check_choice

log = logging.getLogger("imagelab")

VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip
YEARS = ("auto", "2012", "2007")
NAME_FILES = (
    "classes.txt",
    "class_names.txt",
)  # one name a line, background first (labelme2voc: class_names.txt)


def read_id_list(path: Path) -> list[tuple[int, str]]:
    """(line number, image id) for every non-blank line of an ImageSets list file."""
    if not path.is_file():
        raise DataError(path, "image-set list not found (one image id per line)")
    ids = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if parts:
            ids.append((number, parts[0]))
    if not ids:
        raise DataError(path, "the list holds no image ids")
    twice = first_duplicate(ids, key=lambda entry: entry[1])
    if twice:
        (first, image_id), (again, _) = twice
        raise DataError(path, f"image id {image_id!r} is listed twice (lines {first} and {again})", again)
    return ids


class VocSeg:
    """Reader of the VOC segmentation layout; splits map to ImageSets/Segmentation/<name>.txt."""

    def __init__(
        self,
        root: str,
        year: str | int = "auto",
        image_sets: dict[str, str] | None = None,
        mask_dir: str = "SegmentationClass",
        num_classes: int | str = "auto",
        classes: list[str] | None = None,
        ignore_index: int = 255,
        verify: str = "fast",
    ):
        year = str(year)
        check_choice(year, "year", YEARS)
        check_choice(verify, "verify", VERIFY)
        check(
            num_classes == "auto" or (isinstance(num_classes, int) and num_classes >= 2),
            "num_classes",
            "'auto' (len(classes), else VOC's 21) or an integer >= 2",
            num_classes,
        )
        self.image_sets = dict(image_sets or {"train": "train", "val": "val", "test": "test"})
        unknown = set(self.image_sets) - {"train", "val", "test"}
        if unknown:
            raise ConfigError("image_sets", f"keys must be train, val, test (got {sorted(unknown)})")
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise DataError(
                self.root, "dataset folder not found (set data.root to the folder holding VOCdevkit/)"
            )
        self.voc_dir = find_voc_dir(self.root, year, "SegmentationClass")
        self.mask_dir, self.num_classes, self.ignore_index, self.verify = (
            mask_dir,
            num_classes,
            ignore_index,
            verify,
        )
        names_file = next(
            (d / f for d in (self.voc_dir, self.root) for f in NAME_FILES if (d / f).is_file()), None
        )
        if classes:
            self.class_names = [str(c) for c in classes]
        elif names_file is not None:
            self.class_names = read_class_names(names_file)
        elif num_classes in ("auto", len(VOC_CLASSES)):
            self.class_names = list(VOC_CLASSES)
        else:
            raise ConfigError(
                "classes",
                f"num_classes is {num_classes}, not VOC's {len(VOC_CLASSES)}: list your class names in "
                "data.reader.classes or classes.txt",
            )
        if (
            num_classes == "auto"
        ):  # an explicit count that differs from the names is reported by the DataModule
            self.num_classes = len(self.class_names)
        self.splits = tuple(
            s
            for s, name in self.image_sets.items()
            if s in ("train", "val") or self.list_path(name).is_file()
        )

    def list_path(self, name: str) -> Path:
        return self.voc_dir / "ImageSets" / "Segmentation" / f"{name}.txt"

    def pairs(self, split: str) -> list[tuple[Path, Path]]:
        if split not in self.image_sets:
            raise ConfigError("image_sets", f"no list file named for the {split!r} split")
        list_file = self.list_path(self.image_sets[split])
        images_dir, masks_dir = self.voc_dir / "JPEGImages", self.voc_dir / self.mask_dir
        if not masks_dir.is_dir():
            raise DataError(
                masks_dir, "mask folder not found (palette PNGs of class ids; see data.reader.mask_dir)"
            )
        pairs = []
        for number, image_id in read_id_list(list_file):
            image, mask = images_dir / f"{image_id}.jpg", masks_dir / f"{image_id}.png"
            if not image.is_file():
                raise DataError(list_file, f"image id {image_id!r} has no file {image}", line=number)
            if not mask.is_file():
                raise DataError(list_file, f"image id {image_id!r} has no mask {mask}", line=number)
            pairs.append((image, mask))
        return pairs

    def dataset(self, split: str) -> SegmentationFiles:
        data = SegmentationFiles(self.pairs(split), self.num_classes, self.ignore_index)
        data.scan(self.verify, where=str(self.list_path(self.image_sets[split])))
        log.info("voc_seg %s: %d images from %s", split, len(data), self.voc_dir)
        return data

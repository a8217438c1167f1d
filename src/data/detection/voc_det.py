"""`voc_det`: the Pascal VOC layout (`VOCdevkit/VOC2007|VOC2012/{JPEGImages,Annotations,ImageSets/Main}`).

VOC boxes are 1-based inclusive pixel indices: (xmin, ymin, xmax, ymax) covers the pixel edges
(xmin−1, ymin−1)…(xmax, ymax), which is the XYXY box used here. `difficult` objects are trained on
(unless `train_difficult: false`) and ignored in evaluation, as in the VOC protocol. Without
`classes`, the classes are VOC's 20, or the names found in the annotations when they are not VOC's.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from pathlib import Path

from src.data.common.data_checks import first_duplicate, parse_xml
from src.data.common.voc_folder import find_voc_dir
from src.data.detection.records import RecordDataset, cached_scan, check_box, image_size_of, make_record
from src.errors import ConfigError, DataError, check

log = logging.getLogger("imagelab")

VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip


def parse_annotation(
    path: Path, class_index: dict[str, int], width: int, height: int
) -> tuple[list, list, list]:
    tree = parse_xml(path)
    boxes, labels, difficult = [], [], []
    for obj in tree.getroot().iter("object"):
        name = (obj.findtext("name") or "").strip()
        line = getattr(obj, "sourceline", None)
        if name not in class_index:
            raise DataError(
                path, f"object class {name!r} is not among data.classes {list(class_index)}", line
            )
        bb = obj.find("bndbox")
        try:
            xmin, ymin, xmax, ymax = (float(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
        except (AttributeError, TypeError, ValueError):
            raise DataError(path, f"object {name!r} has no valid bndbox xmin/ymin/xmax/ymax") from None
        boxes.append(check_box([xmin - 1, ymin - 1, xmax, ymax], width, height, path))
        labels.append(class_index[name])
        difficult.append(int((obj.findtext("difficult") or "0").strip() == "1"))
    return boxes, labels, difficult


def check_image_ids(ids: list[tuple[int, str]], list_file: Path) -> None:
    """An image list must name some images, each once (a repeated id would train on it twice)."""
    if not ids:
        raise DataError(list_file, "the image list names no images")
    twice = first_duplicate(ids, key=lambda entry: entry[1])
    if twice:
        (first, image_id), (again, _) = twice
        raise DataError(
            list_file, f"image id {image_id!r} is listed twice (lines {first} and {again})", again
        )


class VocDet:
    """Reader of VOC detection annotations for `year`; splits are ImageSets/Main/<name>.txt files."""

    def __init__(
        self,
        root: str | None,
        year: str | int = "2007",
        classes: list[str] | None = None,
        train_split: str = "train",
        val_split: str = "val",
        test_split: str | None = None,
        train_difficult: bool = True,
    ):
        check(bool(root), "root", "the folder holding VOCdevkit: set data.root=<path>", root)
        self.dir = find_voc_dir(Path(root).expanduser(), str(year), "Annotations")
        self.split_files = {"train": train_split, "val": val_split}
        if test_split:
            self.split_files["test"] = test_split
        self.class_names = list(classes) if classes else self.found_class_names()
        if len(set(self.class_names)) != len(self.class_names):
            raise ConfigError("classes", f"has duplicates: {self.class_names}")
        self.class_index = {n: i for i, n in enumerate(self.class_names)}
        self.splits = tuple(self.split_files)
        self.train_difficult = train_difficult
        self.category_ids = list(range(len(self.class_names)))
        self._records: dict[str, list[dict]] = {}

    def found_class_names(self) -> list[str]:
        """VOC's 20 classes when every object of the listed annotations is one of them, else the sorted
        names found (a dataset of your own exported in the VOC layout)."""
        found: set[str] = set()
        for name in self.split_files.values():
            list_file = self.dir / "ImageSets" / "Main" / f"{name}.txt"
            if not list_file.is_file():
                continue  # reported by records()
            for line in list_file.read_text().splitlines():
                ann = self.dir / "Annotations" / f"{line.split()[0]}.xml" if line.strip() else None
                if ann is None or not ann.is_file():
                    continue
                try:
                    root = ET.parse(ann).getroot()
                except ET.ParseError as err:
                    raise DataError(ann, f"invalid XML ({err})", err.position[0]) from None
                found.update((obj.findtext("name") or "").strip() for obj in root.iter("object"))
        found.discard("")  # a nameless object is reported by records()
        if found <= set(VOC_CLASSES):
            return list(VOC_CLASSES)
        log.info("voc_det: classes found in the annotations (not VOC's 20): %s", sorted(found))
        return sorted(found)

    def records(self, split: str) -> list[dict]:
        if split not in self.split_files:
            raise ConfigError("split", f"no {split!r} split configured (have {list(self.split_files)})")
        if split in self._records:
            return self._records[split]
        list_file = self.dir / "ImageSets" / "Main" / f"{self.split_files[split]}.txt"
        if not list_file.is_file():
            raise DataError(list_file, f"image list of split {split!r} not found")
        ids = [
            (n, line.split()[0])
            for n, line in enumerate(list_file.read_text().splitlines(), start=1)
            if line.strip()
        ]
        check_image_ids(ids, list_file)
        images_dir = self.dir / "JPEGImages"
        if not images_dir.is_dir():
            raise DataError(images_dir, "images folder not found")
        anns = [self.dir / "Annotations" / f"{i}.xml" for _, i in ids]

        def scan() -> list[dict]:
            out, named_by = [], {}
            for (n, image_id), ann in zip(ids, anns):
                if not ann.is_file():
                    raise DataError(list_file, f"names {image_id!r} but {ann} does not exist", n)
                filename = (parse_xml(ann).getroot().findtext("filename") or f"{image_id}.jpg").strip()
                file = images_dir / filename
                if not file.is_file():
                    file = images_dir / f"{image_id}.jpg"
                if not file.is_file():
                    raise DataError(ann, f"names image {filename!r}, not found in {images_dir}")
                if file in named_by:
                    raise DataError(ann, f"names image {file.name!r}, already annotated by {named_by[file]}")
                named_by[file] = ann
                w, h = image_size_of(file)
                boxes, labels, difficult = parse_annotation(ann, self.class_index, w, h)
                out.append(make_record(file, w, h, boxes, labels, difficult, image_id=len(out)))
            return out

        cache = self.dir / f"{self.split_files[split]}.imagelab.cache.json"
        jpgs = [images_dir / f"{i}.jpg" for _, i in ids]
        self._records[split] = cached_scan(
            cache, [list_file, *anns, *jpgs], scan, extra=",".join(self.class_names)
        )
        return self._records[split]

    def dataset(self, split: str) -> RecordDataset:
        records = self.records(split)
        if split == "train":  # training sees difficult objects as ordinary ones, or not at all
            keep = (lambda d: True) if self.train_difficult else (lambda d: not d)
            records = [
                {**r, **{k: [v for v, d in zip(r[k], r["iscrowd"]) if keep(d)] for k in ("boxes", "labels")}}
                | {"iscrowd": [0 for d in r["iscrowd"] if keep(d)]}
                for r in records
            ]
        return RecordDataset(records)

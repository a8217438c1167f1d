"""`yolo`: the dataset layout of labelling tools and ultralytics.

`root/data.yaml` has `path` (optional, relative to the yaml), `train`, `val` (optional `test`): folders
of images (or .txt lists of image paths) relative to `path`, and `names` as a list or a {id: name}
dict (or only `nc`, or a `classes.txt` beside it): the class count and names come from there. Labels live where the images do with `images` replaced by `labels`: one `<stem>.txt` per image,
one object per line `class cx cy w h` normalized to [0, 1] (a polygon `class x1 y1 x2 y2 ...` is turned
into its bounding box). A missing or empty label file is a background image.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from src.data.common.data_checks import check_not_empty, first_duplicate
from src.data.detection.records import (
    IMAGE_SUFFIXES,
    RecordDataset,
    cached_scan,
    check_box,
    check_class,
    image_size_of,
    list_images,
    make_record,
)
from src.errors import ConfigError, DataError, check


def label_path_for(image: Path) -> Path:
    """ultralytics' rule: the last `images` folder of the path becomes `labels`, suffix `.txt`."""
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def parse_label_file(path: Path, width: int, height: int, num_classes: int) -> tuple[list, list]:
    """Boxes (XYXY px) and class ids from one label file; errors name the file and line."""
    boxes, labels = [], []
    if not path.is_file():
        return boxes, labels
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            cls_f, *vals = [float(v) for v in fields]
        except ValueError:
            raise DataError(path, f"expected numbers `class cx cy w h`, got {line.strip()!r}", n) from None
        if cls_f != int(cls_f):
            raise DataError(path, f"class id {fields[0]!r} is not an integer", n)
        cls = check_class(int(cls_f), num_classes, path, n)
        if len(vals) == 4:
            cx, cy, w, h = vals
            if w <= 0 or h <= 0:
                raise DataError(path, f"box has non-positive width or height (w={w}, h={h})", n)
            box = [(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height]
        elif len(vals) >= 6 and len(vals) % 2 == 0:  # polygon (segment) label
            xs, ys = vals[0::2], vals[1::2]
            box = [min(xs) * width, min(ys) * height, max(xs) * width, max(ys) * height]
        else:
            raise DataError(path, f"expected `class cx cy w h` (5 values), got {len(fields)} values", n)
        boxes.append(check_box(box, width, height, path, n, tol=max(1.0, 0.005 * max(width, height))))
        labels.append(cls)
    return boxes, labels


def read_names(yaml_path: Path, spec: dict) -> list[str]:
    """The class names of a dataset yaml: `names` (list or {id: name}), else `nc` (class_0, ...), else a
    `classes.txt` beside it (one name a line, as darknet exports); `nc` beside `names` must agree."""
    names, nc = spec.get("names"), spec.get("nc")
    if isinstance(names, dict):
        ids = sorted(int(k) for k in names)
        if ids != list(range(len(ids))):
            raise DataError(yaml_path, f"`names` ids must be 0..{len(ids) - 1}, got {ids}")
        names = [str(names[k] if k in names else names[str(k)]) for k in ids]
    if names is None and (yaml_path.parent / "classes.txt").is_file():
        names = [n.strip() for n in (yaml_path.parent / "classes.txt").read_text().splitlines() if n.strip()]
    if names is None and isinstance(nc, int) and nc >= 1:
        names = [f"class_{i}" for i in range(nc)]
    if not isinstance(names, list) or not names:
        raise DataError(yaml_path, "`names` must be a non-empty list or {id: name} dict (or give `nc`)")
    if nc is not None and nc != len(names):
        raise DataError(yaml_path, f"`nc` is {nc} but `names` lists {len(names)} classes: {names}")
    return [str(n) for n in names]


def check_label_stems(images: list[Path], labels: list[Path]) -> None:
    """Two images that map to one label file (`a.jpg`, `a.png`) would share its boxes: refuse."""
    twice = first_duplicate(zip(images, labels), key=lambda pair: pair[1])
    if twice:
        (first, label), (second, _) = twice
        what = "is listed twice" if first == second else f"and {first.name} share the label file {label}"
        raise DataError(second, f"{what}; every image needs its own stem")


class YoloDet:
    """Reader of a YOLO-format dataset; `root` is the folder holding `yaml_name` (or the yaml itself)."""

    def __init__(self, root: str | None, yaml_name: str = "data.yaml"):
        check(bool(root), "root", "the dataset folder holding data.yaml: set data.root=<path>", root)
        root_path = Path(root).expanduser()
        self.yaml_path = root_path if root_path.suffix in (".yaml", ".yml") else root_path / yaml_name
        if not self.yaml_path.is_file():
            raise DataError(
                self.yaml_path, "dataset yaml not found (data.root must hold data.yaml: path/train/val/names)"
            )
        try:
            spec = yaml.safe_load(self.yaml_path.read_text()) or {}
        except yaml.YAMLError as err:
            raise DataError(self.yaml_path, f"invalid YAML ({err})") from None
        self.class_names = read_names(self.yaml_path, spec)
        base = Path(spec.get("path") or ".")
        self.base = base if base.is_absolute() else (self.yaml_path.parent / base)
        self.split_specs = {s: spec[s] for s in ("train", "val", "test") if spec.get(s)}
        for s in ("train", "val"):
            if s not in self.split_specs:
                raise DataError(self.yaml_path, f"`{s}` is missing (a folder of images relative to `path`)")
        self.splits = tuple(self.split_specs)
        self.category_ids = list(range(len(self.class_names)))
        self._records: dict[str, list[dict]] = {}

    def image_files(self, split: str) -> list[Path]:
        entries = self.split_specs[split]
        files: list[Path] = []
        for entry in entries if isinstance(entries, list) else [entries]:
            path = Path(entry) if Path(entry).is_absolute() else self.base / entry
            if path.suffix == ".txt":
                if not path.is_file():
                    raise DataError(path, f"image list of split {split!r} not found")
                for n, line in enumerate(path.read_text().splitlines(), start=1):
                    if line.strip():
                        f = Path(line.strip())
                        f = f if f.is_absolute() else self.base / f
                        if not f.is_file():
                            raise DataError(path, f"lists a missing image {f}", n)
                        files.append(f)
            else:
                images = list_images(path)
                check_not_empty(
                    images, path, f"no images ({', '.join(IMAGE_SUFFIXES)}) in the {split} folder"
                )
                files += images
        check_not_empty(files, self.yaml_path, f"the {split!r} split lists no images")
        return files

    def records(self, split: str) -> list[dict]:
        if split not in self.split_specs:
            raise ConfigError(
                "split", f"{self.yaml_path} has no {split!r} split (has {list(self.split_specs)})"
            )
        if split not in self._records:
            files = self.image_files(split)
            labels = [label_path_for(f) for f in files]
            check_label_stems(files, labels)

            def scan() -> list[dict]:
                out = []
                for i, (img, lab) in enumerate(zip(files, labels)):
                    w, h = image_size_of(img)
                    boxes, cls = parse_label_file(lab, w, h, len(self.class_names))
                    out.append(make_record(img, w, h, boxes, cls, image_id=i))
                return out

            # as ultralytics' labels/<split>.cache
            cache = (
                labels[0].parent.with_suffix(".imagelab.cache.json")
                if labels
                else self.base / f"{split}.imagelab.cache.json"
            )
            self._records[split] = cached_scan(cache, files + labels, scan, extra=str(len(self.class_names)))
        return self._records[split]

    def dataset(self, split: str) -> RecordDataset:
        return RecordDataset(self.records(split))


__all__ = ["YoloDet", "label_path_for", "parse_label_file", "IMAGE_SUFFIXES"]

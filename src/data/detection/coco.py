"""`coco`: an images folder + an `instances_*.json` per split (COCO's own layout by default).

Category ids need not be contiguous: they are sorted and mapped to 0..C−1 (`category_ids[k]` maps
back, for predictions in COCO results format). The val/test files must hold the training file's
categories (the same id → name; a subset is fine): another name for an id, or a category of their own,
is refused naming both files. `iscrowd` objects are left out of training and marked
ignored in evaluation (a detection on a crowd region is neither a true nor a false positive).
"""

from __future__ import annotations

import json
from pathlib import Path

from src.data.common.data_checks import first_duplicate
from src.data.detection.records import RecordDataset, cached_scan, check_box, image_size_of, make_record
from src.errors import ConfigError, DataError, check


def check_images(images: list[dict], path: Path) -> None:
    """Image entries need an id each, used once: a repeated id would hand one image's boxes to another."""
    if not images:
        raise DataError(path, "the `images` list is empty")
    for n, im in enumerate(images):
        if "id" not in im or "file_name" not in im:
            raise DataError(path, f"image entry #{n} lacks `id` or `file_name`: {im}")
    twice = first_duplicate(images, key=lambda im: int(im["id"]))
    if twice:
        first, second = twice
        raise DataError(
            path,
            f"image id {second['id']} is used twice ({first['file_name']!r} and {second['file_name']!r}); "
            "ids must be unique",
        )


class CocoDet:
    """Reader of COCO-style detection annotations. Paths are relative to `root` unless absolute."""

    def __init__(
        self,
        root: str | None,
        train_images: str = "train2017",
        train_annotations: str = "annotations/instances_train2017.json",
        val_images: str = "val2017",
        val_annotations: str = "annotations/instances_val2017.json",
        test_images: str | None = None,
        test_annotations: str | None = None,
        classes: list[str] | None = None,
    ):
        check(bool(root), "root", "the COCO dataset folder: set data.root=<path>", root)
        self.root = Path(root).expanduser()
        self.paths = {"train": (train_images, train_annotations), "val": (val_images, val_annotations)}
        if test_images and test_annotations:
            self.paths["test"] = (test_images, test_annotations)
        self.splits = tuple(self.paths)
        self._records: dict[str, list[dict]] = {}
        self._json: dict[str, dict] = {}
        cats = sorted(self.load("train")["categories"], key=lambda c: c["id"])
        if not cats:
            raise DataError(self.resolve(train_annotations), "has no `categories`")
        if classes:
            by_name = {c["name"]: c for c in cats}
            missing = [n for n in classes if n not in by_name]
            if missing:
                raise ConfigError(
                    "classes", f"not categories of {train_annotations}: {missing}; it has {list(by_name)}"
                )
            cats = [by_name[n] for n in classes]
        self.class_names = [str(c["name"]) for c in cats]
        self.category_ids = [int(c["id"]) for c in cats]
        self.cat_to_label = {cid: k for k, cid in enumerate(self.category_ids)}

    def resolve(self, rel: str) -> Path:
        path = Path(rel).expanduser()
        return path if path.is_absolute() else self.root / path

    def load(self, split: str) -> dict:
        if split not in self._json:
            path = self.resolve(self.paths[split][1])
            if not path.is_file():
                raise DataError(path, f"annotation file of split {split!r} not found")
            try:
                data = json.loads(path.read_text())
            except json.JSONDecodeError as err:
                raise DataError(path, f"invalid JSON ({err})", err.lineno) from None
            for key in ("images", "annotations", "categories"):
                if key not in data:
                    raise DataError(path, f"missing the `{key}` list of a COCO instances file")
            check_images(data["images"], path)
            self._json[split] = data
        return self._json[split]

    def check_categories(self, split: str) -> None:
        """A split's categories must be the training file's (id → name): a renamed id would score boxes
        against another class, a category of its own would silently leave the evaluation."""
        train = {int(c["id"]): str(c["name"]) for c in self.load("train")["categories"]}
        train_file, here = self.resolve(self.paths["train"][1]), self.resolve(self.paths[split][1])
        for c in self.load(split)["categories"]:
            cid, name = int(c["id"]), str(c["name"])
            if cid not in train:
                raise DataError(
                    here,
                    f"category {name!r} (id {cid}) is not in {train_file}; the splits must share its categories",
                )
            if train[cid] != name:
                raise DataError(
                    here,
                    f"category id {cid} is {name!r} here but {train[cid]!r} in {train_file}; the splits must"
                    " share one category list (id → name)",
                )

    def records(self, split: str) -> list[dict]:
        if split not in self.paths:
            raise ConfigError("split", f"no {split!r} split configured (have {list(self.paths)})")
        if split in self._records:
            return self._records[split]
        images_dir, ann_rel = self.resolve(self.paths[split][0]), self.resolve(self.paths[split][1])
        if not images_dir.is_dir():
            raise DataError(images_dir, "images folder not found")
        data = self.load(split)
        if split != "train":
            self.check_categories(split)
        images = {int(im["id"]): im for im in data["images"]}
        files = [images_dir / im["file_name"] for im in images.values()]

        def scan() -> list[dict]:
            per_image: dict[int, list[dict]] = {i: [] for i in images}
            for n, ann in enumerate(data["annotations"]):
                if int(ann["image_id"]) not in images:
                    raise DataError(
                        ann_rel,
                        f"annotation #{n} (id {ann.get('id')}) names unknown image_id {ann['image_id']}",
                    )
                per_image[int(ann["image_id"])].append(ann)
            out = []
            for image_id, im in images.items():
                file = images_dir / im["file_name"]
                if not file.is_file():
                    raise DataError(
                        ann_rel, f"image {im['file_name']!r} (id {image_id}) not found in {images_dir}"
                    )
                w, h = image_size_of(file)
                boxes, labels, crowd = [], [], []
                for ann in per_image[image_id]:
                    cid = int(ann["category_id"])
                    if cid not in self.cat_to_label:
                        if any(int(c["id"]) == cid for c in data["categories"]):
                            continue  # a category left out by `classes`
                        raise DataError(
                            ann_rel, f"annotation id {ann.get('id')} has unknown category_id {cid}"
                        )
                    x, y, bw, bh = (float(v) for v in ann["bbox"])
                    where = f"{ann_rel} (annotation id {ann.get('id')}, image {im['file_name']})"
                    boxes.append(check_box([x, y, x + bw, y + bh], w, h, Path(where)))
                    labels.append(self.cat_to_label[cid])
                    crowd.append(int(ann.get("iscrowd", 0)))
                out.append(make_record(file, w, h, boxes, labels, crowd, image_id))
            return out

        cache = ann_rel.with_name(ann_rel.stem + ".imagelab.cache.json")
        self._records[split] = cached_scan(cache, [ann_rel, *files], scan, extra=",".join(self.class_names))
        return self._records[split]

    def dataset(self, split: str) -> RecordDataset:
        return RecordDataset(self.records(split))

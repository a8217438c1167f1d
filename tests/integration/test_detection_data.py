"""Detection readers (YOLO, COCO, VOC, shapes), their errors, the scan cache, pipelines, and the check
that one small validation set written in all three formats scores the same mAP.
(One file over 300 lines: the four readers share their fixtures and the cross-format check.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from src.data.common.shapes import render_scene
from src.data.detection.coco import CocoDet
from src.data.detection.datasets import (
    DetAugmentConfig,
    DetectionEvalSet,
    DetectionTrainSet,
    collate_detection,
    collate_detection_train,
    letterbox,
    target_list,
    to_original,
)
from src.data.detection.shapes_det import ShapesDet
from src.data.detection.voc_det import VocDet
from src.data.detection.yolo_format import YoloDet
from src.errors import ConfigError, DataError
from tests.conftest import augment_block

NAMES = ["circle", "square", "triangle"]
SIZES = [(64, 64), (80, 48), (48, 72)]  # (W, H): mixed sizes exercise letterboxing and mapping back


def scenes(n: int = 6) -> list[dict]:
    """Small images with integer-pixel boxes (exactly representable in all three formats)."""
    out = []
    for i in range(n):
        w, h = SIZES[i % len(SIZES)]
        s = render_scene(100 + i, 64, 3, 1, 3)
        img = np.array(Image.fromarray(s.image).resize((w, h)))
        boxes = [
            [round(b[0] * w / 64), round(b[1] * h / 64), round(b[2] * w / 64), round(b[3] * h / 64)]
            for b in s.boxes
        ]
        boxes = [b for b in boxes if b[2] > b[0] and b[3] > b[1]]
        out.append(
            {
                "name": f"img{i:03d}",
                "image": img,
                "boxes": boxes,
                "labels": [int(c) for c in s.labels[: len(boxes)]],
            }
        )
    out[-1]["boxes"], out[-1]["labels"] = [], []  # a background image
    return out


def write_yolo(root: Path, items: list[dict], names=NAMES) -> Path:
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for it in items:
            Image.fromarray(it["image"]).save(root / "images" / split / f"{it['name']}.png")
            h, w = it["image"].shape[:2]
            if not it["boxes"]:
                continue  # no label file = background
            lines = [
                f"{c} {(b[0] + b[2]) / 2 / w:.8f} {(b[1] + b[3]) / 2 / h:.8f} {(b[2] - b[0]) / w:.8f} {(b[3] - b[1]) / h:.8f}"
                for b, c in zip(it["boxes"], it["labels"])
            ]
            (root / "labels" / split / f"{it['name']}.txt").write_text("\n".join(lines) + "\n")
    (root / "data.yaml").write_text(
        "path: .\ntrain: images/train\nval: images/val\nnames:\n"
        + "".join(f"  {i}: {n}\n" for i, n in enumerate(names))
    )
    return root


CAT_IDS = [3, 7, 11]  # non-contiguous on purpose


def write_coco(root: Path, items: list[dict], crowd: dict | None = None) -> Path:
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    for split in ("train2017", "val2017"):
        (root / split).mkdir(parents=True, exist_ok=True)
        images, anns = [], []
        for i, it in enumerate(items):
            Image.fromarray(it["image"]).save(root / split / f"{it['name']}.png")
            h, w = it["image"].shape[:2]
            images.append({"id": 1000 + i, "file_name": f"{it['name']}.png", "width": w, "height": h})
            for j, (b, c) in enumerate(zip(it["boxes"], it["labels"])):
                iscrowd = int((crowd or {}).get((i, j), 0))
                bbox = [b[0], b[1], b[2] - b[0], b[3] - b[1]]
                anns.append(
                    {
                        "id": len(anns) + 1,
                        "image_id": 1000 + i,
                        "category_id": CAT_IDS[c],
                        "bbox": bbox,
                        "area": bbox[2] * bbox[3],
                        "iscrowd": iscrowd,
                    }
                )
        cats = [{"id": cid, "name": n} for cid, n in zip(CAT_IDS, NAMES)][::-1]  # unsorted too
        (root / "annotations" / f"instances_{split}.json").write_text(
            json.dumps({"images": images, "annotations": anns, "categories": cats})
        )
    return root


def write_voc(root: Path, items: list[dict], difficult: dict | None = None, year: str = "2007") -> Path:
    base = root / "VOCdevkit" / f"VOC{year}"
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    for i, it in enumerate(items):
        Image.fromarray(it["image"]).save(base / "JPEGImages" / f"{it['name']}.png")
        h, w = it["image"].shape[:2]
        objs = "".join(
            f"<object><name>{NAMES[c]}</name><difficult>{int((difficult or {}).get((i, j), 0))}</difficult>"
            f"<bndbox><xmin>{b[0] + 1}</xmin><ymin>{b[1] + 1}</ymin><xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>"
            for j, (b, c) in enumerate(zip(it["boxes"], it["labels"]))
        )
        xml = f"<annotation><filename>{it['name']}.png</filename><size><width>{w}</width><height>{h}</height><depth>3</depth></size>{objs}</annotation>"
        (base / "Annotations" / f"{it['name']}.xml").write_text(xml)
    ids = "\n".join(it["name"] for it in items) + "\n"
    for split in ("train", "val"):
        (base / "ImageSets" / "Main" / f"{split}.txt").write_text(ids)
    return root


def fixed_predictions(target: dict, image_id: int) -> dict:
    """Deterministic 'detections' in network-input pixels: shifted true boxes plus one false positive."""
    boxes = target["boxes"].clone()
    shift = torch.tensor([1.0, -1.0, 2.0, 0.5]) * ((image_id % 3) - 1)
    boxes = boxes + shift
    scores = torch.linspace(0.9, 0.5, len(boxes)) if len(boxes) else torch.zeros(0)
    fp = torch.tensor([[2.0, 2.0, 14.0, 12.0]])
    return {
        "boxes": torch.cat([boxes, fp]),
        "scores": torch.cat([scores, torch.tensor([0.7])]),
        "labels": torch.cat([target["labels"], torch.tensor([image_id % 3])]),
    }


def map_of(reader, image_size=64) -> dict:
    """mAP of `fixed_predictions` on the reader's val split through the Detector's own eval step."""
    from tests.detector_yaml import build_detector

    model = build_detector("yolo", num_classes=3, image_size=image_size)
    model.detect = lambda out, thr: [fixed_predictions(t, i) for i, t in enumerate(model._targets)]
    model.log = lambda *a, **k: None
    dataset = DetectionEvalSet(reader.dataset("val"), image_size)
    images, targets = collate_detection([dataset[i] for i in range(len(dataset))])
    model._targets = targets
    model.losses_of = lambda out, t: {"loss": torch.tensor(0.0)}
    model._eval_step((images, targets), 1, "val")
    res = model.val_map.compute()
    return {k: float(res[k]) for k in ("map", "map_50", "map_75")}


def test_same_map_in_yolo_coco_voc(tmp_path):
    items = scenes()
    yolo = YoloDet(str(write_yolo(tmp_path / "yolo", items)))
    coco = CocoDet(str(write_coco(tmp_path / "coco", items)))
    voc = VocDet(str(write_voc(tmp_path / "voc", items)), classes=NAMES)
    results = [map_of(r) for r in (yolo, coco, voc)]
    assert 0.2 < results[0]["map_50"] < 1.0  # shifted boxes and false positives: not perfect
    for other in results[1:]:
        for key in ("map", "map_50", "map_75"):
            assert other[key] == pytest.approx(results[0][key], abs=1e-4), (key, results)


def test_voc_difficult_and_coco_crowd_are_ignored_alike(tmp_path):
    items = scenes()
    flags = {(0, 0): 1}  # first object of the first image: difficult / crowd
    coco = CocoDet(str(write_coco(tmp_path / "coco", items, crowd=flags)))
    voc = VocDet(str(write_voc(tmp_path / "voc", items, difficult=flags)), classes=NAMES)
    a, b = map_of(coco), map_of(voc)
    assert a == pytest.approx(b, abs=1e-4)
    assert voc.records("val")[0]["iscrowd"][0] == 1
    assert voc.dataset("train").records[0]["iscrowd"][0] == 0  # trained on as an ordinary object
    assert (
        len(
            VocDet(str(tmp_path / "voc"), classes=NAMES, train_difficult=False)
            .dataset("train")
            .records[0]["boxes"]
        )
        == len(items[0]["boxes"]) - 1
    )


def test_yolo_reader_boxes_names_background_and_cache(tmp_path, monkeypatch):
    items = scenes(3)
    root = write_yolo(tmp_path / "y", items)
    reader = YoloDet(str(root))
    assert reader.class_names == NAMES
    recs = reader.records("val")
    assert [len(r["boxes"]) for r in recs] == [len(it["boxes"]) for it in items]
    np.testing.assert_allclose(recs[0]["boxes"], items[0]["boxes"], atol=1e-3)
    assert recs[-1]["boxes"] == []  # no label file: background
    assert list((root / "labels").glob("val.imagelab.cache.json"))
    import src.data.detection.yolo_format as yf

    monkeypatch.setattr(yf, "image_size_of", lambda p: (_ for _ in ()).throw(AssertionError("rescanned")))
    assert YoloDet(str(root)).records("val") == recs  # served from the cache


@pytest.mark.parametrize(
    "line, message",
    [
        ("5 0.5 0.5 0.2 0.2", "class id 5 is out of range"),
        ("0 0.5 0.5 0 0.2", "non-positive width"),
        ("1 0.9 0.5 0.5 0.2", "outside"),
        ("0 0.5 0.5", "5 values"),
        ("x 0.5 0.5 0.2 0.2", "expected numbers"),
    ],
)
def test_yolo_label_errors_name_file_and_line(tmp_path, line, message):
    root = write_yolo(tmp_path / "y", scenes(2))
    label = root / "labels" / "val" / "img000.txt"
    label.write_text("0 0.5 0.5 0.2 0.2\n" + line + "\n")
    with pytest.raises(DataError, match=message) as err:
        YoloDet(str(root)).records("val")
    assert err.value.path == str(label) and err.value.line == 2


def test_yolo_corrupt_image_and_missing_folder(tmp_path):
    root = write_yolo(tmp_path / "y", scenes(2))
    bad = root / "images" / "val" / "img001.png"
    bad.write_bytes(bad.read_bytes()[:60])  # truncated
    with pytest.raises(DataError, match="corrupt") as err:
        YoloDet(str(root)).records("val")
    assert err.value.path == str(bad)
    (root / "data.yaml").write_text("train: images/train\nval: images/nope\nnames: [a, b, c]\n")
    with pytest.raises(DataError, match="images folder not found"):
        YoloDet(str(root)).records("val")
    with pytest.raises(DataError, match="data.yaml"):
        YoloDet(str(tmp_path / "missing"))


def test_coco_category_mapping_crowd_and_errors(tmp_path):
    items = scenes(3)
    root = write_coco(tmp_path / "c", items, crowd={(0, 0): 1})
    reader = CocoDet(str(root))
    assert reader.class_names == NAMES and reader.category_ids == CAT_IDS
    rec = reader.records("val")[0]
    assert rec["labels"] == items[0]["labels"] and rec["iscrowd"][0] == 1 and rec["image_id"] == 1000
    image, target = reader.dataset("val")[0]
    assert target["boxes"].canvas_size == tuple(image.shape[-2:])
    # crowd boxes are left out of training targets
    train = DetectionTrainSet(
        reader.dataset("train"), DetAugmentConfig(**augment_block("detection", enabled=False)), 64
    )
    assert len(train[0][1]["labels"]) == len(items[0]["labels"]) - 1
    # an annotation naming a missing image file
    (root / "val2017" / "img001.png").unlink()
    with pytest.raises(DataError, match="img001.png"):
        CocoDet(str(root)).records("val")
    ann = json.loads((root / "annotations" / "instances_val2017.json").read_text())
    ann["annotations"][0]["image_id"] = 42
    (root / "annotations" / "instances_val2017.json").write_text(json.dumps(ann))
    with pytest.raises(DataError, match="unknown image_id 42"):
        CocoDet(str(root)).records("val")
    with pytest.raises(DataError, match="images folder not found"):
        CocoDet(str(root), val_images="nowhere").records("val")


def test_voc_one_based_boxes_and_errors(tmp_path):
    items = scenes(3)
    root = write_voc(tmp_path / "v", items)
    reader = VocDet(str(root), classes=NAMES)
    np.testing.assert_allclose(
        reader.records("val")[0]["boxes"], items[0]["boxes"]
    )  # xmin−1, ymin−1, xmax, ymax
    assert VocDet(str(root)).class_names == NAMES  # not VOC's classes: the names found in the XML
    base = root / "VOCdevkit" / "VOC2007"
    with pytest.raises(DataError, match="is not among data.classes"):
        VocDet(str(root), classes=["dog", "cat"]).records("val")
    (base / "ImageSets" / "Main" / "val.txt").write_text("img000\nghost\n")
    with pytest.raises(DataError, match="ghost") as err:
        VocDet(str(root), classes=NAMES).records("val")
    assert err.value.line == 2
    (base / "ImageSets" / "Main" / "val.txt").write_text("img000\n")
    (base / "JPEGImages" / "img000.png").unlink()
    with pytest.raises(DataError, match="not found"):
        VocDet(str(root), classes=NAMES).records("val")
    xml = base / "Annotations" / "img001.xml"
    xml.write_text(xml.read_text().replace("<xmax>", "<xmax>-9", 1))
    (base / "ImageSets" / "Main" / "train.txt").write_text("img001\n")
    with pytest.raises(DataError, match="non-positive"):
        VocDet(str(root), classes=NAMES).records("train")


def test_shapes_det_deterministic_with_empty_images():
    reader = ShapesDet(num_train=40, num_val=8, num_test=8, empty_prob=0.3, seed=3)
    a, b = (
        reader.dataset("train"),
        ShapesDet(num_train=40, num_val=8, num_test=8, empty_prob=0.3, seed=3).dataset("train"),
    )
    assert torch.equal(a.images, b.images)
    counts = [len(x) for x in a.labels]
    assert 0 in counts and max(counts) >= 2
    with pytest.raises(ConfigError, match="empty_prob"):
        ShapesDet(empty_prob=2)


def test_letterbox_maps_back_and_train_pipeline_keeps_boxes_valid():
    from torchvision import tv_tensors

    image = tv_tensors.Image(torch.zeros(3, 40, 80, dtype=torch.uint8))
    boxes = tv_tensors.BoundingBoxes(
        torch.tensor([[10.0, 5.0, 30.0, 35.0]]), format="XYXY", canvas_size=(40, 80)
    )
    out, target, (sx, sy) = letterbox(image, {"boxes": boxes}, (64, 64))
    assert out.shape[-2:] == (64, 64) and sx == sy == 0.8
    back = to_original(
        target["boxes"].as_subclass(torch.Tensor), torch.tensor([sx, sy, sx, sy]), torch.tensor([40, 80])
    )
    torch.testing.assert_close(back, boxes.as_subclass(torch.Tensor))
    torch.manual_seed(0)
    cfg = DetAugmentConfig(**augment_block("detection", mosaic=1.0, mixup=0.5, degrees=5))
    train = DetectionTrainSet(ShapesDet(num_train=16, num_val=1, num_test=1).dataset("train"), cfg, 64)
    for i in range(8):
        img, t = train[i]
        assert img.shape == (3, 64, 64) and img.dtype == torch.float32
        b = t["boxes"]
        assert len(b) == len(t["labels"]) and ((b[:, 2:] > b[:, :2]).all() if len(b) else True)
        assert (b >= 0).all() and (b <= 64).all()
    with pytest.raises(ConfigError, match="augment.mosaic"):
        DetAugmentConfig(**augment_block("detection", mosaic=1.5))


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["yolo", "coco", "voc_det"])
def test_fast_dev_run_on_file_formats(tmp_path, fmt):
    from tests.conftest import make_cfg, run_train

    items = scenes(4)
    writers = {"yolo": write_yolo, "coco": write_coco, "voc_det": write_voc}
    root = writers[fmt](tmp_path / "ds", items)
    extra = {
        "yolo": [],  # data.num_classes: auto (tests/integration/test_class_names.py)
        "coco": [],
        "voc_det": ["data.reader.classes=[circle,square,triangle]"],
    }
    overrides = [
        "model=yolo",
        f"data={fmt}",
        f"data.root={root}",
        "data.image_size=64",
        "data.batch_size=2",
        "data.num_workers=0",
        *extra[fmt],
        "debug=fdr",
    ]
    cfg = make_cfg(tmp_path / "run", overrides)
    run_train(cfg)
    assert "val/map50" in json.loads((tmp_path / "run" / "metrics.json").read_text())


def test_file_configs_name_missing_root_and_num_classes(tmp_path):
    from hydra.core.hydra_config import HydraConfig

    from src.pipeline import setup_run
    from tests.conftest import make_cfg

    def setup(overrides):
        cfg = make_cfg(tmp_path, overrides)
        HydraConfig.instance().set_config(cfg)
        return setup_run(cfg)

    with pytest.raises(ConfigError, match="data.root"):
        setup(["model=yolo", "data=yolo"])
    root = write_yolo(tmp_path / "ds", scenes(2))
    with pytest.raises(ConfigError, match=r"data.num_classes: is 2 but the dataset has 3 classes"):
        setup(["model=yolo", "data=yolo", f"data.root={root}", "data.num_classes=2"])


def test_packed_training_batches_unpack_to_the_per_image_targets():
    """The training collate packs the targets into three tensors; target_list gives each image's back."""
    boxes = [
        torch.tensor([[1.0, 2.0, 10.0, 12.0], [3.0, 3.0, 8.0, 9.0]]),
        torch.zeros(0, 4),
        torch.tensor([[0.0, 0.0, 5.0, 5.0]]),
    ]
    labels = [torch.tensor([2, 0]), torch.zeros(0, dtype=torch.long), torch.tensor([1])]
    batch = [(torch.rand(3, 16, 16), {"boxes": b, "labels": c}) for b, c in zip(boxes, labels)]
    images, packed = collate_detection_train(batch)
    assert images.shape == (3, 3, 16, 16) and packed["counts"] == [2, 0, 1]
    assert packed["boxes"].shape == (3, 4) and packed["labels"].tolist() == [2, 0, 1]
    _, reference = collate_detection(batch)
    for got, want in zip(target_list(packed), reference, strict=True):
        assert torch.equal(got["boxes"], want["boxes"]) and torch.equal(got["labels"], want["labels"])
    assert target_list(reference) is reference  # evaluation batches stay per image

"""benchmarks/_real_data.py (and _real_scenes.py) on tiny stand-ins of its package files (a .deb with
Fashion-MNIST idx files, a scikit-image wheel with photos, a scikit-learn wheel with digits.csv.gz and two
photos), written in tmp_path: both sets' three layouts, and masks and boxes that follow the pasted objects'
own pixels."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from benchmarks import _real_data as real
from benchmarks import _real_scenes as scenes
from tests.real_data_fakes import fake_sklearn_wheel, prepare_fakes


@pytest.fixture
def prepared(tmp_path, monkeypatch):
    return prepare_fakes(tmp_path, monkeypatch)


def test_layouts_and_source(prepared):
    source = json.loads((prepared / "source.json").read_text())["fashion"]
    assert source["debian"]["package"] == "dataset-fashion-mnist" and len(source["debian"]["sha256"]) == 64
    assert source["pypi"]["version"] == real.WHEEL[1]
    ids = prepared / "fashion_ids"
    assert sorted(p.name for p in (ids / "train").iterdir()) == sorted(
        real.CLASSES[c] for c in scenes.ID_TRAIN
    )
    assert sorted(p.name for p in (ids / "val").iterdir()) == sorted(real.CLASSES[c] for c in scenes.ID_VAL)
    assert len(list((ids / "val" / "bag").glob("*.png"))) == 3
    assert "  9: ankle_boot" in (prepared / "fashion_det" / "data.yaml").read_text()
    assert len(list((prepared / "fashion_det" / "images" / "train").glob("*.jpg"))) == 6
    classes = (prepared / "fashion_seg" / "classes.txt").read_text().split()
    assert classes[0] == "background" and len(classes) == 11


def test_boxes_and_masks_follow_the_object_pixels():
    rng = np.random.default_rng(3)
    items = np.zeros((4, 28, 28), np.uint8)
    items[:, 4:24, 6:22] = 200
    labels = np.array([0, 3, 5, 9])
    bg = [np.full((200, 200, 3), 30, np.uint8)]
    for _ in range(5):
        image, semantic, boxes, kept = scenes.compose_scene(
            rng, bg, items, labels, 128, (28, 56), 4, real.silhouette
        )
        assert image.shape == (128, 128, 3) and semantic.shape == (128, 128)
        assert set(np.unique(semantic)) <= {0, *(int(c) + 1 for c in kept)}
        for (x0, y0, x1, y1), c in zip(boxes, kept):
            ys, xs = np.nonzero(semantic[y0:y1, x0:x1] == c + 1)
            assert len(ys) and xs.min() == 0 and ys.min() == 0  # the box is tight on visible object pixels
        assert ((semantic > 0) == (image[..., 0] != 30)).mean() > 0.99  # masked = pasted pixels


def test_digits_set_layouts_and_source(prepared):
    source = json.loads((prepared / "source.json").read_text())["digits"]
    assert source["pypi"]["package"] == "scikit-learn" and source["pypi"]["version"] == real.SKLEARN[1]
    assert len(source["pypi"]["sha256"]) == 64 and source["members"]["objects"] == real.DIGITS_CSV
    assert source["objects"] == {"train": 64, "val": 16, "side": real.DIGIT_SIDE}  # 80 digits, 80 / 20 %
    ids = prepared / "digits_ids"
    assert sorted(p.name for p in (ids / "val").iterdir()) == [f"digit_{d}" for d in scenes.ID_VAL]
    digit = Image.open(ids / "train" / "digit_3" / "0000.png")
    assert digit.size == (real.DIGIT_SIDE, real.DIGIT_SIDE) and digit.mode == "L"
    assert "  9: digit_9" in (prepared / "digits_det" / "data.yaml").read_text()
    labels = (prepared / "digits_det" / "labels" / "val").glob("*.txt")
    assert all(0 <= int(line.split()[0]) <= 9 for p in labels for line in p.read_text().splitlines())
    mask = np.array(Image.open(prepared / "digits_seg" / "train" / "masks" / "00000.png"))
    assert mask.shape == (scenes.SEG_TILE, scenes.SEG_TILE) and mask.max() <= 10
    assert (prepared / "fashion_ids").is_dir()  # both sets, one source.json


def test_preparing_one_set_keeps_the_others_entry(prepared):
    packages = prepared.parent / "packages"
    source = real.prepare(packages, prepared, ["digits"])
    assert set(source) == {"fashion", "digits"}
    assert json.loads((prepared / "source.json").read_text()) == source


def test_digit_backgrounds_are_disjoint_tiles_of_the_two_photos(tmp_path):
    fake_sklearn_wheel(tmp_path / f"scikit_learn-{real.SKLEARN[1]}-x.whl")
    digits, _ = real.digits_set(tmp_path)
    for train, val in zip(digits.backgrounds["train"], digits.backgrounds["val"]):
        assert val.shape[1] == scenes.DET_TILE and train.shape[0] == val.shape[0] >= scenes.DET_TILE
        assert train.shape[1] + val.shape[1] == round(640 * 512 / 427)  # the enlarged photo, cut in two
    train_ids, val_ids = (set(map(bytes, digits.objects[s][0])) for s in ("train", "val"))
    assert len(train_ids) + len(val_ids) == 80 and not train_ids & val_ids  # disjoint digits


def test_a_digit_mask_is_its_strokes_not_its_hole():
    zero = np.zeros((8, 8))
    zero[1:7, 2:6] = 16
    zero[3:5, 3:5] = 0  # the hole of a 0
    item = np.asarray(Image.fromarray((zero * 255 / 16).astype(np.uint8)).resize((32, 32), Image.BILINEAR))
    mask = real.strokes(item.astype(np.float32))
    assert mask[4:28, 8:24].any() and not mask[15:17, 15:17].any()  # ink masked, the hole is background
    assert real.silhouette(item.astype(np.float32))[15:17, 15:17].all()  # the fashion rule would fill it

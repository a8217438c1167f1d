"""benchmarks/_real_data.py on tiny stand-ins of its two package files (a .deb with Fashion-MNIST idx files and
a scikit-image wheel with photos), written in tmp_path: the three layouts, and masks and boxes that follow
the pasted objects' own pixels."""

from __future__ import annotations

import gzip
import io
import json
import lzma
import struct
import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image

from benchmarks import _real_data as real


def idx(array: np.ndarray) -> bytes:
    magic = 0x0801 if array.ndim == 1 else 0x0803
    return gzip.compress(
        struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in array.shape) + array.tobytes()
    )


def fake_deb(path, per_class: int = 6) -> None:
    rng = np.random.default_rng(0)
    files = {}
    for part in ("train", "t10k"):
        labels = np.repeat(np.arange(10, dtype=np.uint8), per_class)
        images = np.zeros((len(labels), 28, 28), np.uint8)
        images[:, 6:22, 8:20] = rng.integers(60, 255, (len(labels), 16, 12))  # an object on black
        files[f"{part}-images-idx3-ubyte.gz"] = idx(images)
        files[f"{part}-labels-idx1-ubyte.gz"] = idx(labels)
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"./usr/share/datasets/fashion-mnist/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    members = [(b"debian-binary", b"2.0\n"), (b"data.tar.xz", lzma.compress(tar_bytes.getvalue()))]
    out = b"!<arch>\n"
    for name, data in members:
        out += (
            name.ljust(16)
            + b"0".ljust(12)
            + b"0".ljust(6) * 2
            + b"100644".ljust(8)
            + str(len(data)).encode().ljust(10)
            + b"`\n"
        )
        out += data + (b"\n" if len(data) % 2 else b"")
    path.write_bytes(out)


def fake_wheel(path) -> None:
    rng = np.random.default_rng(1)
    with zipfile.ZipFile(path, "w") as z:
        for name in real.BG_TRAIN + real.BG_VAL:
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)).save(buf, format="PNG")
            z.writestr(f"skimage/data/{name}", buf.getvalue())


@pytest.fixture
def prepared(tmp_path, monkeypatch):
    packages = tmp_path / "packages"
    packages.mkdir()
    fake_deb(packages / f"{real.DEB[0]}_{real.DEB[1]}_all.deb")
    fake_wheel(packages / f"scikit_image-{real.WHEEL[1]}-cp311-cp311-linux_x86_64.whl")
    monkeypatch.setattr(
        real,
        "SIZES",
        {"ids": {"train": 4, "val": 3}, "det": {"train": 6, "val": 3}, "seg": {"train": 6, "val": 3}},
    )
    real.prepare(packages, tmp_path / "real")
    return tmp_path / "real"


def test_layouts_and_source(prepared):
    source = json.loads((prepared / "source.json").read_text())
    assert source["debian"]["package"] == "dataset-fashion-mnist" and len(source["debian"]["sha256"]) == 64
    assert source["pypi"]["version"] == real.WHEEL[1]
    ids = prepared / "fashion_ids"
    assert sorted(p.name for p in (ids / "train").iterdir()) == sorted(real.CLASSES[c] for c in real.ID_TRAIN)
    assert sorted(p.name for p in (ids / "val").iterdir()) == sorted(real.CLASSES[c] for c in real.ID_VAL)
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
        image, semantic, boxes, kept = real.compose_scene(
            rng, bg, items, labels, 128, (28, 56), max_objects=4
        )
        assert image.shape == (128, 128, 3) and semantic.shape == (128, 128)
        assert set(np.unique(semantic)) <= {0, *(int(c) + 1 for c in kept)}
        for (x0, y0, x1, y1), c in zip(boxes, kept):
            ys, xs = np.nonzero(semantic[y0:y1, x0:x1] == c + 1)
            assert len(ys) and xs.min() == 0 and ys.min() == 0  # the box is tight on visible object pixels
        assert ((semantic > 0) == (image[..., 0] != 30)).mean() > 0.99  # masked = pasted pixels

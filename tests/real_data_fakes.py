"""Tiny stand-ins of the real-data package files (a .deb with Fashion-MNIST idx files, a scikit-image wheel
with photos, a scikit-learn wheel with digits.csv.gz and two photos) and both real sets prepared from them by
benchmarks/_real_data.py, in a test's folder."""

from __future__ import annotations

import gzip
import io
import lzma
import struct
import tarfile
import zipfile
from pathlib import Path

import numpy as np
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


def fake_sklearn_wheel(path, per_class: int = 8) -> None:
    """digits.csv.gz as the wheel has it (64 values 0..16 then the label, one digit a row) and two photos."""
    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(10), per_class)
    values = rng.integers(0, 17, (len(labels), 64))
    rows = "".join(",".join(map(str, [*v, c])) + "\n" for v, c in zip(values, labels))
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(real.DIGITS_CSV, gzip.compress(rows.encode()))
        for name in real.DIGIT_PHOTOS:
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (427, 640, 3), dtype=np.uint8)).save(buf, format="JPEG")
            z.writestr(f"sklearn/datasets/images/{name}", buf.getvalue())


TINY = {"ids": {"train": 4, "val": 3}, "det": {"train": 6, "val": 3}, "seg": {"train": 6, "val": 3}}


def prepare_fakes(folder: Path, monkeypatch) -> Path:
    """Both real sets, prepared from the stand-in package files written in `folder`; their root folder."""
    packages = folder / "packages"
    packages.mkdir()
    fake_deb(packages / f"{real.DEB[0]}_{real.DEB[1]}_all.deb")
    fake_wheel(packages / f"scikit_image-{real.WHEEL[1]}-cp311-cp311-linux_x86_64.whl")
    fake_sklearn_wheel(packages / f"scikit_learn-{real.SKLEARN[1]}-cp311-cp311-linux_x86_64.whl")
    monkeypatch.setattr(real, "SIZES", {"fashion": TINY, "digits": TINY})
    real.prepare(packages, folder / "real")
    return folder / "real"

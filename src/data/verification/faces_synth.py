"""`faces_synth`: synthetic face identities rendered in memory, seeded and deterministic.

Each identity is a fixed set of face-like parameters (face shape and skin tone, hair colour, style and
hair line, eye spacing/size/colour, eyebrows, nose, mouth, optional glasses or beard). Every image of an
identity renders that structure under a random pose (rotation, scale, shift, yaw), a directional
light with a random gain, a random background and pixel noise. Train, val and test identities come
from different seed streams, so the identities of the three splits are disjoint; the same `seed`
gives the same images. Rendering is vectorised in torch: thousands of images take well under a second.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from src.data.verification.pairs import PairSet, balanced_pairs
from src.errors import check

SPLIT_CODES = {"train": 0, "val": 1, "test": 2}

# Identity parameters: name -> (low, high) of a uniform draw. Colours are RGB in [0, 1].
RANGES = {
    "face_ax": (0.46, 0.64),
    "face_ay": (0.62, 0.82),
    "hair_line": (-0.62, -0.22),  # y of the hair line (top of the forehead); -1 = top of the image
    "hair_volume": (1.04, 1.25),  # the hair ellipse relative to the face ellipse
    "hair_side": (-0.2, 0.45),  # how far down the sides the hair reaches
    "eye_x": (0.16, 0.3),
    "eye_y": (-0.22, 0.0),
    "eye_r": (0.06, 0.11),
    "brow_gap": (0.1, 0.2),
    "brow_tilt": (-0.35, 0.35),
    "brow_thick": (0.025, 0.06),
    "nose_len": (0.14, 0.3),
    "nose_w": (0.035, 0.1),
    "mouth_y": (0.3, 0.52),
    "mouth_w": (0.13, 0.3),
    "mouth_h": (0.025, 0.07),
    "mouth_curve": (-0.35, 0.35),
}


def identity_table(seed: int, split: str, num_identities: int) -> dict[str, torch.Tensor]:
    """Parameters of identities 0..n-1 of a split, each from its own seeded generator."""
    rows = []
    for i in range(num_identities):
        rng = np.random.default_rng([seed, SPLIT_CODES[split], i])
        row = {k: rng.uniform(lo, hi) for k, (lo, hi) in RANGES.items()}
        row["skin"] = rng.uniform([0.45, 0.3, 0.2], [0.98, 0.82, 0.7])
        row["hair"] = rng.uniform(0.0, 0.9, 3) * rng.uniform(0.2, 1.0)
        row["iris"] = rng.uniform(0.0, 0.8, 3)
        row["lips"] = np.clip(
            row["skin"] * rng.uniform(0.5, 0.9) + rng.uniform([0.05, -0.1, -0.1], [0.35, 0.05, 0.1]), 0, 1
        )
        row["glasses"] = float(rng.random() < 0.3)
        row["beard"] = float(rng.random() < 0.25)
        rows.append(row)
    return {k: torch.tensor(np.array([r[k] for r in rows]), dtype=torch.float32) for k in rows[0]}


def _ramp(t: torch.Tensor) -> torch.Tensor:
    """A soft step 0 → 1 over t in [-0.5, 0.5] (anti-aliased edges; cheaper than a sigmoid)."""
    return (t + 0.5).clamp_(0, 1)


def _ellipse(u, v, cx, cy, ax, ay, sharp):
    """Soft inside-mask of an axis-aligned ellipse (1 inside, 0 outside, `sharp` = edge steepness)."""
    r = ((u - cx) / ax) ** 2 + ((v - cy) / ay) ** 2
    return _ramp((1 - r) * sharp)


def _paint(img, alpha, colour):
    """Composite `colour` (N×3) over `img` (N×3×H×W) with `alpha` (N×H×W)."""
    a = alpha.unsqueeze(1)
    return img * (1 - a) + colour.view(-1, 3, 1, 1) * a


def render_identities(params: dict[str, torch.Tensor], size: int) -> torch.Tensor:
    """The frontal face of every identity as RGBA float (N×4×size×size); alpha = hair ∪ face."""
    n = len(params["face_ax"])
    p = params
    col = lambda t: t.view(n, 1, 1)  # noqa: E731  (per-identity scalar → broadcastable over H×W)
    lin = torch.linspace(-1, 1, size)
    v, u = torch.meshgrid(lin, lin, indexing="ij")
    u, v = u.expand(n, size, size), v.expand(n, size, size)
    sharp = size / 4.0
    img = torch.zeros(n, 3, size, size)
    fax, fay = col(p["face_ax"]), col(p["face_ay"])
    hv = col(p["hair_volume"])
    hair_back = _ellipse(u, v, 0, -0.05, fax * hv, fay * hv, sharp) * _ramp((col(p["hair_side"]) - v) * sharp)
    img = _paint(img, hair_back, p["hair"])
    face = _ellipse(u, v, 0, 0, fax, fay, sharp)
    alpha = torch.maximum(hair_back, face)
    img = _paint(img, face, p["skin"])
    img = _paint(img, face * _ramp((col(p["hair_line"]) - v) * sharp), p["hair"])
    beard = face * _ramp((v - col(p["mouth_y"]) + 0.12) * sharp) * col(p["beard"])
    img = _paint(img, 0.85 * beard, p["hair"] * 0.8)
    ex, ey, er = col(p["eye_x"]), col(p["eye_y"]), col(p["eye_r"])
    for side in (-1.0, 1.0):
        cx = side * ex
        img = _paint(img, _ellipse(u, v, cx, ey, er * 1.4, er, sharp), torch.full((n, 3), 0.95))
        img = _paint(img, _ellipse(u, v, cx, ey, er * 0.65, er * 0.65, sharp), p["iris"])
        by = ey - col(p["brow_gap"]) - side * col(p["brow_tilt"]) * (u - cx)
        img = _paint(img, _ellipse(u, v, cx, by, er * 1.8, col(p["brow_thick"]), sharp), p["hair"] * 0.7)
        ring = _ellipse(u, v, cx, ey, er * 2.0, er * 1.7, sharp) * (
            1 - _ellipse(u, v, cx, ey, er * 1.7, er * 1.4, sharp)
        )
        img = _paint(img, ring * col(p["glasses"]), torch.full((n, 3), 0.1))
    nl, nw = col(p["nose_len"]), col(p["nose_w"])
    img = _paint(img, 0.7 * _ellipse(u, v, 0, ey + 0.08 + nl / 2, nw, nl / 2, sharp), p["skin"] * 0.7)
    my, mw, mh = col(p["mouth_y"]), col(p["mouth_w"]), col(p["mouth_h"])
    mouth_v = my - col(p["mouth_curve"]) * (1 - (u / mw) ** 2) * 0.1
    img = _paint(img, _ellipse(u, v, 0, mouth_v, mw, mh, sharp), p["lips"])
    return torch.cat([img, alpha.unsqueeze(1)], 1)


def render_views(
    faces: torch.Tensor,
    identities: torch.Tensor,
    generator: torch.Generator,
    pose: float = 1.0,
    lighting: float = 1.0,
    noise: float = 0.04,
) -> torch.Tensor:
    """Images (N×3×H×W uint8): one random view of `faces[identities]` (RGBA from render_identities) each.

    `pose`, `lighting` and `noise` scale the per-image variation (0 = none): rotation up to ±15°·pose,
    scale 1±0.1·pose, shift ±0.1·pose, yaw-like horizontal squeeze 1±0.1·pose; a light gradient up to
    0.5·lighting and a gain 1±0.25·lighting; a random striped background; Gaussian noise of std `noise`.
    """
    n, size = len(identities), faces.shape[-1]
    g = generator

    def rand(*shape, lo=-1.0, hi=1.0):
        return lo + (hi - lo) * torch.rand(*shape, generator=g)

    theta = rand(n) * math.radians(15) * pose
    scale = 1 + 0.1 * pose * rand(n)
    squeeze = 1 + 0.1 * pose * rand(n)
    cos, sin = torch.cos(theta) / scale, torch.sin(theta) / scale
    # affine_grid maps output pixels to input coordinates: the inverse of the view's rotation/scale/shift
    affine = torch.stack(
        [
            torch.stack([cos / squeeze, sin, 0.1 * pose * rand(n)], 1),
            torch.stack([-sin / squeeze, cos, 0.1 * pose * rand(n)], 1),
        ],
        1,
    )
    grid = torch.nn.functional.affine_grid(affine, [n, 4, size, size], align_corners=False)
    warped = torch.nn.functional.grid_sample(
        faces[identities], grid, align_corners=False, padding_mode="zeros"
    )
    lin = torch.linspace(-1, 1, size)
    y, x = torch.meshgrid(lin, lin, indexing="ij")
    col = lambda t: t.view(n, 1, 1, 1)  # noqa: E731
    freq, tilt, phase = col(rand(n, lo=2, hi=8)), col(rand(n)), col(rand(n, lo=0, hi=6.3))
    background = rand(n, 3, lo=0.05, hi=0.95).view(n, 3, 1, 1) + 0.08 * torch.sin(
        freq * (x + tilt * y) + phase
    )
    alpha = warped[:, 3:]
    img = background * (1 - alpha) + warped[:, :3]  # the face's RGB is already premultiplied by alpha
    phi = rand(n, lo=0, hi=2 * math.pi)
    strength = col(rand(n, lo=0, hi=0.5 * lighting))
    img = (
        img
        * (1 + strength * (x * col(torch.cos(phi)) + y * col(torch.sin(phi))))
        * col(1 + 0.25 * lighting * rand(n))
    )
    img = img + noise * torch.randn(img.shape, generator=g)
    return (img.clamp(0, 1) * 255).round().to(torch.uint8)


class FacesSynth:
    """Reader of synthetic identities: `dataset("train")` of (image, identity), `pairs(split)` of pairs.

    Validation and test images are pools of `eval_images_per_identity` images of each held-out
    identity; pairs are drawn from the pool, half same, half different, in 10 folds.
    """

    def __init__(
        self,
        num_train_identities: int,
        train_images_per_identity: int,
        num_val_identities: int,
        num_test_identities: int,
        eval_images_per_identity: int,
        num_val_pairs: int,
        num_test_pairs: int,
        image_size: int,
        pose: float,
        lighting: float,
        noise: float,
        seed: int,
    ):
        for key, value, low in (
            ("num_train_identities", num_train_identities, 2),
            ("train_images_per_identity", train_images_per_identity, 2),
            ("num_val_identities", num_val_identities, 2),
            ("num_test_identities", num_test_identities, 2),
            ("eval_images_per_identity", eval_images_per_identity, 2),
            ("num_val_pairs", num_val_pairs, 10),
            ("num_test_pairs", num_test_pairs, 10),
        ):
            check(isinstance(value, int) and value >= low, key, f"an integer >= {low}", value)
        check(
            isinstance(image_size, int) and 16 <= image_size <= 512,
            "image_size",
            "an integer in [16, 512]",
            image_size,
        )
        for key, value in (("pose", pose), ("lighting", lighting), ("noise", noise)):
            check(0 <= value <= 5, key, "a value in [0, 5]", value)
        self.identities = {
            "train": num_train_identities,
            "val": num_val_identities,
            "test": num_test_identities,
        }
        self.per_identity = {
            "train": train_images_per_identity,
            "val": eval_images_per_identity,
            "test": eval_images_per_identity,
        }
        self.num_pairs = {"val": num_val_pairs, "test": num_test_pairs}
        self.image_size, self.pose, self.lighting, self.noise, self.seed = (
            image_size,
            pose,
            lighting,
            noise,
            seed,
        )
        self.splits = ("train", "val", "test")
        self.crop = None  # rendered faces fill the image
        self._cache: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    @property
    def num_train_identities(self) -> int:
        return self.identities["train"]

    def images(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """All images of a split (N×3×H×W uint8) and their identity indices (N,), rendered once."""
        if split not in self._cache:
            n_id, k = self.identities[split], self.per_identity[split]
            faces = render_identities(identity_table(self.seed, split, n_id), self.image_size)
            labels = torch.arange(n_id).repeat_interleave(k)
            gen = torch.Generator().manual_seed(self.seed * 1000 + 17 + SPLIT_CODES[split])
            images = torch.cat(
                [
                    render_views(faces, chunk, gen, self.pose, self.lighting, self.noise)
                    for chunk in labels.split(1024)
                ]
            )
            self._cache[split] = (images, labels)
        return self._cache[split]

    def dataset(self, split: str) -> LabelledImages:
        images, labels = self.images(split)
        return LabelledImages(
            images, labels, names=[f"{split}_{i:04d}" for i in range(self.identities[split])]
        )

    def pairs(self, split: str) -> PairSet:
        images, labels = self.images(split)
        index = balanced_pairs(labels.numpy(), self.num_pairs[split], seed=self.seed + SPLIT_CODES[split])
        return PairSet(LabelledImages(images, labels), index)


class LabelledImages(torch.utils.data.Dataset):
    """In-memory images (N×3×H×W uint8) with integer identities; items are (tv Image, identity)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, names: list[str] | None = None):
        self.images, self.labels = images, labels.long()
        self.identity_names = names

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        from torchvision import tv_tensors

        return tv_tensors.Image(self.images[i]), int(self.labels[i])

    @property
    def targets(self) -> list[int]:
        return self.labels.tolist()

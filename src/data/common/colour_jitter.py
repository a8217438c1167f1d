"""Colour jitter and normalisation of a whole training batch at once, after it reaches the device.

Per-image `ColorJitter` in the loader workers was the costliest step of the verification and detection
pipelines on a 2-core machine (benchmarks/results/starvation.md); here it is a few tensor ops per batch in
the training process. Each image gets its own brightness, contrast, saturation and hue factors, drawn as
`v2.ColorJitter` draws them, from a generator seeded by (seed, epoch, batch index): a resumed run draws
the same factors. Hue turns the colours about the grey axis in YIQ space (a linear form of a hue shift).
"""

from __future__ import annotations

import math

import numpy as np
import torch

# RGB ↔ YIQ (NTSC)
_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_GREY = torch.tensor([0.299, 0.587, 0.114])


def batch_generator(seed: int, epoch: int, batch_index: int) -> torch.Generator:
    """A CPU generator that is a function of (seed, epoch, batch index) only."""
    state = np.random.SeedSequence([int(seed), int(epoch), int(batch_index)]).generate_state(1)[0]
    return torch.Generator().manual_seed(int(state))


def _uniform(n: int, low: float, high: float, gen: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=gen)


def hue_matrices(shift: torch.Tensor) -> torch.Tensor:
    """N×3×3 RGB→RGB matrices turning the hue by `shift` (fractions of a full turn)."""
    to_yiq = _TO_YIQ.to(shift.dtype)
    theta = shift * 2 * math.pi
    cos, sin = theta.cos(), theta.sin()
    rot = torch.zeros(len(shift), 3, 3, dtype=shift.dtype)
    rot[:, 0, 0] = 1
    rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = cos, -sin, sin, cos
    return torch.linalg.inv(to_yiq) @ rot @ to_yiq


def jitter_batch(
    images: torch.Tensor,
    strength: float,
    hue: float,
    mean,
    std,
    seed: int,
    epoch: int,
    batch_index: int,
) -> torch.Tensor:
    """N×3×H×W floats in [0, 1] → jittered (brightness, contrast, saturation ± `strength`, hue ± `hue`)
    and normalised with `mean`/`std` (None: left in [0, 1])."""
    n, dev, dt = len(images), images.device, images.dtype
    gen = batch_generator(seed, epoch, batch_index)
    # drawn on the CPU whatever the device, so the factors do not depend on the accelerator
    b, c, s = (_uniform(n, max(0.0, 1 - strength), 1 + strength, gen) for _ in range(3))
    h = _uniform(n, -hue, hue, gen)
    x = images
    if strength:
        grey = _GREY.to(dev, dt)

        def view(f):
            return f.to(dev, dt).view(n, 1, 1, 1)

        x = (x * view(b)).clamp(0, 1)
        luma = (x * grey.view(1, 3, 1, 1)).sum(1, keepdim=True)
        x = (view(c) * x + (1 - view(c)) * luma.mean((2, 3), keepdim=True)).clamp(0, 1)
        luma = (x * grey.view(1, 3, 1, 1)).sum(1, keepdim=True)
        x = (view(s) * x + (1 - view(s)) * luma).clamp(0, 1)
    if hue:
        x = torch.einsum("nij,njhw->nihw", hue_matrices(h.double()).to(dev, dt), x).clamp(0, 1)
    if mean is not None:
        x = (x - torch.tensor(mean, device=dev, dtype=dt).view(1, 3, 1, 1)) / torch.tensor(
            std, device=dev, dtype=dt
        ).view(1, 3, 1, 1)
    return x

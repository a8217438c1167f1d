"""k-means anchors over training box sizes with the 1 − IoU distance (YOLOv2, Redmon & Farhadi 2017)."""

from __future__ import annotations

import torch
from torchvision.ops import box_iou


def wh_to_centered(wh: torch.Tensor) -> torch.Tensor:
    """(w, h) rows → XYXY boxes centred at the origin, so box_iou compares shapes only."""
    half = wh / 2
    return torch.cat([-half, half], 1)


def shape_iou(wh_a: torch.Tensor, wh_b: torch.Tensor) -> torch.Tensor:
    """IoU of box shapes placed at a common centre: A×2, B×2 → A×B."""
    return box_iou(wh_to_centered(wh_a.float()), wh_to_centered(wh_b.float()))


def kmeans_anchors(wh: torch.Tensor, k: int, iters: int = 100, seed: int = 0) -> torch.Tensor:
    """`k` anchor shapes (k×2, sorted by area) clustering `wh` (N×2) with distance 1 − IoU.

    Centres start at k-means++ picks (by 1 − IoU) and move to the median of their members, which is
    robust to the long tail of box sizes. With fewer distinct boxes than `k`, shapes repeat.
    """
    wh = wh.float()
    wh = wh[(wh > 0).all(1)]
    if len(wh) == 0:
        raise ValueError("no boxes to compute anchors from")
    gen = torch.Generator().manual_seed(seed)
    centres = wh[torch.randint(len(wh), (1,), generator=gen)]
    while len(centres) < k:
        dist = (1 - shape_iou(wh, centres)).min(1).values
        if dist.sum() <= 0:
            centres = torch.cat([centres, centres[:1]])
            continue
        centres = torch.cat([centres, wh[torch.multinomial(dist**2, 1, generator=gen)]])
    for _ in range(iters):
        assign = shape_iou(wh, centres).argmax(1)
        new = torch.stack(
            [wh[assign == j].median(0).values if (assign == j).any() else centres[j] for j in range(k)]
        )
        if torch.allclose(new, centres):
            break
        centres = new
    return centres[(centres[:, 0] * centres[:, 1]).argsort()]


def mean_best_iou(wh: torch.Tensor, anchors: torch.Tensor) -> float:
    """Average over boxes of the IoU with their best anchor: how well the anchors fit the data."""
    return float(shape_iou(wh, anchors).max(1).values.mean())


def fit_anchors(datamodule, k: int) -> torch.Tensor | None:
    """k anchors (w, h input px) by k-means on the DataModule's training boxes (`train_box_sizes()`),
    logged with their mean best IoU; None when there are fewer than k boxes."""
    import logging

    wh = datamodule.train_box_sizes() if hasattr(datamodule, "train_box_sizes") else torch.zeros(0, 2)
    if len(wh) < k:
        return None
    anchors = kmeans_anchors(wh, k, seed=0)
    logging.getLogger("imagelab").info(
        "k-means anchors (w, h px): %s; mean best IoU %.3f",
        [[round(v, 1) for v in a] for a in anchors.tolist()],
        mean_best_iou(wh, anchors),
    )
    return anchors

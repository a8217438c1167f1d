"""Hadsell, Chopra & LeCun (2006) contrastive loss, exactly as published, with balanced pair selection.

    L(W, Y, a, b) = (1 − Y) · ½ · D² + Y · ½ · max(0, m − D)²      Y = 0 similar, Y = 1 dissimilar

Written by hand because pytorch-metric-learning's `ContrastiveLoss` is a different loss: hinge terms
`[D − m_pos]₊` and `[m_neg − D]₊` that are not squared, averaged over the non-zero terms only.
"""

from __future__ import annotations

import torch
from torch import nn

from src.losses.distances import distance


def hadsell_contrastive(d: torch.Tensor, same: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean over pairs of ½·D² (same) and ½·max(0, m − D)² (different); `d` are the pair distances."""
    same = same.to(d.dtype)
    per_pair = same * 0.5 * d.pow(2) + (1 - same) * 0.5 * (margin - d).clamp_min(0).pow(2)
    return per_pair.mean()


def balanced_pair_indices(
    labels: torch.Tensor, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(i, j, same) over a batch: every same-identity pair i<j and as many random different pairs.

    With P×K batches there are P·K(K−1)/2 positives and far more negatives; sampling the negatives
    down to the same count keeps the two terms balanced (Hadsell et al. train on balanced pairs).
    """
    n = len(labels)
    i, j = torch.triu_indices(n, n, offset=1, device=labels.device)
    same = labels[i] == labels[j]
    pos = torch.nonzero(same).flatten()
    neg = torch.nonzero(~same).flatten()
    if len(pos) and len(neg) > len(pos):
        pick = torch.randperm(len(neg), generator=generator, device="cpu")[: len(pos)].to(neg.device)
        neg = neg[pick]
    keep = torch.cat([pos, neg])
    return i[keep], j[keep], same[keep]


class HadsellContrastiveLoss(nn.Module):
    """Contrastive loss on the balanced pairs of a batch of embeddings with identity labels."""

    def __init__(self, margin: float = 1.0, metric: str = "euclidean"):
        super().__init__()
        self.margin, self.metric = margin, metric

    def pair_loss(self, a: torch.Tensor, b: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
        return hadsell_contrastive(distance(a, b, self.metric), same, self.margin)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        i, j, same = balanced_pair_indices(labels)
        if len(i) == 0:
            return embeddings.sum() * 0.0
        return self.pair_loss(embeddings[i], embeddings[j], same)

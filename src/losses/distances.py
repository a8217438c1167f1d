"""Distances between embeddings and the pair score (higher = same): the one definition the losses, the
metrics, the Siamese network and prediction use."""

from __future__ import annotations

import torch
from torch import nn

from src.errors import check_choice

DISTANCES = ("euclidean", "cosine")


def distance(a: torch.Tensor, b: torch.Tensor, metric: str) -> torch.Tensor:
    """Row-wise distance of N×D embeddings: euclidean ‖a−b‖₂, or cosine 1 − cos(a, b) (in [0, 2])."""
    if metric == "euclidean":
        return (a - b).pow(2).sum(-1).clamp_min(1e-12).sqrt()  # clamp: finite gradient at a == b
    return 1 - nn.functional.cosine_similarity(a, b, dim=-1)


def pairwise_distance(x: torch.Tensor, metric: str) -> torch.Tensor:
    """N×N distances between the rows of `x` (same definitions as `distance`)."""
    if metric == "euclidean":
        sq = (x.unsqueeze(1) - x.unsqueeze(0)).pow(2).sum(-1)
        return sq.clamp_min(1e-12).sqrt()
    xn = nn.functional.normalize(x, dim=-1)
    return 1 - xn @ xn.T


def pair_score(a: torch.Tensor, b: torch.Tensor, metric: str) -> torch.Tensor:
    """Verification score, higher = same: cosine similarity, or −euclidean distance."""
    if metric == "cosine":
        return nn.functional.cosine_similarity(a, b, dim=-1)
    return -distance(a, b, metric)


def check_distance(metric: str) -> None:
    check_choice(metric, "distance", DISTANCES)

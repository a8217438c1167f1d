"""The Siamese embedding network: encoder (shared backbone) → global pooling → reductor → embedding.

Both images of a pair go through the same weights; a pair's score is "higher = same": the cosine
similarity, or the negated euclidean distance (`src.losses.distances`: the one definition the losses,
the metrics and prediction use).
"""

from __future__ import annotations

import torch
from torch import nn

from src.errors import ConfigError, check


class Reductor(nn.Sequential):
    """Dense layers (Linear-BN-ReLU, optional dropout) to `embedding_size`; the last Linear is plain."""

    def __init__(self, in_features: int, dims: list[int], embedding_size: int, dropout: float):
        check(all(int(d) >= 1 for d in dims), "reductor.dims", "a list of positive layer widths", dims)
        check(
            isinstance(embedding_size, int) and embedding_size >= 2,
            "reductor.embedding_size",
            "an integer >= 2",
            embedding_size,
        )
        check(0 <= dropout < 1, "reductor.dropout", "a value in [0, 1)", dropout)
        layers: list[nn.Module] = []
        width = in_features
        for d in dims:
            layers += [nn.Linear(width, int(d), bias=False), nn.BatchNorm1d(int(d)), nn.ReLU(inplace=True)]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = int(d)
        layers.append(nn.Linear(width, embedding_size))
        super().__init__(*layers)


class SiameseNet(nn.Module):
    """images N×C×H×W → embeddings N×`embedding_size` (L2-normalised when `normalize`)."""

    def __init__(self, encoder: nn.Module, reductor: dict):
        super().__init__()
        self.encoder = encoder  # a backbone of src/models/backbones.py (model/encoder)
        red = dict(reductor)
        keys = {"dims", "embedding_size", "normalize", "dropout"}
        if set(red) != keys:
            unknown, missing = sorted(set(red) - keys), sorted(keys - set(red))
            raise ConfigError(
                "reductor", f"unknown key(s) {unknown}, missing key(s) {missing}; the keys: {sorted(keys)}"
            )
        self.normalize = bool(red.pop("normalize"))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reductor = Reductor(
            self.encoder.out_channels, list(red["dims"]), red["embedding_size"], red["dropout"]
        )
        self.embedding_size = red["embedding_size"]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.pool(self.encoder(images)).flatten(1)
        emb = self.reductor(features)
        return nn.functional.normalize(emb, dim=-1) if self.normalize else emb

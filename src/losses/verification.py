"""The verifier's losses by name (`model.loss.name`), each with its margin / temperature / scale as a key.

- `contrastive`: Hadsell et al. (2006), squared form, on balanced pairs (src/losses/contrastive.py);
- `triplet`: pytorch-metric-learning's TripletMarginLoss ``[d(a,p) − d(a,n) + m]₊``; mining `hard`
  = batch-hard (BatchHardMiner: hardest positive and negative per anchor, mean over anchors, as in
  Hermans et al. 2017), `all` = every valid triplet, mean over the non-zero ones ("batch-all"), or
  `multisimilarity` = the triplets of PML's MultiSimilarityMiner (pairs within `miner_epsilon` of the
  hardest opposite pair, Wang et al. 2019), mean over the non-zero ones;
- `arcface` / `cosface`: PML's ArcFaceLoss / CosFaceLoss; their class-centre matrix `W` is a
  parameter of this module, so it is trained with the network (the LightningModule holds the loss
  as a submodule, and the shared optimizer takes all of the module's parameters);
- `ntxent` / `supcon`: PML's NTXentLoss / SupConLoss with `temperature`, positives = same identity.

`margin: null` takes the loss's usual value (DEFAULT_MARGIN); arcface's margin is in radians (the
paper's m = 0.5), converted to the degrees PML expects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from src.losses.contrastive import HadsellContrastiveLoss
from src.models.siamese import DISTANCES, pairwise_distance
from src.utils.errors import ConfigError, check, check_choice

LOSSES = ("contrastive", "triplet", "arcface", "cosface", "ntxent", "supcon")
CLASSIFIER_LOSSES = ("arcface", "cosface")
MINING = ("hard", "all", "multisimilarity")
DEFAULT_MARGIN = {"contrastive": 1.0, "triplet": 0.2, "arcface": 0.5, "cosface": 0.35}
DEFAULT_SCALE = 30.0


@dataclass
class LossConfig:
    """The `model.loss` block."""

    name: str = "triplet"
    margin: float | None = None  # contrastive / triplet: distance margin; arcface: radians; cosface: cosine
    temperature: float = 0.1  # ntxent / supcon
    scale: float | None = None  # arcface / cosface logit scale s (null = 30)
    mining: str = "all"  # triplet: all (batch-all) | hard (batch-hard) | multisimilarity
    miner_epsilon: float = 0.1  # multisimilarity mining: how far past the hardest pair a pair is kept
    num_classes: int | None = None  # arcface / cosface: classes of W (null = the training identities)

    def __post_init__(self):
        check_choice(self.name, "loss.name", LOSSES)
        check_choice(self.mining, "loss.mining", MINING)
        if self.margin is None:
            self.margin = DEFAULT_MARGIN.get(self.name, 0.0)
        check(self.margin >= 0, "loss.margin", "a value >= 0", self.margin)
        if self.name == "arcface":
            check(
                self.margin < math.pi / 2,
                "loss.margin",
                "an angle in radians below π/2 (0.5 is usual)",
                self.margin,
            )
        check(self.miner_epsilon >= 0, "loss.miner_epsilon", "a value >= 0", self.miner_epsilon)
        check(self.temperature > 0, "loss.temperature", "a value > 0", self.temperature)
        self.scale = DEFAULT_SCALE if self.scale is None else self.scale
        check(self.scale > 0, "loss.scale", "a value > 0", self.scale)
        check(
            self.num_classes is None or self.num_classes >= 2,
            "loss.num_classes",
            "an integer >= 2 or null",
            self.num_classes,
        )


def pml_distance(metric: str):
    """PML's distance object for our metric; embeddings are used as given (the reductor normalises)."""
    from pytorch_metric_learning.distances import CosineSimilarity, LpDistance

    return CosineSimilarity() if metric == "cosine" else LpDistance(p=2, power=1, normalize_embeddings=False)


class VerificationLoss(nn.Module):
    """`forward(embeddings, labels) -> {"loss", "pos_dist", "neg_dist"}` for the configured loss."""

    def __init__(self, cfg: LossConfig, metric: str, embedding_size: int):
        super().__init__()
        check_choice(metric, "distance", DISTANCES)
        self.cfg, self.metric, self.embedding_size = cfg, metric, embedding_size
        self.num_classes: int | None = None
        self.fn: nn.Module | None = None
        self.miner = None
        if cfg.name in CLASSIFIER_LOSSES:
            if cfg.num_classes:
                self.set_num_classes(cfg.num_classes)
            return
        self.fn = self._build()

    @property
    def needs_classes(self) -> bool:
        return self.cfg.name in CLASSIFIER_LOSSES

    def _build(self) -> nn.Module:
        from pytorch_metric_learning import losses, miners, reducers

        cfg, dist = self.cfg, pml_distance(self.metric)
        if cfg.name == "contrastive":
            return HadsellContrastiveLoss(cfg.margin, self.metric)
        if cfg.name == "triplet":
            if cfg.mining == "hard":
                self.miner = miners.BatchHardMiner(distance=pml_distance(self.metric))
                return losses.TripletMarginLoss(
                    margin=cfg.margin, distance=dist, reducer=reducers.MeanReducer()
                )
            if cfg.mining == "multisimilarity":
                self.miner = miners.MultiSimilarityMiner(
                    epsilon=cfg.miner_epsilon, distance=pml_distance(self.metric)
                )
            return losses.TripletMarginLoss(margin=cfg.margin, distance=dist)  # AvgNonZeroReducer
        if cfg.name == "ntxent":
            return losses.NTXentLoss(temperature=cfg.temperature, distance=dist)
        if cfg.name == "supcon":
            return losses.SupConLoss(temperature=cfg.temperature, distance=dist)
        if cfg.name == "arcface":
            return losses.ArcFaceLoss(
                self.num_classes, self.embedding_size, margin=math.degrees(cfg.margin), scale=cfg.scale
            )
        return losses.CosFaceLoss(self.num_classes, self.embedding_size, margin=cfg.margin, scale=cfg.scale)

    def set_num_classes(self, num_classes: int) -> None:
        """Create the class-centre matrix of arcface/cosface (no-op when already of that size)."""
        if not self.needs_classes or self.num_classes == num_classes:
            return
        if self.cfg.num_classes and self.cfg.num_classes != num_classes:
            raise ConfigError(
                "loss.num_classes",
                f"is {self.cfg.num_classes} but the training data has {num_classes} identities",
            )
        check(num_classes >= 2, "loss.num_classes", "at least 2 training identities", num_classes)
        self.num_classes = num_classes
        self.fn = self._build()

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.fn is None:
            raise ConfigError(
                "loss.num_classes", f"{self.cfg.name} needs the number of training identities before training"
            )
        if self.needs_classes and int(labels.max()) >= self.num_classes:
            raise ConfigError(
                "loss.num_classes", f"is {self.num_classes} but a batch holds identity {int(labels.max())}"
            )
        if self.cfg.name == "contrastive":
            loss = self.fn(embeddings, labels)
        elif self.miner is not None:
            loss = self.fn(embeddings, labels, self.miner(embeddings, labels))
        else:
            loss = self.fn(embeddings, labels)
        out = {"loss": loss}
        with torch.no_grad():  # monitoring: mean distance of same / different pairs in the batch
            d = pairwise_distance(embeddings.detach().float(), self.metric)
            same = labels.unsqueeze(0) == labels.unsqueeze(1)
            off = ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
            if (same & off).any():
                out["pos_dist"] = d[same & off].mean()
            if (~same).any():
                out["neg_dist"] = d[~same].mean()
        return out

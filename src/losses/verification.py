"""The verifier's losses, one class per option of conf/model/loss/ (`model/loss=triplet`), each with only its own keys.

- `Contrastive`: Hadsell et al. (2006), squared form, on balanced pairs (src/losses/contrastive.py);
- `Triplet`: pytorch-metric-learning's TripletMarginLoss ``[d(a,p) − d(a,n) + m]₊``; mining `hard`
  = batch-hard (BatchHardMiner: hardest positive and negative per anchor, mean over anchors, as in
  Hermans et al. 2017), `all` = every valid triplet, mean over the non-zero ones ("batch-all"), or
  `multisimilarity` = the triplets of PML's MultiSimilarityMiner (pairs within `miner_epsilon` of the
  hardest opposite pair, Wang et al. 2019), mean over the non-zero ones;
- `ArcFace` / `CosFace`: PML's ArcFaceLoss / CosFaceLoss; their class-centre matrix `W` is a
  parameter of this module, so it is trained with the network (the LightningModule holds the loss
  as a submodule, and the shared optimizer takes all of the module's parameters);
- `NTXent` / `SupCon`: PML's NTXentLoss / SupConLoss with `temperature`, positives = same identity.

Each loss's usual margin / temperature / scale is the value in its YAML; arcface's margin is in radians
(the paper's m = 0.5), converted to the degrees PML expects. The verifier completes each partial loss
with its `distance` and `embedding_size`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from functools import partial

import torch
from torch import nn

from src.errors import ConfigError, check, check_choice
from src.losses.contrastive import HadsellContrastiveLoss
from src.losses.distances import DISTANCES, pairwise_distance

MINING = ("hard", "all", "multisimilarity")


def pml_distance(metric: str):
    """PML's distance object for our metric; embeddings are used as given (the reductor normalises)."""
    from pytorch_metric_learning.distances import CosineSimilarity, LpDistance

    return CosineSimilarity() if metric == "cosine" else LpDistance(p=2, power=1, normalize_embeddings=False)


class VerificationLoss(nn.Module, ABC):
    """`forward(embeddings, labels) -> {"loss", "pos_dist", "neg_dist"}`; subclasses define `loss`."""

    needs_classes = False  # arcface / cosface: class centres sized from the training identities

    def __init__(self, distance: str, embedding_size: int):
        super().__init__()
        check_choice(distance, "distance", DISTANCES)
        self.metric, self.embedding_size = distance, embedding_size

    @abstractmethod
    def loss(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor: ...

    def set_num_classes(self, num_classes: int) -> None:
        """Only the class-centre losses need the number of training identities."""

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {"loss": self.loss(embeddings, labels)}
        with torch.no_grad():  # monitoring: mean distance of same / different pairs in the batch
            d = pairwise_distance(embeddings.detach().float(), self.metric)
            same = labels.unsqueeze(0) == labels.unsqueeze(1)
            off = ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
            if (same & off).any():
                out["pos_dist"] = d[same & off].mean()
            if (~same).any():
                out["neg_dist"] = d[~same].mean()
        return out


class Contrastive(VerificationLoss):
    """Hadsell et al. (2006) on the balanced pairs of a batch; `margin` in distance units."""

    def __init__(self, distance: str, embedding_size: int, *, margin: float):
        super().__init__(distance, embedding_size)
        check(margin >= 0, "margin", "a value >= 0", margin)
        self.fn = HadsellContrastiveLoss(margin, distance)

    def loss(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.fn(embeddings, labels)


class Triplet(VerificationLoss):
    """Triplet margin loss over the batch's triplets chosen by `mining` (all | hard | multisimilarity)."""

    def __init__(
        self, distance: str, embedding_size: int, *, margin: float, mining: str, miner_epsilon: float
    ):
        super().__init__(distance, embedding_size)
        from pytorch_metric_learning import losses, miners, reducers

        check(margin >= 0, "margin", "a value >= 0", margin)
        check_choice(mining, "mining", MINING)
        check(miner_epsilon >= 0, "miner_epsilon", "a value >= 0", miner_epsilon)
        self.miner = None
        dist = pml_distance(distance)
        if mining == "hard":
            self.miner = miners.BatchHardMiner(distance=pml_distance(distance))
            self.fn = losses.TripletMarginLoss(margin=margin, distance=dist, reducer=reducers.MeanReducer())
            return
        if mining == "multisimilarity":
            self.miner = miners.MultiSimilarityMiner(epsilon=miner_epsilon, distance=pml_distance(distance))
        self.fn = losses.TripletMarginLoss(margin=margin, distance=dist)  # AvgNonZeroReducer

    def loss(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.miner is None:
            return self.fn(embeddings, labels)
        return self.fn(embeddings, labels, self.miner(embeddings, labels))


class NTXent(VerificationLoss):
    """NT-Xent (InfoNCE) with every same-identity pair as a positive."""

    def __init__(self, distance: str, embedding_size: int, *, temperature: float):
        super().__init__(distance, embedding_size)
        from pytorch_metric_learning import losses

        check(temperature > 0, "temperature", "a value > 0", temperature)
        self.fn = losses.NTXentLoss(temperature=temperature, distance=pml_distance(distance))

    def loss(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.fn(embeddings, labels)


class SupCon(NTXent):
    """Supervised contrastive loss (Khosla et al. 2020)."""

    def __init__(self, distance: str, embedding_size: int, *, temperature: float):
        super().__init__(distance, embedding_size, temperature=temperature)
        from pytorch_metric_learning import losses

        self.fn = losses.SupConLoss(temperature=temperature, distance=pml_distance(distance))


class ClassCentreLoss(VerificationLoss):
    """A classifier loss over learned class centres `fn.W`, created once the class count is known."""

    needs_classes = True

    def __init__(
        self,
        distance: str,
        embedding_size: int,
        *,
        margin: float,
        scale: float,
        num_classes: int | None,
        centre_init_std: float,
    ):
        super().__init__(distance, embedding_size)
        check(margin >= 0, "margin", "a value >= 0", margin)
        check(scale > 0, "scale", "a value > 0", scale)
        check(num_classes is None or num_classes >= 2, "num_classes", "an integer >= 2 or null", num_classes)
        check(centre_init_std > 0, "centre_init_std", "a value > 0", centre_init_std)
        self.margin, self.scale, self.configured_classes = margin, scale, num_classes
        # the centres are compared by angle only, so their initial length sets how fast a step of the
        # optimizer turns them (PML initialises N(0, 1); insightface N(0, 0.01))
        self.init_centres = partial(torch.nn.init.normal_, std=centre_init_std)
        self.num_classes: int | None = None
        self.fn: nn.Module | None = None
        if num_classes:
            self.set_num_classes(num_classes)

    @abstractmethod
    def build(self, num_classes: int) -> nn.Module: ...

    def set_num_classes(self, num_classes: int) -> None:
        """Create the class-centre matrix (no-op when already of that size)."""
        if self.num_classes == num_classes:
            return
        if self.configured_classes and self.configured_classes != num_classes:
            raise ConfigError(
                "num_classes",
                f"is {self.configured_classes} but the training data has {num_classes} identities",
            )
        check(num_classes >= 2, "num_classes", "at least 2 training identities", num_classes)
        self.num_classes = num_classes
        self.fn = self.build(num_classes)

    def loss(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.fn is None:
            raise ConfigError(
                "loss.num_classes",
                f"{type(self).__name__} needs the number of training identities before training",
            )
        if int(labels.max()) >= self.num_classes:
            raise ConfigError(
                "loss.num_classes", f"is {self.num_classes} but a batch holds identity {int(labels.max())}"
            )
        return self.fn(embeddings, labels)


class ArcFace(ClassCentreLoss):
    """Additive angular margin (Deng et al. 2019); `margin` in radians, below π/2."""

    def __init__(
        self,
        distance: str,
        embedding_size: int,
        *,
        margin: float,
        scale: float,
        num_classes: int | None,
        centre_init_std: float,
    ):
        check(margin < math.pi / 2, "margin", "an angle in radians below π/2 (0.5 is usual)", margin)
        super().__init__(
            distance,
            embedding_size,
            margin=margin,
            scale=scale,
            num_classes=num_classes,
            centre_init_std=centre_init_std,
        )

    def build(self, num_classes: int) -> nn.Module:
        from pytorch_metric_learning import losses

        return losses.ArcFaceLoss(
            num_classes,
            self.embedding_size,
            margin=math.degrees(self.margin),
            scale=self.scale,
            weight_init_func=self.init_centres,
        )


class CosFace(ClassCentreLoss):
    """Additive cosine margin (Wang et al. 2018)."""

    def build(self, num_classes: int) -> nn.Module:
        from pytorch_metric_learning import losses

        return losses.CosFaceLoss(
            num_classes,
            self.embedding_size,
            margin=self.margin,
            scale=self.scale,
            weight_init_func=self.init_centres,
        )

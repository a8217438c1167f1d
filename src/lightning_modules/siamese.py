"""Siamese face verifier: metric-learning losses, calibrated threshold, LFW-protocol metrics, plots.

Training: batches `(images, identities)` → embeddings → the configured loss (src/losses/verification.py).
Validation: pairs `(image_a, image_b, same, fold)` → scores (higher = same) → val/auroc, val/eer,
val/tar_far1e-2, val/tar_far1e-3 and val/acc at the accuracy-maximising threshold, which is stored
in the `threshold` buffer (so in every checkpoint) and used by `predict.py`.
Test: the same over all pairs, plus the LFW protocol: test/acc is the mean 10-fold accuracy (each
fold's threshold chosen on the other nine) and test/acc_std its spread; test/acc_val_threshold
applies the stored validation threshold unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from src.lightning_modules.base import TaskModule
from src.losses.distances import check_distance, pair_score
from src.losses.verification import VerificationLoss
from src.metrics.verification import accuracy, kfold_accuracy, roc_curve, verification_metrics
from src.models.backbones import Backbone
from src.models.siamese import SiameseNet
from src.runtime.config.instantiate import build_part


class Siamese(TaskModule):
    """`encoder`: a partial backbone of conf/model/encoder/ (small_cnn | timm) completed with `in_channels`;
    `reductor`: the dense layers to the embedding (src/models/siamese.py); `loss`: a partial loss of
    conf/model/loss/ completed here with `distance` and the embedding size. Every argument comes from
    conf/model/siamese.yaml (no defaults here, so Python and the command line build the same module)."""

    task = "verification"

    def __init__(
        self,
        *,
        encoder: Callable[..., Backbone],
        in_channels: int,
        freeze_pretrained_epochs: int,
        pretrained_lr_mult: float,
        reductor: dict,
        distance: str,
        loss: Callable[..., VerificationLoss],
        optim: Callable,
        schedule: Callable,
        monitor: str,
        plot_every_n_epochs: int | None,
        num_plot_images: int,
        plot_identities: int,
    ):
        super().__init__(
            optim=optim,
            schedule=schedule,
            monitor=monitor,
            plot_every_n_epochs=plot_every_n_epochs,
            num_plot_images=num_plot_images,
            freeze_pretrained_epochs=freeze_pretrained_epochs,
            pretrained_lr_mult=pretrained_lr_mult,
        )
        self.save_hparams(encoder=encoder, loss=loss, optim=optim, schedule=schedule)
        check_distance(distance)
        self.distance = distance
        self.net = SiameseNet(
            build_part("encoder", encoder, kind=Backbone, in_channels=in_channels), reductor
        )
        self.criterion = build_part(
            "loss", loss, kind=VerificationLoss, distance=distance, embedding_size=self.net.embedding_size
        )
        self.plot_identities = plot_identities
        # the decision threshold on scores, calibrated on validation pairs; saved with the weights
        self.register_buffer("threshold", torch.tensor(math.nan))
        self._outputs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)

    # ---- training -------------------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        dm = self._trainer.datamodule if self._trainer is not None else None
        if stage == "fit" and self.criterion.needs_classes and dm is not None:
            self.criterion.set_num_classes(dm.num_train_identities)
            self.criterion.to(self.device)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """Size arcface/cosface class centres from the checkpoint, so eval/predict need no training data."""
        weight = checkpoint.get("state_dict", {}).get("criterion.fn.W")
        if weight is not None and self.criterion.needs_classes:
            self.criterion.set_num_classes(int(weight.shape[1]))

    def compute_losses(self, batch) -> dict[str, torch.Tensor]:
        images, labels = batch
        return self.criterion(self(images), labels)

    def pretrained_part(self) -> torch.nn.Module:
        return self.net.encoder

    # ---- evaluation -------------------------------------------------------------------------------------
    def _eval_step(self, batch) -> None:
        a, b, same, fold = batch
        scores = pair_score(self(a), self(b), self.distance)
        self._outputs.append((scores.detach().float(), same.bool(), fold.long()))

    def validation_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch)

    def test_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch)

    def _gathered(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        scores, same, folds = (torch.cat(x) for x in zip(*self._outputs))
        self._outputs = []
        if self.trainer.world_size > 1:  # DDP: every rank scores its share of the pairs
            scores, same, folds = (self.all_gather(x).flatten() for x in (scores, same.long(), folds))
            same = same.bool()
        return scores.cpu(), same.cpu(), folds.cpu()

    def on_validation_epoch_end(self) -> None:
        if not self._outputs:
            return
        scores, same, folds = self._gathered()
        m = verification_metrics(scores, same)
        if not self.trainer.sanity_checking:
            self.threshold.fill_(m["threshold"])
        for key in ("auroc", "eer", "acc", "tar_far1e-2", "tar_far1e-3", "threshold"):
            self.log(f"val/{key}", m[key], prog_bar=key in ("auroc", "eer"))
        if self.should_plot():
            self._plots("val", scores, same, m)

    def on_test_epoch_end(self) -> None:
        if not self._outputs:
            return
        scores, same, folds = self._gathered()
        m = verification_metrics(scores, same)
        acc, acc_std, _ = (
            kfold_accuracy(scores, same, folds) if len(torch.unique(folds)) >= 2 else (m["acc"], 0.0, [])
        )
        self.log("test/acc", acc)
        self.log("test/acc_std", acc_std)
        for key in ("auroc", "eer", "tar_far1e-2", "tar_far1e-3"):
            self.log(f"test/{key}", m[key])
        stored = float(self.threshold)
        if math.isfinite(stored):
            self.log("test/acc_val_threshold", accuracy(scores, same, stored))
        if self.should_plot():
            self._plots(
                "test", scores, same, {**m, "threshold": stored if math.isfinite(stored) else m["threshold"]}
            )

    # ---- plots --------------------------------------------------------------------------------------------
    def _plots(self, stage: str, scores: torch.Tensor, same: torch.Tensor, m: dict) -> None:
        from src.outputs.verification_plots import embedding_projection, roc_figure, score_histograms

        far, tar, _ = roc_curve(scores, same)
        neg = scores[~same]
        threshold_far = float((neg >= m["threshold"]).double().mean()) if len(neg) else None
        self.save_figure(
            roc_figure(far, tar, m["auroc"], m["eer"], threshold_far, f"{stage} ROC"), f"{stage}_roc"
        )
        name = "cosine similarity" if self.distance == "cosine" else "−euclidean distance"
        self.save_figure(
            score_histograms(scores, same, m["threshold"], name, f"{stage} pair scores"), f"{stage}_scores"
        )
        dm = self._trainer.datamodule if self._trainer is not None else None
        if dm is not None and hasattr(dm, "gallery"):
            images, labels, names = dm.gallery(stage, self.plot_identities)
            if len(images) >= 2:
                emb = self.embed(images)
                self.save_figure(
                    embedding_projection(emb.numpy(), labels, names, f"{stage} embeddings (PCA)"),
                    f"{stage}_embeddings",
                )

    @torch.no_grad()
    def embed(self, images: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
        """Embeddings of normalised images (N×3×H×W) in eval mode, returned on the CPU."""
        was_training = self.training
        self.eval()
        out = torch.cat(
            [
                self(images[i : i + batch_size].to(self.device)).float().cpu()
                for i in range(0, len(images), batch_size)
            ]
        )
        self.train(was_training)
        return out

    # ---- prediction -----------------------------------------------------------------------------------
    def predict_step(self, batch, batch_idx: int) -> torch.Tensor:
        """Embeddings (N×D float, CPU) of a batch of images or of a PredictImages batch (dict)."""
        images = batch["image"] if isinstance(batch, dict) else batch
        images = images[0] if isinstance(images, list | tuple) else images
        return self(images).float().cpu()

"""Self-supervised pretraining of any encoder / backbone on unlabeled images (SimCLR-style).

Two augmented views of each image → encoder → pooled → projection MLP (the Siamese network's reductor:
src/models/siamese.py) → L2-normalised embeddings; the loss is a verification loss of conf/model/loss/
(NT-Xent by default) with each image as its own identity, so the other view is the one positive. The
checkpoint holds the encoder under `net.encoder.*`, as a Siamese run does: every model takes the run as
`weights:` (Siamese encoder, detector backbone, smp `tu-` encoder of the same timm model).
Logs `val/loss` and `val/pair_acc` (the share of views whose nearest other-view embedding in the same
validation batch is their pair); plots/val_views.png: similarities of the two views of one image vs of two.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from src.lightning_modules.base import TaskModule
from src.losses.verification import VerificationLoss
from src.models.backbones import Backbone
from src.models.siamese import SiameseNet
from src.runtime.config.instantiate import build_part


class Pretrainer(TaskModule):
    """`encoder`: a partial backbone of conf/model/encoder/ (small_cnn | timm); `projector`: the reductor
    keys (dims, embedding_size, normalize, dropout); `loss`: a partial of conf/model/loss/ (ntxent).
    Every argument comes from conf/model/pretrain.yaml."""

    task = "pretraining"

    def __init__(
        self,
        *,
        encoder: Callable[..., Backbone],
        in_channels: int,
        projector: dict,
        loss: Callable[..., VerificationLoss],
        optim: Callable,
        schedule: Callable,
        monitor: str,
        plot_every_n_epochs: int | None,
        num_plot_images: int,
        freeze_pretrained_epochs: int,
        pretrained_lr_mult: float,
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
        self.net = SiameseNet(
            build_part("encoder", encoder, kind=Backbone, in_channels=in_channels), projector
        )
        self.criterion = build_part(
            "loss", loss, kind=VerificationLoss, distance="cosine", embedding_size=self.net.embedding_size
        )
        self.distance = "cosine"  # prediction writes embeddings as the verifier does (no threshold)
        self.register_buffer("threshold", torch.tensor(math.nan), persistent=False)
        self._eval_sums = [0.0, 0.0, 0.0]  # loss × views, pairs found, views (this evaluation)
        self._similarities: list[tuple[torch.Tensor, torch.Tensor]] = []  # (view similarities, same image)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)

    def pretrained_part(self) -> torch.nn.Module:
        return self.net.encoder

    def compute_losses(self, batch) -> dict[str, torch.Tensor]:
        views_a, views_b = batch
        embeddings = self(torch.cat([views_a, views_b]))
        identity = torch.arange(len(views_a), device=embeddings.device)
        return self.criterion(embeddings, torch.cat([identity, identity]))

    # ---- evaluation: loss and pair retrieval on fixed views -----------------------------------------------
    def _eval_step(self, batch) -> None:
        views_a, views_b = batch
        with torch.no_grad():
            a, b = self(views_a), self(views_b)
            identity = torch.arange(len(a), device=a.device)
            loss = self.criterion(torch.cat([a, b]), torch.cat([identity, identity]))["loss"]
            similarity = F.normalize(a.float(), dim=-1) @ F.normalize(b.float(), dim=-1).T
            nearest = similarity.argmax(dim=1)
        same = torch.eye(len(a), dtype=torch.bool, device=a.device)
        self._similarities.append((similarity.flatten().cpu(), same.flatten().cpu()))
        self._eval_sums[0] += float(loss) * len(a)
        self._eval_sums[1] += float((nearest == identity).sum())
        self._eval_sums[2] += len(a)

    def validation_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch)

    def test_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch)

    def _log_eval(self, stage: str) -> None:
        (loss, hits, count), self._eval_sums = self._eval_sums, [0.0, 0.0, 0.0]
        pairs, self._similarities = self._similarities, []
        if count:
            self.log(f"{stage}/loss", loss / count, prog_bar=True, sync_dist=True)
            self.log(f"{stage}/pair_acc", hits / count, prog_bar=True, sync_dist=True)
        if pairs and self.should_plot():
            from src.outputs.verification_plots import score_histograms

            scores, same = (torch.cat(x).numpy() for x in zip(*pairs))
            title = f"{stage}: cosine similarity of the two views of an image vs of two images"
            self.save_figure(
                score_histograms(scores, same, None, "cosine similarity", title), f"{stage}_views"
            )

    def on_validation_epoch_end(self) -> None:
        self._log_eval("val")

    def on_test_epoch_end(self) -> None:
        self._log_eval("test")

    def predict_step(self, batch, batch_idx: int) -> torch.Tensor:
        """Embeddings (N×D float, CPU) of a batch of images."""
        images = batch["image"] if isinstance(batch, dict) else batch
        images = images[0] if isinstance(images, list | tuple) else images
        return self(images).float().cpu()

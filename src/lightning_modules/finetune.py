"""Fine-tuning controls every model has: the pretrained part (a model's `pretrained_part()`: the Siamese
encoder, the detector's backbone, the segmenter's encoder) frozen for the first `freeze_pretrained_epochs`
epochs, and its learning rate times `pretrained_lr_mult` (param groups in src/lightning_modules/optim.py).

Freezing uses Lightning's BaseFinetuning helpers (requires_grad off, BatchNorm running statistics not
updated); its param-group juggling is not used: the part's parameters are in the optimizer from the
start (their gradients are None while frozen, so the optimizer skips them: no update, no momentum, no
weight decay), so the schedule sees fixed groups and a resume at any epoch is exact (the state is a
function of the epoch). Parameters frozen for good (`freeze: true`) stay frozen.
"""

from __future__ import annotations

from lightning.pytorch.callbacks import BaseFinetuning
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from src.errors import check


class PretrainedFreeze:
    def __init__(self, freeze_pretrained_epochs: int, pretrained_lr_mult: float):
        check(
            isinstance(freeze_pretrained_epochs, int) and freeze_pretrained_epochs >= 0,
            "freeze_pretrained_epochs",
            "an integer >= 0 (epochs the pretrained part is frozen; 0 = never)",
            freeze_pretrained_epochs,
        )
        check(
            isinstance(pretrained_lr_mult, int | float) and pretrained_lr_mult >= 0,
            "pretrained_lr_mult",
            "a number >= 0 (the pretrained part's lr = lr × this)",
            pretrained_lr_mult,
        )
        self.epochs, self.lr_mult = freeze_pretrained_epochs, float(pretrained_lr_mult)
        self._trainable: list[nn.Parameter] | None = None  # what the part trains once unfrozen

    def apply(self, part: nn.Module | None, epoch: int) -> None:
        """At the start of each training epoch: frozen before epoch `epochs`, trainable from it on."""
        if part is None or self.epochs == 0:
            return
        if self._trainable is None:
            self._trainable = [p for p in part.parameters() if p.requires_grad]
        if epoch < self.epochs:
            BaseFinetuning.freeze(part, train_bn=False)
            return
        for p in self._trainable:
            p.requires_grad_(True)
        for module in part.modules():
            if isinstance(module, _BatchNorm):
                module.track_running_stats = True

"""One constructor for every segmentation network the config can name (own U-Net or smp backends)."""

from __future__ import annotations

from torch import nn

from src.models.unet import UNet
from src.utils.errors import check_choice

BACKENDS = ("own", "smp")


def build_segmentation_net(
    backend: str,
    num_classes: int,
    in_channels: int,
    depth: int,
    base_channels: int,
    norm: str,
    dropout: float,
    activation: str = "relu",
    **smp_keys,
) -> nn.Module:
    check_choice(backend, "backend", BACKENDS)
    if backend == "own":
        return UNet(in_channels, num_classes, depth, base_channels, norm, activation, dropout)
    from src.models.smp_nets import build_smp_net

    return build_smp_net(
        num_classes=num_classes, in_channels=in_channels, depth=depth, base_channels=base_channels, **smp_keys
    )

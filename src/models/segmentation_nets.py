"""One constructor for every segmentation network the config can name (own U-Net or smp backends)."""

from __future__ import annotations

from torch import nn

from src.models.unet import UNet
from src.utils.errors import ConfigError, check_choice

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
    """`own`: the lecture's U-Net (src/models/unet.py); `smp`: an smp architecture (src/models/smp_nets.py).

    Both map N×in_channels×H×W images (any H, W) to N×num_classes×H×W logits; `depth` and
    `base_channels` mean the same for both (levels, and the width of the finest level).
    """
    check_choice(backend, "backend", BACKENDS)
    if backend == "own":
        return UNet(in_channels, num_classes, depth, base_channels, norm, activation, dropout)
    from src.models.smp_nets import SMP_KEYS, build_smp_net

    unknown = sorted(set(smp_keys) - set(SMP_KEYS))
    if unknown:
        raise ConfigError(f"smp.{unknown[0]}", f"unknown key; allowed: {list(SMP_KEYS)}")
    if dropout:
        raise ConfigError(
            "dropout", "applies to the own U-Net only (backend=own); set it to 0 with backend=smp"
        )
    if activation != "relu":
        raise ConfigError("activation", "smp decoders use ReLU; other activations need backend=own")
    return build_smp_net(
        num_classes=num_classes,
        in_channels=in_channels,
        depth=depth,
        base_channels=base_channels,
        norm=norm,
        **smp_keys,
    )

"""segmentation-models-pytorch networks (`model/net=smp`, conf/model/net/smp.yaml).

`depth` becomes smp's `encoder_depth` and the decoder channels are derived from it and
`base_channels` (`base·2^(depth−1−i)`, deepest first: depth 5, base 16 → smp's default
(256, 128, 64, 32, 16)), so `model.net.depth=2,3,4` sweeps either network. Only architectures
taking `encoder_depth` and a per-level `decoder_channels` list qualify.

Encoder weights never come from smp's download: the net is always built with `encoder_weights=None`
and a local file (torchvision/timm state dict of the same encoder) is loaded into `net.encoder`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from src.errors import ConfigError, check, check_choice
from src.models.backbones import load_local_weights

# smp architectures with encoder_depth + a decoder_channels list (one entry per level), and their
# smallest depth (UnetPlusPlus needs two levels for its nested skips)
ARCHS = {"Unet": 1, "UnetPlusPlus": 2, "MAnet": 1}
MAX_DEPTH = 5  # smp encoders provide at most 5 feature levels (output stride 32)
NORMS = {"batch": "batchnorm", "instance": "instancenorm", "none": "identity"}


def decoder_channels(depth: int, base_channels: int) -> list[int]:
    """Decoder widths from the deepest level to the finest: base·2^(depth−1−i) for i in 0..depth−1."""
    return [base_channels * 2 ** (depth - 1 - i) for i in range(depth)]


class SmpSegmentationNet(nn.Module):
    """An smp model with zero-padding to its output stride (any input size works) and cropping back."""

    def __init__(self, net: nn.Module, multiple: int):
        super().__init__()
        self.net, self.multiple = net, multiple

    @property
    def encoder(self) -> nn.Module:
        return self.net.encoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        pad_h, pad_w = (-h) % self.multiple, (-w) % self.multiple
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        return self.net(x)[..., :h, :w]


def build_smp_net(
    num_classes: int,
    in_channels: int,
    depth: int,
    base_channels: int,
    arch: str,
    encoder_name: str,
    encoder_weights: str | None,
    norm: str,
) -> SmpSegmentationNet:
    """smp `arch` with `encoder_name`, `encoder_depth=depth`, decoder channels from `base_channels`.

    `encoder_weights`: null (random init) or a local weights file of the encoder (e.g. torchvision's
    resnet18 state dict); `norm`: the decoder's normalization (batch | instance | none).
    """
    import segmentation_models_pytorch as smp

    if arch not in ARCHS:
        raise ConfigError(
            "arch",
            f"unknown option {arch!r}; choose one of {list(ARCHS)} (the smp architectures taking "
            "encoder_depth and a per-level decoder_channels list, which depth and base_channels set)",
        )
    low = ARCHS[arch]
    check(
        isinstance(depth, int) and low <= depth <= MAX_DEPTH,
        "depth",
        f"an integer from {low} to {MAX_DEPTH} for smp {arch}",
        depth,
    )
    check(
        isinstance(base_channels, int) and base_channels >= 1,
        "base_channels",
        "an integer >= 1",
        base_channels,
    )
    check_choice(norm, "norm", NORMS)
    if encoder_name not in smp.encoders.get_encoder_names() and not encoder_name.startswith("tu-"):
        raise ConfigError(
            "encoder_name",
            f"unknown smp encoder {encoder_name!r}; see segmentation_models_pytorch.encoders.get_encoder_names() "
            "or use a timm model as 'tu-<timm name>'",
        )
    try:
        net = getattr(smp, arch)(
            encoder_name=encoder_name,
            encoder_depth=depth,
            encoder_weights=None,  # never smp's download; local weights are loaded below
            decoder_channels=decoder_channels(depth, base_channels),
            decoder_use_norm=NORMS[norm],
            in_channels=in_channels,
            classes=num_classes,
        )
    except (ValueError, KeyError, RuntimeError) as err:  # e.g. an encoder that cannot reach this depth
        raise ConfigError(
            "encoder_name", f"smp {arch}({encoder_name}, depth {depth}) cannot be built: {err}"
        ) from None
    if encoder_weights:
        load_local_weights(
            net.encoder,
            encoder_weights,
            key="encoder_weights",
            prefixes=("", "encoder.", "module.", "model."),
        )
    return SmpSegmentationNet(net, int(net.encoder.output_stride))

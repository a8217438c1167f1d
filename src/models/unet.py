"""The lecture's U-Net: conv blocks down, transposed-convolution up-sampling, skip concatenation.

Shapes: input N×C×H×W (any H, W: the input is zero-padded to a multiple of 2**depth and the logits
cropped back), output N×num_classes×H×W logits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from src.errors import ConfigError, check, check_choice

NORMS = ("batch", "group", "instance", "none")
ACTIVATIONS = {"relu": nn.ReLU, "silu": nn.SiLU, "gelu": nn.GELU, "leaky_relu": nn.LeakyReLU}


def norm_layer(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(min(8, channels), channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    return nn.Identity()


class ConvBlock(nn.Sequential):
    """Two 3×3 convolutions, each followed by normalization and activation; optional dropout."""

    def __init__(
        self, cin: int, cout: int, norm: str = "batch", activation: str = "relu", dropout: float = 0.0
    ):
        act = ACTIVATIONS[activation]
        bias = norm == "none"
        layers = [
            nn.Conv2d(cin, cout, 3, padding=1, bias=bias),
            norm_layer(norm, cout),
            act(inplace=True) if activation != "gelu" else act(),
            nn.Conv2d(cout, cout, 3, padding=1, bias=bias),
            norm_layer(norm, cout),
            act(inplace=True) if activation != "gelu" else act(),
        ]
        if dropout > 0:
            layers.append(nn.Dropout2d(dropout))
        super().__init__(*layers)


class UpStep(nn.Module):
    """Transposed convolution (×2) + activation, concatenation with the skip, then a ConvBlock."""

    def __init__(self, cin: int, cskip: int, cout: int, norm: str, activation: str, dropout: float):
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cout, kernel_size=2, stride=2)
        self.act = ACTIVATIONS[activation]()
        self.conv = ConvBlock(cout + cskip, cout, norm, activation, dropout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.act(self.up(x))
        return self.conv(torch.cat([x, skip], dim=1))


class UNet(nn.Module):
    """U-Net with `depth` down/up steps; channels double at each level from `base_channels`.

    The keys of conf/model/net/unet.yaml; `in_channels` and `num_classes` come from the segmenter;
    `weights`: null, a local file or one of our U-Net runs.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        depth: int,
        base_channels: int,
        norm: str,
        activation: str,
        dropout: float,
        weights: str | None,
    ):
        super().__init__()
        check(isinstance(depth, int) and 1 <= depth <= 8, "depth", "an integer from 1 to 8", depth)
        check(
            isinstance(base_channels, int) and base_channels >= 1,
            "base_channels",
            "an integer >= 1",
            base_channels,
        )
        check(
            isinstance(num_classes, int) and num_classes >= 1, "num_classes", "an integer >= 1", num_classes
        )
        check(0.0 <= dropout < 1.0, "dropout", "a probability in [0, 1)", dropout)
        check_choice(norm, "norm", NORMS)
        check_choice(activation, "activation", ACTIVATIONS)
        self.depth = depth
        widths = [base_channels * 2**i for i in range(depth + 1)]
        self.stem = ConvBlock(in_channels, widths[0], norm, activation)
        self.down = nn.ModuleList(
            nn.Sequential(
                nn.MaxPool2d(2),
                ConvBlock(widths[i], widths[i + 1], norm, activation, dropout if i == depth - 1 else 0.0),
            )
            for i in range(depth)
        )
        self.up = nn.ModuleList(
            UpStep(widths[i + 1], widths[i], widths[i], norm, activation, 0.0) for i in reversed(range(depth))
        )
        self.head = nn.Conv2d(widths[0], num_classes, kernel_size=1)
        self.load_weights(weights)

    @property
    def encoder(self) -> nn.ModuleList:
        """The contracting path (stem and down steps): what fine-tuning calls the pretrained part."""
        return nn.ModuleList([self.stem, self.down])

    def load_weights(self, weights: str | None) -> None:
        """A local state-dict file or one of our U-Net runs (the tensors that fit: another class count
        re-initialises only the last 1×1 convolution); U-Net weights have no pretrained names."""
        from src.models.backbones import load_local_weights
        from src.models.weights import load_from_run, weights_source

        source = weights_source(weights)
        if source.kind == "file":
            load_local_weights(self, source.value)
        elif source.kind == "run":
            load_from_run(self, source.value, "weights", "U-Net")
        elif source.kind == "name":
            raise ConfigError(
                "weights",
                f"{weights!r}: the U-Net has no pretrained names; give a U-Net run folder, a file or null",
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        multiple = 2**self.depth
        pad_h, pad_w = (-h) % multiple, (-w) % multiple
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        skips = [self.stem(x)]
        for down in self.down:
            skips.append(down(skips[-1]))
        x = skips.pop()
        for up in self.up:
            x = up(x, skips.pop())
        return self.head(x)[..., :h, :w]

"""Image backbones shared by the verifier and the detector, one class per option of `model/encoder`
(Siamese) and `model/head/backbone` (detector heads): `small_cnn` (from scratch) or `timm` (any timm model).

Each maps N×C×H×W images to a feature map N×F×H/s×W/s, with `out_channels` (F) and `stride` (s)
attributes; the network using it completes the partial with `in_channels`. Pretrained weights only ever
come from a local file (`weights=<path>`): nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from src.errors import ConfigError, check


class Backbone(nn.Module):
    """`body` maps images to features; `weights` (a local file) and `freeze` apply to every backbone."""

    out_channels: int
    stride: int

    def finish(self, weights: str | None, freeze: bool) -> None:
        if weights:
            load_local_weights(self, weights)
        if freeze:
            self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class SmallCNN(Backbone):
    """Conv-BN-SiLU stages, each halving the resolution: fast on CPU, trained from scratch."""

    def __init__(
        self,
        in_channels: int,
        widths: list[int],
        blocks_per_stage: int,
        weights: str | None,
        freeze: bool,
    ):
        super().__init__()
        check(
            len(widths) >= 1 and all(int(w) >= 1 for w in widths),
            "widths",
            "a non-empty list of positive ints",
            widths,
        )
        check(blocks_per_stage >= 1, "blocks_per_stage", "an integer >= 1", blocks_per_stage)
        layers, cin = [], in_channels
        for w in widths:
            layers += [
                nn.Conv2d(cin, w, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(w),
                nn.SiLU(inplace=True),
            ]
            for _ in range(blocks_per_stage):
                layers += [
                    nn.Conv2d(w, w, 3, padding=1, bias=False),
                    nn.BatchNorm2d(w),
                    nn.SiLU(inplace=True),
                ]
            cin = w
        self.body = nn.Sequential(*layers)
        self.out_channels = int(widths[-1])
        self.stride = 2 ** len(widths)
        self.finish(weights, freeze)


class TimmBackbone(Backbone):
    """The last feature map of a timm model (`features_only`), e.g. resnet18, efficientnet_b0."""

    def __init__(self, in_channels: int, name: str, weights: str | None, freeze: bool):
        super().__init__()
        import timm

        try:
            self.body = timm.create_model(
                name, pretrained=False, features_only=True, out_indices=(-1,), in_chans=in_channels
            )
        except RuntimeError as err:  # timm: "Unknown model (...)"
            raise ConfigError("name", f"{err}; see timm.list_models()") from None
        self.out_channels = int(self.body.feature_info.channels()[-1])
        self.stride = int(self.body.feature_info.reduction()[-1])
        self.finish(weights, freeze)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)[-1]


def read_state_dict(path: str | Path, key: str = "weights") -> dict[str, torch.Tensor]:
    """A state dict from a local .pt/.pth/.ckpt (weights_only) or .safetensors file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(
            key,
            f"weights file {path} not found. Pretrained weights are never downloaded: save them once, e.g. "
            "`torch.save(timm.create_model(NAME, pretrained=True).state_dict(), PATH)` on a machine with "
            "internet, and pass the path here (or null to train from scratch).",
        )
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    for nested in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and isinstance(state.get(nested), dict):
            state = state[nested]
    return state


def load_local_weights(
    module: nn.Module, path: str | Path, key: str = "weights", prefixes=("", "body.", "module.")
) -> int:
    """Load matching tensors from a local file into `module`; returns how many were loaded.

    Keys are matched after stripping common prefixes, so a plain timm/torchvision state dict loads into
    the wrapped backbone; classifier heads in the file are ignored. No match at all is an error.
    """
    state = read_state_dict(path, key)
    own = module.state_dict()
    loaded = {}
    for name, tensor in state.items():
        for prefix in prefixes:
            for candidate in (prefix + name, name.removeprefix(prefix)):
                if candidate in own and own[candidate].shape == tensor.shape:
                    loaded[candidate] = tensor
    if not loaded:
        raise ConfigError(key, f"no tensor in {path} matches the model's parameters (wrong architecture?)")
    module.load_state_dict(loaded, strict=False)
    return len(loaded)

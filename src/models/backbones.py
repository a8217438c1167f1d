"""Image backbones shared by the verifier and the detector, one class per option of `model/encoder`
(Siamese) and `model/head/backbone` (detector heads): `small_cnn` (from scratch) or `timm` (any timm model).

Each maps N×C×H×W images to a feature map N×F×H/s×W/s, with `out_channels` (F) and `stride` (s)
attributes; the network using it completes the partial with `in_channels`. `weights`: null, a local
file, one of our runs (its matching part), or for timm a pretrained name through timm's own loader and
the Hugging Face hub cache (src/models/weights.py; docs/weights.md).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from src.errors import ConfigError, check
from src.models.weights import (
    load_from_run,
    log_loaded,
    normalisation_of,
    short_list,
    timm_pretrained,
    weights_source,
)

log = logging.getLogger("imagelab")


class Backbone(nn.Module):
    """`body` maps images to features; `weights` (a file or a run) and `freeze` apply to every backbone.
    `normalisation`: the mean/std/input size its pretrained weights were trained with (empty: none)."""

    out_channels: int
    stride: int
    normalisation: dict = {}

    def finish(self, weights: str | None, freeze: bool, loaded_by_name: bool = False) -> None:
        source = weights_source(weights)
        if source.kind == "file":
            load_local_weights(self, source.value)
        elif source.kind == "run":
            load_from_run(self, source.value, "weights", type(self).__name__)
        elif source.kind == "name" and not loaded_by_name:
            raise ConfigError(
                "weights",
                f"{weights!r}: a {type(self).__name__} has no pretrained names; give a local file, one of "
                "our run folders (e.g. a pretraining run), or null",
            )
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

    def __init__(self, in_channels: int, name: str, weights: str | bool | None, freeze: bool):
        super().__init__()
        import timm

        by_name = weights_source(weights).kind == "name"
        try:
            if not timm.is_model(name):
                raise RuntimeError(f"Unknown model ({name})")
            if by_name:  # timm's own loader, from the hub cache file (downloaded first when allowed)
                tagged, file, cfg = timm_pretrained(name, str(weights), "weights")
                self.body = timm.create_model(
                    tagged,
                    pretrained=True,
                    pretrained_cfg_overlay=dict(file=file),
                    features_only=True,
                    out_indices=(-1,),
                    in_chans=in_channels,
                )
                log_loaded(f"timm {tagged}", self, file, prefix="body.")
                self.normalisation = normalisation_of(cfg)
            else:
                self.body = timm.create_model(
                    name, pretrained=False, features_only=True, out_indices=(-1,), in_chans=in_channels
                )
        except RuntimeError as err:  # timm: "Unknown model (...)"
            raise ConfigError("name", f"{err}; see timm.list_models()") from None
        self.out_channels = int(self.body.feature_info.channels()[-1])
        self.stride = int(self.body.feature_info.reduction()[-1])
        self.finish(weights, freeze, loaded_by_name=by_name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)[-1]


def read_state_dict(path: str | Path, key: str = "weights") -> dict[str, torch.Tensor]:
    """A state dict from a local .pt/.pth/.ckpt (weights_only) or .safetensors file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(key, f"weights file {path} not found (a local file, a run folder, a name or null)")
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
    fresh = [k for k in own if k not in loaded]
    log.info(
        "weights: %s: %d/%d tensors loaded from %s; re-initialised: %s",
        type(module).__name__,
        len(loaded),
        len(own),
        path,
        short_list(fresh),
    )
    return len(loaded)

"""segmentation-models-pytorch networks (`model/net=smp`, conf/model/net/smp.yaml).

`depth` becomes smp's `encoder_depth` and the decoder channels are derived from it and
`base_channels` (`base·2^(depth−1−i)`, deepest first: depth 5, base 16 → smp's default
(256, 128, 64, 32, 16)), so `model.net.depth=2,3,4` sweeps either network. Only architectures
taking `encoder_depth` and a per-level `decoder_channels` list qualify.

`encoder_weights`: null, a name smp lists for the encoder (`imagenet`, `ssl`, ...; for `tu-` encoders
`imagenet`/`pretrained` or a timm tag) loaded by smp's own loader from the Hugging Face hub cache (checked
first, downloaded only when not cached and not offline: src/models/weights.py), a local state-dict file
of the encoder, or one of our runs (the tensors that fit the encoder).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from src.errors import ConfigError, check, check_choice
from src.models.backbones import load_local_weights
from src.models.weights import (
    hub_file,
    load_from_run,
    log_loaded,
    normalisation_of,
    offline_hub,
    timm_pretrained,
    weights_source,
)

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

    def __init__(self, net: nn.Module, multiple: int, normalisation: dict):
        super().__init__()
        self.net, self.multiple = net, multiple
        self.normalisation = normalisation  # mean/std/input size of the encoder's pretrained weights

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
    encoder_weights: str | bool | None,
    norm: str,
) -> SmpSegmentationNet:
    """smp `arch` with `encoder_name`, `encoder_depth=depth`, decoder channels from `base_channels`.

    `encoder_weights`: null (random init), a weights name (smp's, or timm's for `tu-`), a local weights
    file of the encoder, or one of our runs (module docstring); `norm`: the decoder's normalization (batch | instance | none).
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
    source = weights_source(encoder_weights, "encoder_weights")
    by_name, file, normalisation = None, None, {}
    if source.kind == "name":
        encoder_name, by_name, file, normalisation = smp_pretrained(encoder_name, source.value)
    try:
        with offline_hub():  # the weights file is in the cache now: smp's loader reads it, no request
            net = getattr(smp, arch)(
                encoder_name=encoder_name,
                encoder_depth=depth,
                encoder_weights=by_name,
                decoder_channels=decoder_channels(depth, base_channels),
                decoder_use_norm=NORMS[norm],
                in_channels=in_channels,
                classes=num_classes,
            )
    except (ValueError, KeyError, RuntimeError) as err:  # e.g. an encoder that cannot reach this depth
        raise ConfigError(
            "encoder_name", f"smp {arch}({encoder_name}, depth {depth}) cannot be built: {err}"
        ) from None
    if file:
        prefix = "model." if encoder_name.startswith("tu-") else ""
        log_loaded(f"smp encoder {encoder_name} ({by_name})", net.encoder, file, prefix)
    elif source.kind == "file":
        load_local_weights(
            net.encoder,
            source.value,
            key="encoder_weights",
            prefixes=("", "encoder.", "module.", "model."),
        )
    elif source.kind == "run":
        load_from_run(net.encoder, source.value, "encoder_weights", f"smp encoder {encoder_name}")
    return SmpSegmentationNet(net, int(net.encoder.output_stride), normalisation)


def smp_pretrained(encoder_name: str, weights: str) -> tuple[str, str | bool, str, dict]:
    """(encoder name, smp's encoder_weights, cached weights file, normalisation) for a weights name: the
    file is looked up in the hub cache, else downloaded (unless offline), else one ConfigError line."""
    import json

    import segmentation_models_pytorch as smp

    key = "encoder_weights"
    if encoder_name.startswith("tu-"):  # smp's timm universal encoder: timm's weights by tag
        tagged, file, cfg = timm_pretrained(encoder_name[3:], weights, key)
        return f"tu-{tagged}", True, file, normalisation_of(cfg)
    if encoder_name not in smp.encoders.encoders:
        raise ConfigError(
            "encoder_name",
            f"unknown smp encoder {encoder_name!r}; see segmentation_models_pytorch.encoders.get_encoder_names()",
        )
    settings = smp.encoders.encoders[encoder_name]["pretrained_settings"]
    if weights in ("pretrained", "true", "True"):
        weights = "imagenet" if "imagenet" in settings else next(iter(settings), weights)
    if weights not in settings:
        raise ConfigError(
            key, f"smp lists no weights {weights!r} for {encoder_name}: choose one of {list(settings)}"
        )
    repo_id, revision = settings[weights]["repo_id"], settings[weights]["revision"]
    what = f"smp weights {encoder_name}.{weights}"
    file = hub_file(key, what, repo_id, ("model.safetensors",), revision)
    config = hub_file(key, what, repo_id, ("config.json",), revision)
    return encoder_name, weights, file, normalisation_of(json.loads(open(config).read()))

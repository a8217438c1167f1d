"""`weights: <run folder or .ckpt>` on an encoder, backbone or network loads the part of one of our
checkpoints that fits (names ending alike, shapes equal), says so in one log line, and refuses in one
line when nothing fits. The checkpoints are the state dicts of modules built from the configs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from src.errors import ConfigError
from src.runtime.config.instantiate import build
from tests.conftest import make_cfg


def save_run(folder: Path, module: torch.nn.Module) -> Path:
    """A run folder with checkpoints/last.ckpt holding `module`'s state dict (as Lightning saves it)."""
    (folder / "checkpoints").mkdir(parents=True)
    torch.save({"state_dict": module.state_dict(), "epoch": 0}, folder / "checkpoints" / "last.ckpt")
    return folder


def test_siamese_encoder_into_a_detector_backbone(tmp_path, caplog):
    siamese = build(make_cfg(tmp_path, ["model=siamese"]).model, "model")
    run = save_run(tmp_path / "siamese_run", siamese)
    cfg = make_cfg(tmp_path, ["model=yolo", f"model.head.backbone.weights={run}"])
    with caplog.at_level(logging.INFO, logger="imagelab"):
        detector = build(cfg.model, "model")
    source = siamese.net.encoder.state_dict()
    loaded = detector.head.net.backbone.state_dict()
    assert loaded.keys() == source.keys()
    assert all(torch.equal(v, source[k]) for k, v in loaded.items())
    assert f"{len(source)}/{len(source)} tensors loaded from {run}/checkpoints/last.ckpt" in caplog.text


def test_siamese_timm_encoder_into_an_smp_tu_encoder(tmp_path):
    siamese = build(
        make_cfg(tmp_path, ["model=siamese", "model/encoder=timm", "model.encoder.name=test_resnet"]).model,
        "model",
    )
    ckpt = save_run(tmp_path / "run", siamese) / "checkpoints" / "last.ckpt"
    cfg = make_cfg(
        tmp_path,
        [
            "model=unet",
            "model/net=smp",
            "model.net.depth=3",
            "model.net.encoder_name=tu-test_resnet",
            f"model.net.encoder_weights={ckpt}",
        ],
    )
    encoder = build(cfg.model, "model").net.encoder.model.state_dict()
    source = siamese.net.encoder.body.state_dict()
    shared = [k for k in encoder if k in source]
    assert len(shared) >= 0.9 * len(encoder)
    assert all(torch.equal(encoder[k], source[k]) for k in shared)


def test_unet_from_a_unet_run_with_another_class_count(tmp_path, caplog):
    base = ["model=unet", "model.net.depth=2"]
    first = build(make_cfg(tmp_path, base).model, "model")
    run = save_run(tmp_path / "unet_run", first)
    cfg = make_cfg(
        tmp_path, [*base, "data.num_classes=6", "data.reader.num_shapes=5", f"model.net.weights={run}"]
    )
    with caplog.at_level(logging.INFO, logger="imagelab"):
        second = build(cfg.model, "model")
    before, after = first.net.state_dict(), second.net.state_dict()
    assert all(torch.equal(after[k], before[k]) for k in after if not k.startswith("head."))
    assert after["head.weight"].shape[0] == 6
    assert (
        "re-initialised: head.weight, head.bias" in caplog.text
        and "skipped (shape): net.head.weight [4, 8, 1, 1]" in caplog.text
    )


def test_nothing_that_fits_is_one_line(tmp_path):
    siamese = build(make_cfg(tmp_path, ["model=siamese"]).model, "model")
    run = save_run(tmp_path / "siamese_run", siamese)
    cfg = make_cfg(tmp_path, ["model=unet", f"model.net.weights={run}"])
    with pytest.raises(ConfigError, match="no tensor of .* fits the U-Net") as err:
        build(cfg.model, "model")
    assert err.value.key == "model.net.weights" and "\n" not in str(err.value)


def test_a_folder_without_checkpoints_is_one_line(tmp_path):
    cfg = make_cfg(tmp_path, ["model=siamese", f"model.encoder.weights={tmp_path}"])
    with pytest.raises(ConfigError, match="without checkpoints/last.ckpt") as err:
        build(cfg.model, "model")
    assert err.value.key == "model.encoder.weights"

"""The segmentation networks (conf/model/net/ unet and smp): shapes, depth, config errors, local encoder weights."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from src.errors import ConfigError
from src.models.smp_nets import build_smp_net, decoder_channels
from src.models.unet import UNet
from src.runtime.config.config_check import validate
from src.runtime.config.instantiate import build
from tests.conftest import make_cfg

UNET = {"norm": "batch", "activation": "relu", "dropout": 0.0, "weights": None}
SMP = {"arch": "Unet", "encoder_name": "resnet18", "encoder_weights": None, "norm": "batch"}


def smp_net(num_classes=3, in_channels=3, depth=2, base_channels=8, **keys):
    return build_smp_net(num_classes, in_channels, depth, base_channels, **{**SMP, **keys})


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
def test_own_unet_keeps_any_input_size(depth):
    net = UNet(in_channels=3, num_classes=4, depth=depth, base_channels=4, **UNET).eval()
    for h, w in ((33, 47), (64, 64), (17, 90)):
        assert net(torch.randn(2, 3, h, w)).shape == (2, 4, h, w)
    assert len(net.down) == depth and len(net.up) == depth


def test_own_unet_decoder_steps_are_transposed_convolutions_with_skips():
    net = UNet(3, 2, depth=3, base_channels=8, **UNET)
    ups = [step.up for step in net.up]
    assert all(isinstance(up, nn.ConvTranspose2d) and up.stride == (2, 2) for up in ups)
    # after up-sampling, the block reduces (up channels + skip channels) to the level's width
    first_conv = net.up[0].conv[0]
    assert first_conv.in_channels == 32 + 32 and first_conv.out_channels == 32
    assert net.head.out_channels == 2 and net.head.kernel_size == (1, 1)


@pytest.mark.parametrize("norm", ["batch", "group", "instance", "none"])
def test_own_unet_norms_and_dropout(norm):
    net = UNet(1, 3, depth=2, base_channels=8, norm=norm, activation="relu", dropout=0.2, weights=None)
    assert net(torch.randn(2, 1, 20, 20)).shape == (2, 3, 20, 20)


def test_depth_zero_names_model_net_depth(tmp_path):
    cfg = make_cfg(tmp_path, ["model=unet", "model.net.depth=0"])
    with pytest.raises(ConfigError) as err:
        build(cfg.model, "model")
    assert err.value.key == "model.net.depth" and "1 to 8" in str(err.value)


def test_each_network_takes_only_its_own_keys(tmp_path):
    with pytest.raises(ConfigError) as err:
        build(make_cfg(tmp_path, ["model=unet", "model/net=smp", "model.net.arch=FPN"]).model, "model")
    assert err.value.key == "model.net.arch" and "UnetPlusPlus" in str(err.value)
    for extra in ("+model.net.colour=red", "+model.net.dropout=0.1"):  # dropout: the own U-Net's key only
        with pytest.raises(ConfigError) as err:
            validate(make_cfg(tmp_path, ["model=unet", "model/net=smp", extra]))
        assert err.value.key == extra[1:].split("=")[0] and "build_smp_net" in str(err.value)
    with pytest.raises(ConfigError, match="model.net.arch"):
        validate(make_cfg(tmp_path, ["model=unet", "+model.net.arch=Unet"]))
    with pytest.raises(ConfigError, match="model.net: .*depth"):  # no default outside the YAML
        build(make_cfg(tmp_path, ["model=unet", "~model.net.depth"]).model, "model")


@pytest.mark.parametrize("net", ["unet", "smp"])
def test_depth_sweeps_either_network(tmp_path, net):
    for depth in (2, 3):
        module = build(
            make_cfg(tmp_path, ["model=unet", f"model/net={net}", f"model.net.depth={depth}"]).model, "model"
        )
        levels = len(module.net.down) if net == "unet" else len(module.net.net.decoder.blocks)
        assert levels == depth


def test_smp_decoder_channels_follow_depth():
    assert decoder_channels(5, 16) == [256, 128, 64, 32, 16]  # smp's own default
    assert decoder_channels(3, 8) == [32, 16, 8]
    for depth in (1, 3, 5):
        net = smp_net(depth=depth)
        blocks = net.net.decoder.blocks
        assert len(blocks) == depth
        assert [b.conv2[0].out_channels for b in blocks] == decoder_channels(depth, 8)
        assert net.encoder.output_stride == 2**depth


@pytest.mark.parametrize("arch", ["Unet", "UnetPlusPlus", "MAnet"])
def test_smp_backends_forward_on_odd_sizes(arch):
    net = smp_net(arch=arch).eval()
    assert net(torch.randn(1, 3, 30, 45)).shape == (1, 3, 30, 45)


def test_smp_depth_out_of_range_names_the_key():
    with pytest.raises(ConfigError) as err:
        smp_net(depth=6)
    assert err.value.key == "depth"
    with pytest.raises(ConfigError, match="depth"):
        smp_net(depth=1, arch="UnetPlusPlus")


def test_smp_encoder_weights_missing_file_is_a_clear_error(tmp_path):
    cfg = make_cfg(
        tmp_path, ["model=unet", "model/net=smp", f"model.net.encoder_weights={tmp_path}/nope.pth"]
    )
    with pytest.raises(ConfigError) as err:
        build(cfg.model, "model")
    assert err.value.key == "model.net.encoder_weights"
    assert "nope.pth" in str(err.value) and "no file or run folder" in str(err.value)


def test_smp_encoder_weights_load_from_a_local_torchvision_state_dict(tmp_path):
    import torchvision

    source = torchvision.models.resnet18(num_classes=10)
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)  # includes fc.*, which the encoder does not have
    net = smp_net(depth=3, encoder_weights=str(path))
    torch.testing.assert_close(net.encoder.conv1.weight, source.conv1.weight)
    torch.testing.assert_close(net.encoder.layer2[0].bn1.running_var, source.layer2[0].bn1.running_var)


def test_smp_encoder_weights_of_another_architecture_are_refused(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"foo.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(ConfigError, match="encoder_weights"):
        smp_net(depth=3, encoder_weights=str(path))

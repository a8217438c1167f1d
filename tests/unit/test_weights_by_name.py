"""Weights by name through each library's own loader and cache, offline: the test writes a tiny model's
weights into a Hugging Face hub cache of the real layout (models--<org>--<name>/snapshots/<rev>/ +
refs/main) or into ultralytics' weights folder, and checks that the loaded tensors are those; a name
that is not cached is one ConfigError line naming the key, the cache folder and the fetch command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from src.errors import ConfigError
from src.runtime.config.instantiate import build
from tests.conftest import make_cfg

REVISION = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def hub(tmp_path, monkeypatch) -> Path:
    """An empty hub cache under tmp_path/hf (HF_HOME), huggingface_hub offline (HF_HUB_OFFLINE=1)."""
    from huggingface_hub import constants

    cache = tmp_path / "hf" / "hub"
    cache.mkdir(parents=True)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # huggingface_hub reads the environment once, at import: the same values in its constants
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


def cache_repo(hub: Path, repo_id: str, files: dict, revision: str = REVISION) -> None:
    """Write `files` ({name: state dict or dict for json}) as the cached snapshot of `repo_id`."""
    repo = hub / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    for name, content in files.items():
        if name.endswith(".safetensors"):
            save_file({k: v.contiguous() for k, v in content.items()}, snapshot / name)
        else:
            (snapshot / name).write_text(json.dumps(content))


def tiny_timm_weights(hub: Path) -> dict[str, torch.Tensor]:
    import timm

    state = timm.create_model("test_resnet", pretrained=False).state_dict()
    cache_repo(hub, "timm/test_resnet.r160_in1k", {"model.safetensors": state})
    return state


SIAMESE_TIMM = ["model=siamese", "model/encoder=timm", "model.encoder.name=test_resnet"]


@pytest.mark.parametrize("weights", ["pretrained", "true", "r160_in1k", "test_resnet.r160_in1k"])
def test_timm_encoder_by_name_loads_the_cached_tensors(tmp_path, hub, weights):
    saved = tiny_timm_weights(hub)
    cfg = make_cfg(tmp_path, [*SIAMESE_TIMM, f"model.encoder.weights={weights}"])
    body = build(cfg.model, "model").net.encoder.body
    loaded = body.state_dict()
    assert loaded and all(torch.equal(v, saved[k]) for k, v in loaded.items())
    assert build(cfg.model, "model").net.encoder.normalisation["mean"] == [0.5, 0.5, 0.5]


def test_detector_backbone_by_name_and_the_data_takes_its_normalisation(tmp_path, hub):
    from src.pipeline import build_data, use_weights_normalisation

    saved = tiny_timm_weights(hub)
    cfg = make_cfg(
        tmp_path,
        [
            "model=yolo",
            "model/head/backbone=timm",
            "model.head.backbone.name=test_resnet",
            "model.head.backbone.weights=pretrained",
            "data.num_workers=0",
        ],
    )
    datamodule = build_data(cfg)
    model = build(cfg.model, "model")
    loaded = model.head.net.backbone.body.state_dict()
    assert all(torch.equal(v, saved[k]) for k, v in loaded.items())
    use_weights_normalisation(cfg, datamodule, model)
    assert datamodule.mean == [0.5, 0.5, 0.5] and datamodule.std == [0.5, 0.5, 0.5]


def test_timm_name_not_cached_is_one_line(tmp_path, hub):
    cfg = make_cfg(tmp_path, ["model=siamese", "model/encoder=timm", "model.encoder.weights=pretrained"])
    with pytest.raises(ConfigError) as err:
        build(cfg.model, "model")
    message = str(err.value)
    assert err.value.key == "model.encoder.weights" and "\n" not in message
    assert str(hub) in message and "hf download timm/resnet18.a1_in1k" in message
    assert "HF_HUB_OFFLINE" in message


def test_timm_unknown_tag_lists_the_tags(tmp_path, hub):
    cfg = make_cfg(tmp_path, [*SIAMESE_TIMM, "model.encoder.weights=nope_tag"])
    with pytest.raises(ConfigError, match="r160_in1k") as err:
        build(cfg.model, "model")
    assert err.value.key == "model.encoder.weights"


def test_small_cnn_has_no_names(tmp_path):
    cfg = make_cfg(tmp_path, ["model=siamese", "model.encoder.weights=pretrained"])
    with pytest.raises(ConfigError, match="no pretrained names"):
        build(cfg.model, "model")


def smp_weights(hub: Path, encoder: str, name: str) -> dict[str, torch.Tensor]:
    import segmentation_models_pytorch as smp

    settings = smp.encoders.encoders[encoder]["pretrained_settings"][name]
    state = smp.encoders.get_encoder(encoder, weights=None).state_dict()
    files = {"model.safetensors": state, "config.json": {"mean": [0.4] * 3, "std": [0.2] * 3}}
    cache_repo(hub, settings["repo_id"], files, settings["revision"])
    return state


SMP = ["model=unet", "model/net=smp", "model.net.depth=3"]


def test_smp_encoder_weights_by_name_through_smps_loader(tmp_path, hub):
    saved = smp_weights(hub, "resnet18", "imagenet")
    cfg = make_cfg(tmp_path, [*SMP, "model.net.encoder_weights=imagenet"])
    net = build(cfg.model, "model").net
    loaded = net.encoder.state_dict()
    assert all(torch.equal(v, saved[k]) for k, v in loaded.items())
    assert net.normalisation == {"mean": [0.4] * 3, "std": [0.2] * 3}


def test_smp_timm_universal_encoder_by_name(tmp_path, hub):
    saved = tiny_timm_weights(hub)
    cfg = make_cfg(
        tmp_path, [*SMP, "model.net.encoder_name=tu-test_resnet", "model.net.encoder_weights=imagenet"]
    )
    loaded = build(cfg.model, "model").net.encoder.model.state_dict()
    assert loaded and all(torch.equal(v, saved[k]) for k, v in loaded.items())


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        (["model.net.encoder_weights=imagenet"], ["hf download smp-hub/resnet18.imagenet"]),
        (["model.net.encoder_weights=nope"], ["smp lists no weights 'nope'", "imagenet"]),
        (
            ["model.net.encoder_name=tu-resnet18", "model.net.encoder_weights=imagenet"],
            ["hf download timm/resnet18.a1_in1k"],
        ),
    ],
)
def test_smp_name_not_cached_is_one_line(tmp_path, hub, overrides, fragments):
    cfg = make_cfg(tmp_path, [*SMP, *overrides])
    with pytest.raises(ConfigError) as err:
        build(cfg.model, "model")
    assert err.value.key == "model.net.encoder_weights" and "\n" not in str(err.value)
    assert all(f in str(err.value) for f in fragments)


@pytest.fixture
def weights_dir(tmp_path, monkeypatch) -> Path:
    """ultralytics' weights folder (its settings' weights_dir) in tmp_path; its download made impossible."""
    pytest.importorskip("ultralytics")
    from src.models import yolo11 as y11

    y11.ultralytics()
    from ultralytics.utils import SETTINGS

    folder = tmp_path / "ultralytics_weights"
    folder.mkdir()
    monkeypatch.setitem(SETTINGS, "weights_dir", str(folder))
    monkeypatch.setattr(y11, "hub_unreachable", lambda **_: "github.com unreachable (test: offline)")
    return folder


YOLO11 = ["model=yolo11", "data.num_workers=0", "cpu_threads=1"]


def test_ultralytics_asset_name_from_its_weights_folder(tmp_path, weights_dir):
    from src.models import yolo11 as y11

    cfg = make_cfg(tmp_path, [*YOLO11, "model.head.weights=yolo11n.pt"])
    net = y11.build_network(cfg.data.num_classes, "n", None, {"box": 7.5, "cls": 0.5, "dfl": 1.5})
    torch.save({"model": net, "ema": None}, weights_dir / "yolo11n.pt")
    loaded = build(cfg.model, "model").head.net.state_dict()
    saved = net.state_dict()
    assert all(torch.equal(v.float(), saved[k].float()) for k, v in loaded.items())


def test_ultralytics_asset_not_there_is_one_line(tmp_path, weights_dir):
    cfg = make_cfg(tmp_path, [*YOLO11, "model.head.weights=yolo11n.pt"])
    with pytest.raises(ConfigError) as err:
        build(cfg.model, "model")
    message = str(err.value)
    assert err.value.key == "model.head.weights" and "\n" not in message
    assert str(weights_dir) in message and "cannot be downloaded" in message


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (
            [
                "model=siamese",
                "model/encoder=timm",
                "model.encoder.weights=pretrained",
                "data=identity_folder",
            ],
            "model.encoder.weights",
        ),
        (
            ["model=unet", "model/net=smp", "model.net.encoder_weights=imagenet", "data=mask_folder"],
            "model.net.encoder_weights",
        ),
    ],
)
def test_the_config_check_finds_missing_weights_before_any_data(tmp_path, hub, overrides, key):
    from src.runtime.config.config_check import validate

    # data.root names no folder: the weights line comes from the config check, before any data is read
    cfg = make_cfg(tmp_path, [*overrides, f"data.root={tmp_path / 'no_such_data'}"])
    with pytest.raises(ConfigError, match="hf download") as err:
        validate(cfg)
    assert err.value.key == key

"""Pretrained here: `experiment=pretrain data=image_folder data.root=<images>` trains an encoder with
NT-Xent on two views of unlabeled images (a tiny generated folder), and its run folder is `weights:` of
all three models: the Siamese encoder, the detector's backbone and an smp `tu-` encoder of the U-Net."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from src.data.common.image_folder import ImageFolderReader
from src.errors import DataError
from src.runtime.config.instantiate import build
from tests.conftest import make_cfg, run_train
from tests.model_tester import ModelTester
from tests.python_vs_yaml import yaml_values


def image_folder(root: Path, count: int = 20) -> Path:
    """`count` small RGB images in nested folders, each a coloured rectangle on noise."""
    rng = np.random.default_rng(0)
    for i in range(count):
        folder = root / f"part{i % 3}" / ("deeper" if i % 2 else "")
        folder.mkdir(parents=True, exist_ok=True)
        pixels = (rng.random((36, 40, 3)) * 255).astype("uint8")
        top, left = rng.integers(0, 18, 2)
        pixels[top : top + 16, left : left + 20] = rng.integers(0, 255, 3)
        Image.fromarray(pixels).save(folder / f"{i}.png")
    return root


def test_image_folder_reads_every_image_recursively_and_splits(tmp_path):
    reader = ImageFolderReader(str(image_folder(tmp_path / "images")), val_fraction=0.2, seed=0)
    train, val = reader.dataset("train"), reader.dataset("val")
    assert (len(train), len(val)) == (16, 4)
    assert not set(reader.files["train"]) & set(reader.files["val"])
    assert train[0].shape == (3, 36, 40) and train[0].dtype == torch.uint8
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        ImageFolderReader(str(tmp_path / "empty"), 0.2, 0)


TIMM = ["model.encoder.name=test_resnet"]


@pytest.mark.slow
def test_pretraining_run_is_weights_of_all_three_models(tmp_path):
    images = image_folder(tmp_path / "images")
    run = tmp_path / "pretrain"
    cfg = make_cfg(
        run,
        [
            "experiment=pretrain",
            f"data.root={images}",
            "model/encoder=timm",
            *TIMM,
            "data.image_size=32",
            "data.batch_size=8",
            "data.num_workers=0",
            "trainer.max_epochs=1",
            "model.plot_every_n_epochs=null",  # plots: not looked at here
        ],
    )
    run_train(cfg)
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0 <= metrics["val/pair_acc"] <= 1 and metrics["val/loss"] > 0
    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    trained = {
        k.removeprefix("net.encoder.body."): v for k, v in state.items() if k.startswith("net.encoder.body.")
    }
    assert trained

    siamese = make_cfg(
        tmp_path, ["model=siamese", "model/encoder=timm", *TIMM, f"model.encoder.weights={run}"]
    )
    detector = make_cfg(
        tmp_path,
        [
            "model=yolo",
            "model/head/backbone=timm",
            "model.head.backbone.name=test_resnet",
            f"model.head.backbone.weights={run}",
        ],
    )
    segmenter = make_cfg(
        tmp_path,
        [
            "model=unet",
            "model/net=smp",
            "model.net.depth=3",
            "model.net.encoder_name=tu-test_resnet",
            f"model.net.encoder_weights={run}",
        ],
    )
    parts = [
        build(siamese.model, "model").net.encoder.body,
        build(detector.model, "model").head.net.backbone.body,
        build(segmenter.model, "model").net.encoder.model,
    ]
    for part in parts:
        own = part.state_dict()
        shared = [k for k in own if k in trained]
        assert len(shared) >= 0.9 * len(own)
        assert all(torch.equal(own[k], trained[k]) for k in shared)

    # predict.py writes the embeddings of the pretraining run, as for a verifier
    from src.predict import predict
    from src.runtime.checkpoints.checkpoint_check import args_with_checkpoint_model
    from tests.integration.test_predict import compose

    args = [
        f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}",
        f"+source={images / 'part0'}",
        f"data.root={images}",
    ]
    predict(compose(tmp_path / "pred", args_with_checkpoint_model(args)))
    embeddings = np.load(tmp_path / "pred" / "embeddings.npz")["embeddings"]
    assert embeddings.shape == (7, 64)


# ---- the model tests every model passes (tests/model_tester.py) ---------------------------------------------
def pretrainer_from_yaml():
    """Pretrainer(...) in Python with the values of conf/model/pretrain.yaml and its groups."""
    from functools import partial

    from src.lightning_modules.optim import warmup_cosine
    from src.lightning_modules.pretrainer import Pretrainer
    from src.losses.verification import NTXent
    from src.models.backbones import SmallCNN

    values = yaml_values("pretrain")
    return Pretrainer(
        **{
            **values,
            "encoder": partial(SmallCNN, **values["encoder"]),
            "loss": partial(NTXent, **values["loss"]),
            "optim": partial(torch.optim.AdamW, **values["optim"]),
            "schedule": partial(warmup_cosine, **values["schedule"]),
        }
    )


class TestPretrain(ModelTester):
    model = "pretrain"
    val_metrics = ("val/pair_acc",)
    test_metric = "test/pair_acc"

    @pytest.fixture(autouse=True)
    def images(self, tmp_path_factory):
        """One tiny image folder for the session's runs of this class."""
        self.root = tmp_path_factory.getbasetemp() / "pretrain_images"
        if not self.root.is_dir():
            image_folder(self.root)

    @property
    def tiny(self) -> list[str]:
        return [
            f"data.root={self.root}",
            "data.image_size=32",
            "data.batch_size=8",
            "data.num_workers=0",
            "model.encoder.widths=[8,16]",
            "model.projector.dims=[32]",
            "model.projector.embedding_size=16",
        ]

    def python_build(self):
        return pretrainer_from_yaml()

"""The Siamese verifier through the real entry flow: fast_dev_run, identity-folder train → LFW 10-fold eval,
predict (pair decision and .npz export), sweepable keys and config errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.errors import MissingConfigException

from src.errors import ConfigError
from src.runtime.config.config_check import validate
from tests.conftest import make_cfg, run_train
from tests.model_tester import ModelTester
from tests.python_vs_yaml import yaml_values
from tests.tiny_models import TINY as TINY_RUNS
from tests.unit.test_verification_data import write_identity_folder, write_lfw

TINY_NET = [
    "model=siamese",
    "model.encoder.widths=[8,16]",
    "model.reductor.dims=[16]",
    "model.reductor.embedding_size=8",
]


def test_margin_sweep_and_other_keys_compose(tmp_path):
    for override in (
        "model.loss.margin=0.25",
        "model.distance=cosine",
        "model/loss=supcon",
        "model/loss=contrastive model.loss.margin=0.5",
        "model/loss=arcface model.loss.scale=64",
        "model/optim=sgd model.optim.momentum=0.8",
        "model/schedule=constant",
        "model.reductor.embedding_size=32",
    ):
        validate(make_cfg(tmp_path, ["model=siamese", *override.split()]))


def test_config_errors_name_the_key(tmp_path):
    from src.runtime.config.instantiate import build

    cfg = make_cfg(tmp_path, ["model=siamese", "model.distance=manhattan"])
    with pytest.raises(ConfigError, match="model.distance"):
        build(cfg.model, "model")
    with pytest.raises(MissingConfigException, match="model/loss"):
        make_cfg(tmp_path, ["model=siamese", "model/loss=hinge"])
    cfg = make_cfg(tmp_path, ["model=siamese", "model.loss.margin=-1"])
    with pytest.raises(ConfigError, match="model.loss.margin"):
        build(cfg.model, "model")
    cfg = make_cfg(tmp_path, ["model=siamese", "model/loss=ntxent", "+model.loss.margin=0.2"])
    with pytest.raises(ConfigError, match="model.loss.margin"):  # a key of another loss
        validate(cfg)
    cfg = make_cfg(tmp_path, ["model=siamese", "data=shapes_seg"])
    with pytest.raises(ConfigError, match="verification model"):
        validate(cfg)


@pytest.mark.slow
def test_each_loss_option_trains_with_only_its_own_keys(tmp_path):
    """What `-m model/loss=contrastive,triplet,ntxent` runs, in-process: one fast_dev_run per loss, each
    built from its own YAML (the margin is the contrastive loss's key only)."""
    losses = {"contrastive": "Contrastive", "triplet": "Triplet", "ntxent": "NTXent"}
    for loss, target in losses.items():
        run = tmp_path / loss
        cfg = make_cfg(run, ["model=siamese", *TINY_RUNS["siamese"], f"model/loss={loss}", "debug=fdr"])
        assert cfg.model.loss._target_.rsplit(".", 1)[1] == target
        assert ("margin" in cfg.model.loss) == (loss != "ntxent")
        run_train(cfg)
        assert "val/auroc" in json.loads((run / "metrics.json").read_text()), loss
    assert make_cfg(tmp_path, ["model=siamese", "model/loss=contrastive"]).model.loss.margin == 1.0


@pytest.mark.slow
def test_identity_folder_train_then_lfw_eval_and_predict(tmp_path):
    """Train on root/{train,val}/<id>/, evaluate the checkpoint on an LFW-format pairs file (10 folds)."""
    people = {f"p{i}": 3 for i in range(6)}
    data = write_identity_folder(tmp_path / "faces", {"train": people, "val": {f"v{i}": 3 for i in range(4)}})
    run = tmp_path / "run"
    cfg = make_cfg(
        run,
        [
            *TINY_NET,
            "data=identity_folder",
            f"data.root={data}",
            "data.image_size=24",
            "data.num_workers=0",
            "data.identities_per_batch=3",
            "data.images_per_identity=2",
            "data.reader.num_val_pairs=20",
            "data.reader.num_test_pairs=20",
            "trainer.max_epochs=2",
            "model.plot_every_n_epochs=null",  # plots: not looked at here
        ],
    )
    run_train(cfg)
    ckpt = run / "checkpoints" / "last.ckpt"
    threshold = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]["threshold"]
    assert torch.isfinite(threshold)  # calibrated on validation and stored with the weights

    # an LFW folder: 10 folds × (1 matched + 1 mismatched) over 4 people
    lfw_people = {"Ann_A": 3, "Bob_B": 3, "Cy_C": 2, "Dee_D": 2}
    lines = ["10\t1"]
    names = list(lfw_people)
    for f in range(10):
        a, b = names[f % 4], names[(f + 1) % 4]
        lines += [f"{a}\t1\t2", f"{a}\t1\t{b}\t2"]
    lfw = write_lfw(tmp_path / "lfwroot", lfw_people, lines)
    from src.pipeline import evaluate

    ecfg = make_cfg(
        tmp_path / "eval",
        [
            *TINY_NET,
            "data=lfw",
            f"data.root={lfw}",
            "data.image_size=24",
            "data.num_workers=0",
            f"ckpt_path={ckpt}",
        ],
        config_name="eval",
    )
    HydraConfig.instance().set_config(ecfg)
    metrics = evaluate(ecfg)
    assert 0 <= metrics["test/acc"] <= 1 and metrics["test/acc_std"] >= 0
    assert {"test/auroc", "test/eer", "test/acc_val_threshold"} <= set(metrics)
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["test/acc"] == pytest.approx(
        metrics["test/acc"]
    )

    from src.predict import predict

    def predict_with(folder: str, source: str):
        pcfg = make_cfg(
            tmp_path / folder,
            [
                *TINY_NET,
                "data=identity_folder",
                f"data.root={data}",
                "data.image_size=24",
                f"ckpt_path={ckpt}",
                source,
            ],
            config_name="predict",
        )
        HydraConfig.instance().set_config(pcfg)
        return predict(pcfg)

    a, b = lfw / "lfw" / "Ann_A" / "Ann_A_0001.jpg", lfw / "lfw" / "Bob_B" / "Bob_B_0001.jpg"
    out = predict_with("pred", f"+pair=[{a},{b}]")
    assert out["threshold"] == pytest.approx(float(threshold))
    assert out["decision"] == ("same" if out["score"] >= out["threshold"] else "different")

    out = predict_with("pred2", f"+source={lfw / 'lfw'}")
    saved = np.load(out["embeddings"])
    assert saved["embeddings"].shape == (10, 8) and set(saved["identities"]) == set(lfw_people)


# ---- the model tests every model passes (tests/model_tester.py) ---------------------------------------------
def siamese_from_yaml(loss: str):
    """Siamese(...) in Python with the values of conf/model/siamese.yaml, its groups and `model/loss=<loss>`."""
    from functools import partial

    from src.lightning_modules.optim import warmup_cosine
    from src.lightning_modules.siamese import Siamese
    from src.losses.verification import ArcFace, Triplet
    from src.models.backbones import SmallCNN

    values = yaml_values("siamese", {"loss": loss})
    return Siamese(
        **{
            **values,
            "encoder": partial(SmallCNN, **values["encoder"]),
            "loss": partial({"triplet": Triplet, "arcface": ArcFace}[loss], **values["loss"]),
            "optim": partial(torch.optim.AdamW, **values["optim"]),
            "schedule": partial(warmup_cosine, **values["schedule"]),
        }
    )


class TestSiamese(ModelTester):
    model = "siamese"
    tiny = TINY_RUNS["siamese"]
    val_metrics = ("val/auroc", "val/eer", "val/acc", "val/tar_far1e-2", "val/tar_far1e-3")
    test_metric = "test/auroc"

    def python_build(self):
        module = siamese_from_yaml("triplet")
        assert (
            module.criterion.fn.margin == 0.2
        )  # the triplet's usual margin, from conf/model/loss/triplet.yaml
        return module


class TestSiameseArcFace(TestSiamese):
    """The same module with a class-centre loss (its own parameters: one centre per training identity)."""

    options = ["model/loss=arcface"]

    def python_build(self):
        return siamese_from_yaml("arcface")

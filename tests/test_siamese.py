"""The Siamese verifier through the real entry flow: fast_dev_run, identity-folder train → LFW 10-fold eval,
predict (pair decision and .npz export), sweepable keys and config errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hydra.core.hydra_config import HydraConfig

from src.utils.config_check import validate
from src.utils.errors import ConfigError
from tests.conftest import make_cfg, run_train
from tests.test_verification_data import write_identity_folder, write_lfw

TINY_NET = [
    "model=siamese",
    "model.encoder.widths=[8,16]",
    "model.reductor.dims=[16]",
    "model.reductor.embedding_size=8",
]
TINY_FACES = [
    *TINY_NET,
    "data.image_size=24",
    "data.identities_per_batch=4",
    "data.images_per_identity=2",
    "data.batch_size=16",
    "data.reader.num_train_identities=8",
    "data.reader.images_per_identity=4",
    "data.reader.num_val_identities=4",
    "data.reader.num_test_identities=4",
    "data.reader.eval_images_per_identity=3",
    "data.reader.num_val_pairs=20",
    "data.reader.num_test_pairs=20",
]


@pytest.mark.parametrize("loss", ["contrastive", "arcface"])
def test_fast_dev_run(tmp_path, loss):
    cfg = make_cfg(tmp_path, [*TINY_FACES, "debug=fdr", f"model.loss.name={loss}"])
    run_train(cfg)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("val/auroc", "val/eer", "val/acc", "val/tar_far1e-2", "val/tar_far1e-3"):
        assert 0.0 <= metrics[key] <= 1.0


def test_margin_sweep_and_other_keys_compose(tmp_path):
    for override in (
        "model.loss.margin=0.25",
        "model.distance=cosine",
        "model.loss.name=supcon",
        "model.reductor.embedding_size=32",
    ):
        validate(make_cfg(tmp_path, ["model=siamese", override]))


def test_config_errors_name_the_key(tmp_path):
    from src.utils.instantiate import build

    cfg = make_cfg(tmp_path, ["model=siamese", "model.distance=manhattan"])
    with pytest.raises(ConfigError, match="model.distance"):
        build(cfg.model, "model")
    cfg = make_cfg(tmp_path, ["model=siamese", "model.loss.name=hinge"])
    with pytest.raises(ConfigError, match="model.loss.name"):
        build(cfg.model, "model")
    cfg = make_cfg(tmp_path, ["model=siamese", "data=shapes_seg"])
    with pytest.raises(ConfigError, match="verification model"):
        validate(cfg)


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

    a, b = lfw / "lfw" / "Ann_A" / "Ann_A_0001.jpg", lfw / "lfw" / "Bob_B" / "Bob_B_0001.jpg"
    pcfg = make_cfg(
        tmp_path / "pred",
        [
            *TINY_NET,
            "data=identity_folder",
            f"data.root={data}",
            "data.image_size=24",
            f"ckpt_path={ckpt}",
            f"+pair=[{a},{b}]",
        ],
        config_name="predict",
    )
    HydraConfig.instance().set_config(pcfg)
    out = predict(pcfg)
    assert out["threshold"] == pytest.approx(float(threshold))
    assert out["decision"] == ("same" if out["score"] >= out["threshold"] else "different")

    pcfg = make_cfg(
        tmp_path / "pred2",
        [
            *TINY_NET,
            "data=identity_folder",
            f"data.root={data}",
            "data.image_size=24",
            f"ckpt_path={ckpt}",
            f"+source={lfw / 'lfw'}",
        ],
        config_name="predict",
    )
    HydraConfig.instance().set_config(pcfg)
    out = predict(pcfg)
    saved = np.load(out["embeddings"])
    assert saved["embeddings"].shape == (10, 8) and set(saved["identities"]) == set(lfw_people)

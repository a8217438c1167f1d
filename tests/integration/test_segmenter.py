"""The segmenter: losses with ignore_index, mIoU against a numpy confusion matrix, training on files, predict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from src.losses.segmentation import CeDice, CrossEntropy, Dice
from src.runtime.config.instantiate import build
from tests.conftest import CONF, make_cfg, run_train
from tests.model_tester import ModelTester
from tests.python_vs_yaml import yaml_values
from tests.seg_data_utils import write_mask_folder, write_voc
from tests.tiny_models import TINY as TINY_RUNS

TINY = [
    "model.net.depth=2",
    "model.net.base_channels=4",
    "data.image_size=32",
    "data.batch_size=4",
    "data.num_workers=0",
    "trainer.max_epochs=1",
    "model.num_plot_images=2",
]


# ---- losses -----------------------------------------------------------------------------------------------
LOSSES = {  # option of conf/model/loss/ -> the loss built in Python from its YAML's values
    "ce": lambda: CrossEntropy(ignore_index=255, num_classes=3, class_weights=None),
    "dice": lambda: Dice(ignore_index=255, num_classes=3),
    "ce_dice": lambda: CeDice(ignore_index=255, num_classes=3, class_weights=None, dice_weight=1.0),
}


@pytest.mark.parametrize("name", list(LOSSES))
def test_losses_ignore_pixels_marked_255(name):
    torch.manual_seed(0)
    criterion = LOSSES[name]()
    mask = torch.randint(0, 3, (2, 8, 8))
    mask[:, :3] = 255
    logits = torch.randn(2, 3, 8, 8, requires_grad=True)
    loss = criterion(logits, mask)
    assert set(loss) == {"loss", *({"ce": ["ce"], "dice": ["dice"], "ce_dice": ["ce", "dice"]}[name])}
    loss["loss"].backward()
    assert torch.isfinite(loss["loss"])
    assert logits.grad[:, :, :3].abs().max() == 0  # ignored rows get no gradient
    assert logits.grad[:, :, 3:].abs().max() > 0
    changed = logits.detach().clone()
    changed[:, :, :3] = torch.randn(2, 3, 3, 8) * 10  # whatever is predicted on ignored pixels
    torch.testing.assert_close(criterion(changed, mask)["loss"], loss["loss"].detach())


def test_perfect_logits_give_low_loss_and_other_losses_are_refused(tmp_path):
    from src.errors import ConfigError

    mask = torch.randint(0, 3, (2, 8, 8))
    logits = torch.nn.functional.one_hot(mask, 3).permute(0, 3, 1, 2).float() * 20
    assert LOSSES["ce_dice"]()(logits, mask)["loss"] < 1e-3
    weighted = CrossEntropy(ignore_index=255, num_classes=3, class_weights=[1.0, 2.0, 0.5])
    assert weighted.ce.weight.tolist() == [1.0, 2.0, 0.5]
    # model/loss is shared with the verifier: its losses are named as not this model's, with the options
    cfg = make_cfg(tmp_path, ["model=unet", "model/loss=triplet"])
    with pytest.raises(
        ConfigError, match=r"loss: .*Triplet is not a SegmentationLoss: pick model/loss=ce\|ce_dice\|dice"
    ):
        build(cfg.model, "model")
    cfg = make_cfg(tmp_path, ["model=siamese", "model/loss=dice"])
    with pytest.raises(
        ConfigError, match=r"Dice is not a VerificationLoss: pick model/loss=arcface\|contrastive"
    ):
        build(cfg.model, "model")
    cfg = make_cfg(tmp_path, ["model=unet", "model.loss.class_weights=[1,2]"])
    with pytest.raises(
        ConfigError, match=r"model\.loss\.class_weights: expected null or a list of 4 weights"
    ):
        build(cfg.model, "model")


# ---- metrics ----------------------------------------------------------------------------------------------
def numpy_iou_dice(preds: np.ndarray, target: np.ndarray, num_classes: int, ignore: int = 255):
    """Second implementation: confusion matrix by bincount; classes absent from both are left out."""
    valid = target != ignore
    conf = np.bincount(target[valid] * num_classes + preds[valid], minlength=num_classes**2).reshape(
        num_classes, -1
    )
    tp = np.diag(conf).astype(float)
    fp, fn = conf.sum(0) - tp, conf.sum(1) - tp
    union = tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
        dice = np.where(union > 0, 2 * tp / (2 * tp + fp + fn), np.nan)
    return iou, np.nanmean(iou), np.nanmean(dice)


def test_miou_and_dice_match_a_numpy_confusion_matrix(tmp_path):
    num_classes = 5
    module = build(
        make_cfg(tmp_path, ["model=unet", f"data.num_classes={num_classes}", "model.net.depth=1"]).model,
        "model",
    )
    rng = np.random.default_rng(0)
    all_p, all_t = [], []
    for _ in range(3):  # several batches accumulate as in an epoch
        target = rng.integers(0, num_classes - 1, size=(4, 16, 16))  # the last class never occurs...
        preds = np.where(
            rng.random(target.shape) < 0.6, target, rng.integers(0, num_classes - 1, size=target.shape)
        )
        target[rng.random(target.shape) < 0.1] = 255  # ...and some pixels are ignored
        module.val_metrics.update(torch.from_numpy(preds), torch.from_numpy(target))
        all_p.append(preds)
        all_t.append(target)
    values = module.val_metrics.compute()
    iou, miou, dice = numpy_iou_dice(
        np.concatenate(all_p).ravel(), np.concatenate(all_t).ravel(), num_classes
    )
    got = values["val/iou"].numpy()
    assert np.isnan(got[-1]) and np.isnan(iou[-1])  # absent class: NaN, not 0
    np.testing.assert_allclose(got[:-1], iou[:-1], rtol=1e-5)
    np.testing.assert_allclose(float(values["val/iou"].nanmean()), miou, rtol=1e-5)
    np.testing.assert_allclose(float(values["val/dice"]), dice, rtol=1e-5)


# ---- training on files and prediction ---------------------------------------------------------------------
def read_metrics(run_dir):
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.mark.slow
def test_trains_on_a_mask_folder_then_predicts(tmp_path):
    root = write_mask_folder(tmp_path / "ds", test=True)
    run = tmp_path / "run"
    cfg = make_cfg(run, ["model=unet", "data=mask_folder", f"data.root={root}", "data.num_classes=4", *TINY])
    run_train(cfg)
    metrics = read_metrics(run)
    for key in ("val/miou", "val/dice", "test/miou", "test/dice"):
        assert 0.0 <= metrics[key] <= 1.0
    assert "val/iou_background" in metrics  # per-class IoU named from classes.txt
    assert (run / "plots" / "val_predictions.png").is_file()
    assert (run / "checkpoints" / "last.ckpt").is_file()

    from src.predict import predict

    source = root / "val" / "images"
    out = tmp_path / "pred"
    pcfg = make_cfg(
        out,
        ["model=unet", "data=mask_folder", f"data.root={root}", "data.num_classes=4", *TINY[:3],
         f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}", f"+source={source}"],
        config_name="predict",
    )  # fmt: skip
    summary = predict(pcfg)
    assert summary["images"] == 6
    assert set(summary["pixel_fraction"]) == {"background", "circle", "square", "triangle"}
    for image in sorted(source.iterdir()):
        mask = Image.open(out / "predictions" / f"{image.stem}_mask.png")
        assert mask.mode == "P" and mask.size == Image.open(image).size
        assert np.asarray(mask).max() < 4
        assert Image.open(out / "predictions" / f"{image.stem}_overlay.png").size == mask.size


@pytest.mark.slow
def test_trains_on_a_voc_layout(tmp_path):
    root = write_voc(tmp_path / "voc")
    run = tmp_path / "run"
    run_train(
        make_cfg(
            run, ["model=unet", "data=voc_seg", f"data.root={root}", *TINY, "model.plot_every_n_epochs=null"]
        )
    )
    metrics = read_metrics(run)
    assert 0.0 <= metrics["val/miou"] <= 1.0 and 0.0 <= metrics["test/miou"] <= 1.0
    assert "val/iou_background" in metrics and "val/iou_tvmonitor" not in metrics  # absent classes left out


def test_predict_source_errors(tmp_path):
    from src.data.common.image_files import image_sources
    from src.errors import ConfigError, DataError

    with pytest.raises(ConfigError, match="source"):
        image_sources(None)
    with pytest.raises(ConfigError, match="neither"):
        image_sources(tmp_path / "missing.png")
    with pytest.raises(DataError, match="no images"):
        image_sources(tmp_path)


# ---- the model tests every model passes (tests/model_tester.py) ---------------------------------------------
def segmenter_from_yaml(net: str):
    """Segmenter(...) in Python with the values of conf/model/unet.yaml, its groups and `model/net=<net>`."""
    from functools import partial

    from src.lightning_modules.optim import warmup_cosine
    from src.lightning_modules.segmenter import Segmenter
    from src.models.smp_nets import build_smp_net
    from src.models.unet import UNet

    values = yaml_values("unet", {"net": net})
    return Segmenter(
        **{
            **values,
            "num_classes": yaml.safe_load((Path(CONF) / "data" / "shapes_seg.yaml").read_text())[
                "num_classes"
            ],
            "net": partial({"unet": UNet, "smp": build_smp_net}[net], **values["net"]),
            "loss": partial(CeDice, **values["loss"]),
            "optim": partial(torch.optim.AdamW, **values["optim"]),
            "schedule": partial(warmup_cosine, **values["schedule"]),
        }
    )


class TestUnet(ModelTester):
    model = "unet"
    tiny = TINY_RUNS["unet"]
    val_metrics = ("val/miou", "val/dice", "val/iou_background")
    test_metric = "test/miou"

    def python_build(self):
        module = segmenter_from_yaml("unet")
        assert (
            module.net.head.in_channels == 8
        )  # conf/model/net/unet.yaml's base_channels, not a constructor's
        return module


class TestUnetSmp(TestUnet):
    """The same module with segmentation-models-pytorch's network (`model/net=smp`)."""

    options = ["model/net=smp"]
    tiny = [*TINY_RUNS["unet"], "model.net.arch=UnetPlusPlus"]

    def python_build(self):
        return segmenter_from_yaml("smp")

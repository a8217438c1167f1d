"""The segmenter: losses with ignore_index, mIoU against a numpy confusion matrix, training on files, predict."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from src.lightning_modules.segmenter import SegmentationLoss
from src.runtime.instantiate import build
from tests.conftest import make_cfg, run_train
from tests.seg_data_utils import write_mask_folder, write_voc

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
@pytest.mark.parametrize("name", ["ce", "dice", "ce_dice"])
def test_losses_ignore_pixels_marked_255(name):
    torch.manual_seed(0)
    criterion = SegmentationLoss(name, ignore_index=255, dice_weight=1.0, class_weights=None)
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


def test_perfect_logits_give_low_loss_and_unknown_loss_is_refused():
    from src.runtime.errors import ConfigError

    mask = torch.randint(0, 3, (2, 8, 8))
    logits = torch.nn.functional.one_hot(mask, 3).permute(0, 3, 1, 2).float() * 20
    assert SegmentationLoss("ce_dice", 255, 1.0, None)(logits, mask)["loss"] < 1e-3
    with pytest.raises(ConfigError, match="loss"):
        SegmentationLoss("focal", 255, 1.0, None)


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
    run_train(make_cfg(run, ["model=unet", "data=voc_seg", f"data.root={root}", *TINY]))
    metrics = read_metrics(run)
    assert 0.0 <= metrics["val/miou"] <= 1.0 and 0.0 <= metrics["test/miou"] <= 1.0
    assert "val/iou_background" in metrics and "val/iou_tvmonitor" not in metrics  # absent classes left out


def test_smp_backend_fast_dev_run(tmp_path):
    overrides = ["model=unet", "model/net=smp", "model.net.arch=UnetPlusPlus", "debug=fdr", *TINY]
    overrides += ["data.reader.num_train=8", "data.reader.num_val=4", "data.reader.num_test=4"]
    run_train(make_cfg(tmp_path, overrides))
    assert 0.0 <= read_metrics(tmp_path)["val/miou"] <= 1.0


def test_predict_source_errors(tmp_path):
    from src.data.common.image_files import image_sources
    from src.runtime.errors import ConfigError, DataError

    with pytest.raises(ConfigError, match="source"):
        image_sources(None)
    with pytest.raises(ConfigError, match="neither"):
        image_sources(tmp_path / "missing.png")
    with pytest.raises(DataError, match="no images"):
        image_sources(tmp_path)

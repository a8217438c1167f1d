"""The shared flow: composition, validation errors, run outputs (train → eval per model: tests/model_tester.py;
DDP on CPU: test_ddp.py; EMA: test_ema.py)."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest

from src.errors import ConfigError
from src.runtime.config.config_check import validate
from src.runtime.config.instantiate import build
from tests.conftest import make_cfg, run_train
from tests.tiny_models import MODELS, tiny

TINY_UNET = [
    "model=unet",
    "model.net.depth=2",
    "model.net.base_channels=8",
    "data.reader.num_train=32",
    "data.reader.num_val=16",
    "data.reader.num_test=16",
    "data.batch_size=8",
    "data.num_workers=0",
]


class OtherTaskData(pl.LightningDataModule):
    """A DataModule of another task, to check the model/data pairing."""

    task = "detection"

    def __init__(self, num_classes: int = 4):
        super().__init__()


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("model.net.depth=0", "model.net.depth"),
        ("model.net.norm=bn", "model.net.norm"),
        ("model.optim.lr=-1", "model.optim.lr"),
        ("model.optim.betas=[2,0.999]", "model.optim"),
        ("+model.optim.colour=1", "model.optim.colour"),
        ("model.schedule.min_lr_ratio=2", "model.schedule.min_lr_ratio"),
        ("model/schedule=onecycle model.schedule.pct_start=1.5", "model.schedule"),
        ("model/schedule=constant +model.schedule.min_lr_ratio=0.1", "model.schedule.min_lr_ratio"),
        ("+model.foo=1", "model.foo"),
        ("+data.reader.bar=1", "data.reader.bar"),
        ("data.augment.hflip=2", "data.augment.hflip"),
        ("data.batch_size=0", "data.batch_size"),
        ("data.num_classes=7", "data.num_classes"),
    ],
)
def test_bad_values_name_the_key(tmp_path, override, key):
    cfg = make_cfg(tmp_path, [*TINY_UNET, *override.split()])
    with pytest.raises(ConfigError) as err:
        validate(cfg)
        build(cfg.data, "data")
        build(cfg.model, "model")
    assert err.value.key == key, str(err.value)


def test_model_and_data_of_different_tasks_are_refused(tmp_path):
    cfg = make_cfg(tmp_path, TINY_UNET)
    cfg.data = {"_target_": f"{__name__}.OtherTaskData", "num_classes": 4}
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert err.value.key == "data"
    assert "segmentation model" in str(err.value) and "shapes_seg" in str(err.value)


def test_missing_required_value_is_named(tmp_path):
    cfg = make_cfg(tmp_path, TINY_UNET, config_name="eval")
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert err.value.key == "ckpt_path"


def test_missing_value_behind_an_interpolation_is_named(tmp_path):
    # model.num_classes is ${data.num_classes}: the error names the key to set, not the interpolation
    cfg = make_cfg(tmp_path, ["model=unet", "data=mask_folder", "data.num_classes=???"])
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert err.value.key == "data.num_classes"


def test_resume_without_checkpoint_says_how(tmp_path):
    cfg = make_cfg(tmp_path, [*TINY_UNET, "ckpt_path=last"])
    with pytest.raises(ConfigError, match="hydra.run.dir=<run folder> ckpt_path=last"):
        run_train(cfg)


def test_epoch_loss_terms_are_batch_weighted_means_over_every_step(tmp_path):
    """The terms kept per step and summed every FOLD_EVERY steps give the exact weighted epoch mean."""
    import torch

    module = build(make_cfg(tmp_path, TINY_UNET).model, "model")
    gen = torch.Generator().manual_seed(0)
    steps = 2 * module.FOLD_EVERY + 5  # two folds and a remainder
    values = torch.rand(steps, 2, generator=gen, dtype=torch.float64)
    sizes = torch.randint(1, 9, (steps,), generator=gen)
    for (loss, ce), size in zip(values, sizes):
        module._keep_terms({"loss": loss.float(), "ce": ce.float()}, int(size))
    module._fold_terms()
    for i, key in enumerate(("loss", "ce")):
        total, count = module._term_sums[key]
        expected = (values[:, i].float().double() * sizes).sum() / sizes.sum()
        assert count == int(sizes.sum())
        assert abs(float(total) / count - float(expected)) < 1e-6
    assert module._step_terms == []


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_training_loss_is_logged_per_logging_step_and_per_epoch(tmp_path, model):
    """train/loss_step on the loggers' steps, train/loss_epoch and every loss term once per epoch."""
    import csv

    cfg = make_cfg(tmp_path, tiny(model, "trainer.max_epochs=2", "trainer.log_every_n_steps=1", "test=false"))
    run_train(cfg)
    rows = list(csv.DictReader(next(tmp_path.rglob("metrics.csv")).open()))
    steps = [r for r in rows if r.get("train/loss_step")]
    epochs = [r for r in rows if r.get("train/loss_epoch")]
    assert len(steps) >= 2 and len(epochs) == 2
    terms = [
        k for k in rows[0] if k.startswith("train/") and k not in ("train/loss_step", "train/loss_epoch")
    ]
    assert terms and all(r[k] for r in epochs for k in terms), terms  # each term logged with the epoch loss
    losses = [float(r["train/loss_step"]) for r in steps if r["epoch"] == "0"]
    assert min(losses) - 1e-6 <= float(epochs[0]["train/loss_epoch"]) <= max(losses) + 1e-6

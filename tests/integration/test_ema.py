"""The one EMA of the weights (src/runtime/callbacks/ema.py): the warm-up ramp by hand, then a tiny Lightning fit
whose averaged weights are checked step by step and used for validation, checkpoints and what follows."""

from __future__ import annotations

import math

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from src.errors import ConfigError
from src.runtime.callbacks.ema import WarmupEMAWeightAveraging, warmup_ema
from tests.conftest import make_cfg


def test_warmup_ramp_and_integer_buffers():
    avg, cur = torch.tensor([1.0]), torch.tensor([0.0])
    out = warmup_ema(0.9, 10.0, avg, cur, torch.tensor(1))
    assert float(out) == pytest.approx(0.9 * (1 - math.exp(-0.1)))  # early: follows the weights
    assert float(warmup_ema(0.9, 10.0, avg, cur, torch.tensor(10_000))) == pytest.approx(0.9)
    assert float(warmup_ema(0.9, 0.0, avg, cur, torch.tensor(1))) == pytest.approx(0.9)  # no warm-up
    assert int(warmup_ema(0.9, 10.0, torch.tensor(3), torch.tensor(7), torch.tensor(5))) == 7
    with pytest.raises(ConfigError, match="decay"):
        WarmupEMAWeightAveraging(decay=1.0, warmup_steps=0, update_starting_at_step=0)


class Tiny(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(2, 1)
        self.seen: list[torch.Tensor] = []  # weights after each optimizer step
        self.validated: list[torch.Tensor] = []  # weights validation ran with

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def on_train_batch_end(self, outputs, batch, batch_idx):
        self.seen.append(self.net.weight.detach().clone())

    def validation_step(self, batch, batch_idx):
        self.validated.append(self.net.weight.detach().clone())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.5)


def test_ema_callback_averages_validates_and_checkpoints(tmp_path):
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(16, 2), torch.randn(16, 1))
    loader = DataLoader(data, batch_size=4)
    model = Tiny()
    ema = WarmupEMAWeightAveraging(decay=0.5, warmup_steps=0, update_starting_at_step=0)
    trainer = pl.Trainer(
        default_root_dir=tmp_path,
        max_epochs=1,
        num_sanity_val_steps=0,
        callbacks=[ema],
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, loader, loader)
    expected = model.seen[0]
    for w in model.seen[1:]:
        expected = 0.5 * expected + 0.5 * w
    assert not torch.allclose(expected, model.seen[-1])
    torch.testing.assert_close(model.validated[0], expected)  # validation ran on the average
    torch.testing.assert_close(model.net.weight, expected)  # fit ends with the average in the module
    ckpt_path = next((tmp_path / "checkpoints").glob("*.ckpt"))
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    torch.testing.assert_close(ckpt["state_dict"]["net.weight"], expected)  # what eval/predict load
    torch.testing.assert_close(ckpt["current_model_state"]["net.weight"], model.seen[-1])
    # a later validate of a checkpoint uses that checkpoint's weights, not this run's last average
    model.validated.clear()
    with torch.no_grad():
        model.net.weight.zero_()
    torch.save(
        {**ckpt, "state_dict": {**ckpt["state_dict"], "net.weight": torch.ones(1, 2)}}, tmp_path / "o.ckpt"
    )
    trainer.validate(model, loader, ckpt_path=tmp_path / "o.ckpt", verbose=False, weights_only=True)
    torch.testing.assert_close(model.validated[0], torch.ones(1, 2))


def test_on_for_the_detectors_optional_for_every_model(tmp_path):
    assert "ema" in make_cfg(tmp_path, ["model=yolo"]).callbacks
    assert "ema" in make_cfg(tmp_path, ["model=yolov1"]).callbacks
    assert "ema" not in make_cfg(tmp_path, ["model=yolo", "~callbacks.ema"]).callbacks
    assert "ema" not in make_cfg(tmp_path, ["model=unet"]).callbacks
    assert "ema" in make_cfg(tmp_path, ["model=unet", "callbacks=[default,ema]"]).callbacks

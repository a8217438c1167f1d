"""Resume and faults: a killed run continues with ckpt_path=last exactly; NaN losses stop with a clear message."""

from __future__ import annotations

import json
import math

import lightning.pytorch as pl
import pytest
import torch

from tests.conftest import make_cfg, run_train
from tests.tiny_models import MODELS, tiny


class CrashAfterFirstEpoch(pl.Callback):
    """Simulates a run killed right after its first checkpoint (last.ckpt of epoch 0 is on disk)."""

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == 1:
            raise RuntimeError("simulated crash after epoch 0")


def _cfg(path, model, *extra):
    return make_cfg(path, tiny(model, "seed=0", "trainer.max_epochs=3", "test=false", *extra))


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_killed_run_resumes_to_the_same_result(tmp_path, model):
    straight, broken = tmp_path / "straight", tmp_path / "broken"
    run_train(_cfg(straight, model))

    crash = "+callbacks.crash._target_=tests.test_resume.CrashAfterFirstEpoch"
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_train(_cfg(broken, model, crash))
    last = broken / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["epoch"] == 0
    assert not (broken / "metrics.json").exists()

    run_train(
        _cfg(broken, model, "ckpt_path=last")
    )  # rerun in the same folder, as hydra.run.dir=<folder> does
    done_straight = torch.load(straight / "checkpoints" / "last.ckpt", weights_only=True)
    done_resumed = torch.load(last, weights_only=True)
    assert done_resumed["epoch"] == done_straight["epoch"] == 2
    assert done_resumed["global_step"] == done_straight["global_step"]
    a = json.loads((straight / "metrics.json").read_text())
    b = json.loads((broken / "metrics.json").read_text())
    assert a.keys() == b.keys()
    for key in a:
        assert b[key] == pytest.approx(a[key], abs=1e-5), key
    for name, tensor in done_straight["state_dict"].items():
        assert torch.allclose(done_resumed["state_dict"][name].float(), tensor.float(), atol=1e-5), name


@pytest.mark.parametrize("model", MODELS)
def test_checkpoints_load_with_weights_only(tmp_path, model):
    run_train(
        make_cfg(tmp_path, tiny(model, "trainer.max_epochs=1", "test=false", "+trainer.limit_val_batches=1"))
    )
    for ckpt in (tmp_path / "checkpoints").glob("*.ckpt"):
        state = torch.load(ckpt, weights_only=True)  # raises on anything but tensors and plain containers
        assert "state_dict" in state and any("RngStateCheckpoint" in k for k in state["callbacks"])


@pytest.mark.parametrize("model", MODELS)
def test_non_finite_loss_stops_with_a_clear_message(tmp_path, model):
    from src.utils.instantiate import build

    cfg = make_cfg(tmp_path, tiny(model))
    module = build(cfg.model, "model")
    losses = {"loss": torch.tensor(math.nan), "ce": torch.tensor(0.5), "dice": torch.tensor(math.inf)}
    with pytest.raises(FloatingPointError) as err:
        module.check_finite(losses)
    message = str(err.value)
    assert "non-finite loss" in message and "step 0" in message
    assert "'dice': inf" in message and "'loss': nan" in message and "'ce'" not in message
    module.check_finite({"loss": torch.tensor(1.0)})  # finite: no error


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_training_with_a_nan_loss_stops(tmp_path, model):
    cfg = make_cfg(
        tmp_path, tiny(model, "trainer.max_epochs=1", "model.optim.lr=1e30", "model.schedule.warmup_epochs=0")
    )
    with pytest.raises(FloatingPointError, match=r"non-finite loss at epoch 0, step \d+"):
        run_train(cfg)

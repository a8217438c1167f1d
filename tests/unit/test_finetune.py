"""Fine-tuning controls of every model: the pretrained part frozen (BatchNorm statistics too) for the
first `freeze_pretrained_epochs` epochs, then trained; its lr × `pretrained_lr_mult` in its own param
groups, kernels with weight decay and norms/biases without; and a resume across the unfreeze epoch."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch

from src.lightning_modules.optim import build_optimizer
from src.runtime.config.instantiate import build
from tests.conftest import make_cfg, run_train
from tests.tiny_models import MODELS, tiny


class Snapshots(pl.Callback):
    """The pretrained part's state (parameters and BatchNorm statistics) before training and after each
    epoch, saved to <run>/snapshots.pt (Hydra instantiates this class from its own import of the module)."""

    def on_train_start(self, trainer, pl_module):
        self.taken = [self.state(pl_module)]

    def on_train_epoch_end(self, trainer, pl_module):
        self.taken.append(self.state(pl_module))
        torch.save(self.taken, f"{trainer.default_root_dir}/snapshots.pt")

    @staticmethod
    def state(pl_module) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in pl_module.pretrained_part().state_dict().items()}


def changed(a: dict, b: dict, kind: str) -> bool:
    names = [k for k in a if (kind in k) and a[k].is_floating_point()]
    assert names, kind
    return any(not torch.equal(a[k], b[k]) for k in names)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["yolo"])  # the freezing is TaskModule's; each model's part: the test below
def test_pretrained_part_frozen_then_trained(tmp_path, model):
    cfg = make_cfg(
        tmp_path,
        tiny(
            model,
            "model.freeze_pretrained_epochs=1",
            "trainer.max_epochs=2",
            "test=false",
            "+callbacks.snapshots._target_=tests.unit.test_finetune.Snapshots",
        ),
    )
    run_train(cfg)
    start, first, second = torch.load(tmp_path / "snapshots.pt", weights_only=True)
    assert not changed(start, first, "weight") and not changed(start, first, "running_mean")
    assert changed(first, second, "weight") and changed(first, second, "running_mean")


@pytest.mark.parametrize("model", MODELS)
def test_pretrained_lr_mult_groups_keep_the_weight_decay_rule(tmp_path, model):
    cfg = make_cfg(tmp_path, tiny(model, "model.pretrained_lr_mult=0.1", "model/schedule=onecycle"))
    module = build(cfg.model, "model")
    lr = cfg.model.optim.lr
    setup = build_optimizer(
        [module], module.optim, module.schedule, 100, 10, module.pretrained_part(), module.finetune.lr_mult
    )
    groups = setup["optimizer"].param_groups
    part = {id(p) for p in module.pretrained_part().parameters()}
    assert len(groups) == 4
    for group in groups:
        inside = {id(p) in part for p in group["params"]}
        assert len(inside) == 1  # a group holds the pretrained part or the rest, never both
        assert group["weight_decay"] == (0.0 if group["params"][0].ndim < 2 else cfg.model.optim.weight_decay)
        mult = 0.1 if inside == {True} else 1.0
        assert group["max_lr"] == pytest.approx(lr * mult)  # OneCycleLR: the peak of each group


class StopAfterFirstEpoch(pl.Callback):
    """Stops the run at the end of epoch 0 (last.ckpt written), as a killed run would leave it."""

    def on_train_epoch_end(self, trainer, pl_module):
        trainer.should_stop = True


@pytest.mark.slow
def test_resume_across_the_unfreeze_epoch_is_exact(tmp_path):
    args = tiny("yolo", "seed=0", "model.freeze_pretrained_epochs=1", "test=false", "trainer.max_epochs=2")
    run_train(make_cfg(tmp_path / "straight", args))
    stop = "+callbacks.stop._target_=tests.unit.test_finetune.StopAfterFirstEpoch"
    run_train(make_cfg(tmp_path / "resumed", [*args, stop]))
    saved = torch.load(tmp_path / "resumed" / "checkpoints" / "last.ckpt", weights_only=True)
    assert saved["epoch"] == 0
    run_train(make_cfg(tmp_path / "resumed", [*args, "ckpt_path=last"]))
    a = torch.load(tmp_path / "straight" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "resumed" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_checkpoint_saved_before_the_fine_tuning_keys_takes_todays_values(tmp_path):
    """eval/predict of a checkpoint whose stored model config predates freeze_pretrained_epochs and
    pretrained_lr_mult: the keys it lacks come from the model's config, so the model builds."""
    from omegaconf import OmegaConf

    from src.runtime.checkpoints.checkpoint_check import use_checkpoint_model
    from src.runtime.checkpoints.checkpoint_facts import KEY

    cfg = make_cfg(tmp_path, tiny("unet"))
    stored = OmegaConf.to_container(cfg.model, resolve=True)
    del stored["freeze_pretrained_epochs"], stored["pretrained_lr_mult"]
    stored["num_plot_images"] = 3  # the checkpoint's own values still win
    use_checkpoint_model(cfg, {KEY: {"model": stored, "model_name": "unet"}}, tmp_path / "old.ckpt")
    assert cfg.model.freeze_pretrained_epochs == 0 and cfg.model.pretrained_lr_mult == 1.0
    assert cfg.model.num_plot_images == 3
    build(cfg.model, "model")

"""The optimizer and schedule groups (conf/model/optim/, conf/model/schedule/): lr curves, weight decay groups."""

from __future__ import annotations

import pytest
import torch

from src.lightning_modules.optim import build_optimizer
from src.runtime.config.instantiate import build
from tests.conftest import make_cfg

TOTAL, PER_EPOCH = 100, 10


def lr_curve(tmp_path, *overrides: str):
    module = build(make_cfg(tmp_path, ["model=unet", "model.net.depth=1", *overrides]).model, "model")
    out = build_optimizer([module], module.optim, module.schedule, TOTAL, PER_EPOCH)
    opt, sched = out["optimizer"], out["lr_scheduler"]["scheduler"]
    lrs = []
    for _ in range(TOTAL):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return module, opt, sched, lrs


def test_cosine_warms_up_then_decays_to_min_lr(tmp_path):
    _, _, _, lrs = lr_curve(
        tmp_path
    )  # conf/model/unet.yaml: lr 0.003, warm-up 1 epoch from 0.1·lr, min 0.01·lr
    assert lrs[0] == pytest.approx(0.0003) and lrs[PER_EPOCH] == pytest.approx(0.003)
    assert all(a >= b for a, b in zip(lrs[PER_EPOCH:], lrs[PER_EPOCH + 1 :]))
    assert lrs[-1] == pytest.approx(0.003 * 0.01, rel=0.05)


def test_constant_keeps_the_lr(tmp_path):
    _, _, _, lrs = lr_curve(tmp_path, "model/schedule=constant")
    assert lrs == pytest.approx([0.003] * TOTAL)


def test_onecycle_is_torchs_one_cycle_peaking_at_the_optimizer_lr(tmp_path):
    _, _, sched, lrs = lr_curve(tmp_path, "model/schedule=onecycle", "model.optim.lr=0.01")
    assert isinstance(sched, torch.optim.lr_scheduler.OneCycleLR)
    assert lrs[0] == pytest.approx(0.01 / 25)
    assert max(lrs) == pytest.approx(0.01, rel=1e-3) and 25 <= lrs.index(max(lrs)) <= 35  # pct_start 0.3
    assert lrs[-1] < 0.01 / 25 / 100


@pytest.mark.parametrize(
    ("option", "cls"), [("adamw", torch.optim.AdamW), ("adam", torch.optim.Adam), ("sgd", torch.optim.SGD)]
)
def test_optimizers_take_decay_on_kernels_only(tmp_path, option, cls):
    module, opt, _, _ = lr_curve(tmp_path, f"model/optim={option}")
    assert type(opt) is cls and opt.defaults["lr"] == pytest.approx(0.003)  # the model's lr wins
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == pytest.approx(0.0001) and no_decay["weight_decay"] == 0.0
    assert all(p.ndim >= 2 for p in decay["params"]) and all(p.ndim < 2 for p in no_decay["params"])
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(module.parameters()))

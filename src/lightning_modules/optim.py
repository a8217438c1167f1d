"""Optimizer and learning-rate schedule of every model, from the `_partial_` nodes `model.optim` / `model.schedule`.

`model.optim` (conf/model/optim/) is a partial torch optimizer (AdamW, Adam, SGD) and `model.schedule`
(conf/model/schedule/) a partial schedule taking `(optimizer, total_steps, steps_per_epoch)`: warm-up +
cosine, warm-up + constant (both below) or torch's `OneCycleLR` (its `max_lr` is `model.optim.lr`). Weight decay applies to weights of
rank >= 2 only (conv and linear kernels); norms and biases get none, as in timm and ultralytics. The
schedule steps every optimizer step, so short runs warm up too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import torch
from torch import nn

from src.errors import ConfigError, check


def param_groups(
    modules: list[nn.Module],
    weight_decay: float,
    pretrained: nn.Module | None = None,
    lr: float | None = None,
    lr_mult: float = 1.0,
) -> list[dict]:
    """Two groups: kernels with weight decay, norms/biases/embeddings of rank < 2 without; with a
    `pretrained` part and `lr_mult` != 1, two more for that part's parameters at lr × lr_mult."""
    own = {id(p) for p in pretrained.parameters()} if pretrained is not None and lr_mult != 1.0 else set()
    groups = {(k, d): [] for k in (False, True) for d in (True, False)}  # (pretrained?, decay?) -> params
    seen = set()
    for module in modules:
        for p in module.parameters():
            if not p.requires_grad or id(p) in seen:
                continue
            seen.add(id(p))
            groups[(id(p) in own, p.ndim >= 2)].append(p)
    result = [
        {"params": groups[(False, True)], "weight_decay": weight_decay},
        {"params": groups[(False, False)], "weight_decay": 0.0},
    ]
    if own:
        for decay in (True, False):
            result.append(
                {
                    "params": groups[(True, decay)],
                    "weight_decay": weight_decay if decay else 0.0,
                    "lr": lr * lr_mult,
                    "lr_mult": lr_mult,
                }
            )
    return result


def _warmup_factor(step: int, warmup: int, warmup_start: float) -> float:
    return warmup_start + (1 - warmup_start) * step / warmup


def _check_warmup(warmup_epochs: float, warmup_start: float) -> None:
    check(warmup_epochs >= 0, "schedule.warmup_epochs", "a value >= 0", warmup_epochs)
    check(0 < warmup_start <= 1, "schedule.warmup_start", "a value in (0, 1]", warmup_start)


def warmup_cosine(
    optimizer: torch.optim.Optimizer,
    total_steps: int,
    steps_per_epoch: int,
    *,
    warmup_epochs: float,
    warmup_start: float,
    min_lr_ratio: float,
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up from lr·warmup_start to lr over `warmup_epochs`, then cosine down to lr·min_lr_ratio."""
    _check_warmup(warmup_epochs, warmup_start)
    check(0 <= min_lr_ratio <= 1, "schedule.min_lr_ratio", "a value in [0, 1]", min_lr_ratio)
    warmup = int(round(warmup_epochs * steps_per_epoch))

    def factor(step: int) -> float:
        if step < warmup:
            return _warmup_factor(step, warmup, warmup_start)
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def warmup_constant(
    optimizer: torch.optim.Optimizer,
    total_steps: int,
    steps_per_epoch: int,
    *,
    warmup_epochs: float,
    warmup_start: float,
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up from lr·warmup_start to lr over `warmup_epochs`, then lr."""
    _check_warmup(warmup_epochs, warmup_start)
    warmup = int(round(warmup_epochs * steps_per_epoch))
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: _warmup_factor(step, warmup, warmup_start) if step < warmup else 1.0
    )


def check_optim(optim: Callable, schedule: Callable) -> None:
    """Build the optimizer and schedule once on a dummy parameter: bad values fail before any work."""
    for name, node in (("optim", optim), ("schedule", schedule)):
        check(callable(node), name, "a `_partial_: true` node of conf/model/" + name, type(node).__name__)
    keys = optim.keywords if isinstance(optim, partial) else {}
    check(keys.get("lr", 1.0) > 0, "optim.lr", "a positive learning rate", keys.get("lr"))
    wd = keys.get("weight_decay", 0.0)
    check(wd >= 0, "optim.weight_decay", "a value >= 0", wd)
    try:
        opt = optim(params=[nn.Parameter(torch.zeros(2, 2))])
    except ConfigError:
        raise
    except (TypeError, ValueError) as err:
        raise ConfigError("optim", str(err)) from None
    try:
        schedule(opt, total_steps=100, steps_per_epoch=10)
    except ConfigError:
        raise
    except (TypeError, ValueError) as err:
        raise ConfigError("schedule", str(err)) from None


def build_optimizer(
    modules: list[nn.Module],
    optim: Callable,
    schedule: Callable,
    total_steps: int,
    steps_per_epoch: int,
    pretrained: nn.Module | None = None,
    lr_mult: float = 1.0,
) -> dict:
    """The dict Lightning's `configure_optimizers` returns; the schedule steps every optimizer step.
    `pretrained` / `lr_mult`: that part's lr is lr × lr_mult (OneCycleLR's max_lr too)."""
    keys = optim.keywords if isinstance(optim, partial) else {}
    weight_decay = keys.get("weight_decay", 0.0)
    groups = param_groups(modules, weight_decay, pretrained, keys.get("lr"), lr_mult)
    opt = optim(params=groups)
    max_lr = schedule.keywords.get("max_lr") if isinstance(schedule, partial) else None
    if isinstance(max_lr, int | float):  # OneCycleLR: one peak per group
        schedule = partial(schedule, max_lr=[max_lr * g.get("lr_mult", 1.0) for g in opt.param_groups])
    sched = schedule(opt, total_steps=max(1, total_steps), steps_per_epoch=max(1, steps_per_epoch))
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

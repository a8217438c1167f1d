"""Optimizer and learning-rate schedule shared by every model: AdamW/SGD, warm-up + cosine/one-cycle.

Weight decay applies to weights of rank >= 2 only (conv and linear kernels); norms and biases get
none, as in timm and ultralytics. The schedule steps every optimizer step, so short runs warm up too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from src.utils.errors import check, check_choice

OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULES = ("cosine", "onecycle", "constant")


@dataclass
class OptimConfig:
    """The `model.optim` block."""

    name: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9  # SGD momentum / Adam beta1
    schedule: str = "cosine"
    warmup_epochs: float = 1.0  # linear warm-up from lr * warmup_start to lr
    warmup_start: float = 0.1
    min_lr_ratio: float = 0.01  # final lr = lr * min_lr_ratio

    def __post_init__(self):
        check_choice(self.name, "optim.name", OPTIMIZERS)
        check_choice(self.schedule, "optim.schedule", SCHEDULES)
        check(self.lr > 0, "optim.lr", "a positive learning rate", self.lr)
        check(self.weight_decay >= 0, "optim.weight_decay", "a value >= 0", self.weight_decay)
        check(self.warmup_epochs >= 0, "optim.warmup_epochs", "a value >= 0", self.warmup_epochs)
        check(0 <= self.min_lr_ratio <= 1, "optim.min_lr_ratio", "a value in [0, 1]", self.min_lr_ratio)
        check(0 < self.warmup_start <= 1, "optim.warmup_start", "a value in (0, 1]", self.warmup_start)


def param_groups(modules: list[nn.Module], weight_decay: float) -> list[dict]:
    """Two groups: kernels with weight decay, norms/biases/embeddings of rank < 2 without."""
    decay, no_decay, seen = [], [], set()
    for module in modules:
        for p in module.parameters():
            if not p.requires_grad or id(p) in seen:
                continue
            seen.add(id(p))
            (decay if p.ndim >= 2 else no_decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def lr_factor(step: int, total: int, warmup: int, cfg: OptimConfig) -> float:
    """Multiplier of the base lr at optimizer step `step` of `total` (warm-up then the schedule)."""
    if warmup > 0 and step < warmup:
        return cfg.warmup_start + (1 - cfg.warmup_start) * step / warmup
    if cfg.schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    if cfg.schedule == "cosine":
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    return max(cfg.min_lr_ratio, 1 - progress)  # onecycle: linear decay after the warm-up peak


def build_optimizer(
    modules: list[nn.Module], cfg: OptimConfig, total_steps: int, steps_per_epoch: int
) -> dict:
    """The dict Lightning's `configure_optimizers` returns, with a per-step LambdaLR."""
    groups = param_groups(modules, cfg.weight_decay)
    if cfg.name == "sgd":
        opt = torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=True)
    elif cfg.name == "adam":
        opt = torch.optim.Adam(groups, lr=cfg.lr, betas=(cfg.momentum, 0.999))
    else:
        opt = torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.momentum, 0.999))
    warmup = int(round(cfg.warmup_epochs * steps_per_epoch))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, total_steps, warmup, cfg))
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

"""The two ways the benchmarks train: a plain PyTorch loop and our Lightning Trainer, on the same
LightningModule (its loss, optimizer, schedule), the same EMA, the same DataModule and the same threads.

The plain loop is what a user would write by hand: `for batch in loader: loss.backward(); opt.step();
sched.step()`. It calls the module's own `compute_losses` and, when the run config has `callbacks.ema`,
updates a `torch.optim.swa_utils.AveragedModel` with the same warm-up EMA, so both paths do the same
arithmetic and differ only by the framework around it.
"""

from __future__ import annotations

import copy
import time
from contextlib import contextmanager
from pathlib import Path

import torch

from src.lightning_modules.optim import build_optimizer


@contextmanager
def threads_of(wanted: int | None):
    """Torch threads as a run of the config uses them on CPU (its `cpu_threads`), restored after."""
    before = torch.get_num_threads()
    if wanted:
        torch.set_num_threads(int(wanted))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def averaged_model(module, run_cfg):
    """The EMA that `callbacks.ema` of `run_cfg` would keep, as a plain AveragedModel (None without it)."""
    node = (run_cfg.get("callbacks") or {}).get("ema") if run_cfg is not None else None
    if not node:
        return None
    from functools import partial

    from torch.optim.swa_utils import AveragedModel

    from src.runtime.callbacks.ema import warmup_ema

    avg_fn = partial(warmup_ema, float(node.decay), float(node.warmup_steps))
    return AveragedModel(module, use_buffers=True, avg_fn=avg_fn)


def colour(datamodule, batch, epoch: int, index: int):
    """What the Trainer's `on_after_batch_transfer` does to a training batch (`batch_colour: true`)."""
    if getattr(datamodule, "batch_colour", False):
        return datamodule.colour_batch(batch, epoch, index)
    return batch


def end_workers(loader) -> None:
    """Stop the persistent workers of `loader` now (Lightning's teardown does the same at the end of a fit)."""
    iterator = getattr(loader, "_iterator", None)
    if iterator is not None and hasattr(iterator, "_shutdown_workers"):
        iterator._shutdown_workers()
    loader._iterator = None


def plain_epoch(module, datamodule, max_batches: int | None = None, epochs: int = 1, run_cfg=None) -> dict:
    """Train `module` for one epoch (of at most `max_batches`) in a plain loop; returns timings.
    `run_cfg`: the composed run config, for its `cpu_threads` and `callbacks.ema`.

    `wait` is the time spent in `next(loader)`: the training process waiting for a batch.
    """
    # a plain loop has no Trainer: one attached by an earlier fit would set the loader's batch limit and epoch
    datamodule.trainer = None
    datamodule.setup("fit")
    module.train()
    with threads_of(run_cfg.get("cpu_threads") if run_cfg is not None else None):
        t_start = time.perf_counter()
        if hasattr(module, "head"):  # what Detector.setup does before fitting (k-means anchors)
            module.head.prepare(datamodule, "fit")
        ema = averaged_model(module, run_cfg)
        loader = datamodule.train_dataloader()
        steps = min(len(loader), max_batches or len(loader))
        opt_cfg = build_optimizer([module], module.optim, module.schedule, steps * epochs, steps)
        opt, sched = opt_cfg["optimizer"], opt_cfg["lr_scheduler"]["scheduler"]
        per_epoch = []
        for epoch in range(epochs):
            t_epoch, waited, first_wait, n = time.perf_counter(), 0.0, 0.0, 0
            it = iter(loader)
            while n < steps:
                t0 = time.perf_counter()
                try:
                    batch = next(it)
                except StopIteration:
                    break
                dt = time.perf_counter() - t0
                waited += dt
                if n == 0:
                    first_wait = dt
                batch = colour(datamodule, batch, epoch, n)
                loss = module.compute_losses(batch)["loss"]
                opt.zero_grad(set_to_none=True)
                loss.backward()
                module.on_before_optimizer_step(opt)
                opt.step()
                sched.step()
                if ema is not None:
                    ema.update_parameters(module)
                n += 1
            del it
            per_epoch.append(
                {
                    "seconds": time.perf_counter() - t_epoch,
                    "wait": waited,
                    "first_wait": first_wait,
                    "steps": n,
                }
            )
        # the loop ends its loader workers as it ends (as the Trainer's teardown does, inside its time)
        end_workers(loader)
        total = time.perf_counter() - t_start
    return {"seconds": total, "epochs": per_epoch}


def trainer_config(cfg, out_dir: Path, max_batches: int | None = None, epochs: int = 1):
    """A copy of the run config `cfg` whose Trainer runs `epochs` without validation or checkpoints."""
    from omegaconf import open_dict

    cfg = copy.deepcopy(cfg)
    with open_dict(cfg):
        cfg.trainer.max_epochs = epochs
        cfg.trainer.min_epochs = 1
        cfg.trainer.limit_val_batches = 0
        cfg.trainer.num_sanity_val_steps = 0
        cfg.trainer.enable_checkpointing = False
        cfg.trainer.enable_model_summary = False
        cfg.trainer.default_root_dir = str(out_dir)
        if max_batches:
            cfg.trainer.limit_train_batches = max_batches
        for lg in (cfg.get("logger") or {}).values():
            if lg and "save_dir" in lg:
                lg.save_dir = str(out_dir)
    return cfg


def build_trainer(cfg):
    """The Trainer a user gets from the run config `cfg` (its callbacks and loggers)."""
    import hydra

    from src.runtime.config.instantiate import build_all
    from src.runtime.runs.cpu_threads import apply_cpu_threads

    callbacks = build_all(cfg.get("callbacks"), "callbacks")
    loggers = build_all(cfg.get("logger"), "logger")
    trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    apply_cpu_threads(cfg.get("cpu_threads"), trainer)
    return trainer


def lightning_trainer(cfg, out_dir: Path, max_batches: int | None = None, epochs: int = 1):
    """The Trainer a user gets from `cfg` (its callbacks and loggers), for `epochs` without validation."""
    return build_trainer(trainer_config(cfg, out_dir, max_batches, epochs))


def lightning_fit(run_cfg, module, datamodule) -> float:
    """Seconds of building the Trainer of `run_cfg` (a `trainer_config`: what a user's run builds) and
    `trainer.fit` of `module` (a fresh copy: the caller makes it, untimed, as for the plain loop)."""
    before = torch.get_num_threads()
    try:
        t0 = time.perf_counter()
        build_trainer(run_cfg).fit(module, datamodule=datamodule)
        return time.perf_counter() - t0
    finally:
        torch.set_num_threads(before)

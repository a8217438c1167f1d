"""The flow of one run: validate → build data, model, trainer → fit → validate/test best → outputs."""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
import lightning.pytorch as pl
from omegaconf import DictConfig, OmegaConf

from src.runtime.atomic_checkpoint import AtomicCheckpointIO
from src.runtime.finite_guard import FiniteGuard
from src.runtime.resume import prepare_resume, resolve_ckpt
from src.utils.config_check import validate
from src.utils.ddp import prepare_ddp_relaunch
from src.utils.errors import ConfigError
from src.utils.instantiate import build, build_all
from src.utils.run_outputs import print_metrics, split_metrics, write_metrics

log = logging.getLogger("imagelab")


def plain_config(cfg: DictConfig) -> dict:
    """The resolved run config as nested dicts, without Hydra's own `hydra` node."""
    return {
        k: OmegaConf.to_container(cfg._get_node(k), resolve=True)
        if OmegaConf.is_config(cfg._get_node(k))
        else cfg[k]
        for k in cfg
        if k != "hydra"
    }


def setup_run(cfg: DictConfig):
    """Validate the config and build datamodule, model, trainer (nothing is trained yet)."""
    validate(cfg)
    if cfg.get("seed") is not None:
        pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    datamodule = build(cfg.data, "data")
    model = build(cfg.model, "model")
    callbacks = [*build_all(cfg.get("callbacks"), "callbacks"), FiniteGuard()]  # not optional: see its module
    loggers = build_all(cfg.get("logger"), "logger")
    trainer: pl.Trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    trainer.strategy.checkpoint_io = AtomicCheckpointIO()  # a full disk never leaves half a checkpoint
    for lg in loggers:
        lg.log_hyperparams(plain_config(cfg))
    prepare_ddp_relaunch(trainer)  # DDP popen inside a multirun: relaunch ranks as this job only
    return datamodule, model, trainer


def best_checkpoint(trainer: pl.Trainer) -> str | None:
    ckpt_cb = trainer.checkpoint_callback
    path = getattr(ckpt_cb, "best_model_path", "") if ckpt_cb is not None else ""
    return path or None


def finish(cfg: DictConfig, trainer: pl.Trainer, metrics: dict) -> dict:
    """Write metrics.json and print the table (rank 0 only)."""
    run_dir = Path(cfg.paths.output_dir)
    if trainer.is_global_zero:
        write_metrics(run_dir / "metrics.json", metrics)
        print_metrics(metrics, run_dir)
    return metrics


def train(cfg: DictConfig) -> float | None:
    """Train (and test) one model; returns the optimized metric for sweepers."""
    datamodule, model, trainer = setup_run(cfg)
    run_dir = Path(cfg.paths.output_dir)
    metrics: dict[str, float] = {}
    if cfg.get("train", True):
        ckpt = prepare_resume(cfg.get("ckpt_path"), run_dir, trainer.loggers)
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt, weights_only=True)
        metrics.update(split_metrics(trainer.callback_metrics, ("val/",)))
    best = best_checkpoint(trainer)
    fast = bool(trainer.fast_dev_run)
    if cfg.get("train", True) and best and not fast:
        trainer.validate(model, datamodule=datamodule, ckpt_path=best, verbose=False, weights_only=True)
        metrics.update(split_metrics(trainer.callback_metrics, ("val/",)))
    if cfg.get("test", True):
        ckpt = (
            best
            if (best and not fast)
            else (None if cfg.get("train", True) else resolve_ckpt(cfg.get("ckpt_path"), run_dir))
        )
        trainer.test(
            model, datamodule=datamodule, ckpt_path=ckpt, verbose=False, weights_only=True if ckpt else None
        )
        metrics.update(split_metrics(trainer.callback_metrics, ("test/",)))
    finish(cfg, trainer, metrics)
    value = metrics.get(cfg.get("optimized_metric") or "")
    return value


def evaluate(cfg: DictConfig) -> dict:
    """Evaluate a checkpoint on the `split` of the configured data."""
    datamodule, model, trainer = setup_run(cfg)
    ckpt = resolve_ckpt(cfg.ckpt_path, Path(cfg.paths.output_dir))
    split = cfg.get("split", "test")
    if split not in ("val", "test"):
        raise ConfigError("split", f"expected 'val' or 'test' (got {split!r})")
    run = trainer.validate if split == "val" else trainer.test
    run(model, datamodule=datamodule, ckpt_path=ckpt, verbose=False, weights_only=True)
    metrics = split_metrics(trainer.callback_metrics, (f"{split}/",))
    return finish(cfg, trainer, metrics)

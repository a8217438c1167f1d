"""The flow of one run: validate → build data, model, trainer → fit → validate/test best → outputs."""

from __future__ import annotations

import inspect
import logging
from pathlib import Path

import hydra
import lightning.pytorch as pl
from hydra.utils import get_method
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

from src.errors import ConfigError
from src.outputs.run_outputs import print_metrics, split_metrics, write_metrics
from src.runtime.callbacks.checkpoint_facts import CheckpointFacts
from src.runtime.callbacks.finite_guard import FiniteGuard
from src.runtime.checkpoints.atomic_checkpoint import AtomicCheckpointIO
from src.runtime.checkpoints.checkpoint_check import (
    check_fits,
    load_checkpoint,
    use_checkpoint_model,
    use_run_data,
)
from src.runtime.checkpoints.checkpoint_facts import facts_of
from src.runtime.checkpoints.resume import prepare_resume, resolve_ckpt
from src.runtime.config.config_check import validate
from src.runtime.config.instantiate import build, build_all
from src.runtime.runs.cpu_threads import apply_cpu_threads
from src.runtime.runs.ddp import prepare_ddp_relaunch

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


def build_data(cfg: DictConfig):
    """Build the datamodule and write what it read from the files into the config before the model is
    built: `data.num_classes: auto` becomes the dataset's count (so `model.num_classes:
    ${data.num_classes}` follows) and a model taking `class_names` gets the dataset's names."""
    datamodule = build(cfg.data, "data")
    count, names = getattr(datamodule, "num_classes", None), getattr(datamodule, "class_names", None)
    if cfg.data.get("num_classes") == "auto" and isinstance(count, int):
        cfg.data.num_classes = count
        log.info("data.num_classes=auto: %d classes %s", count, list(names or []))
    if names and "class_names" in inspect.signature(get_method(cfg.model._target_)).parameters:
        with open_dict(cfg.model):
            cfg.model.class_names = list(names)
    return datamodule


def setup_run(cfg: DictConfig, checkpoint: tuple[str, dict] | None = None):
    """Validate the config and build datamodule, model, trainer (nothing is trained yet); a
    `(path, checkpoint)` to resume or evaluate must fit the model before loggers or callbacks start."""
    validate(cfg)
    if cfg.get("seed") is not None:
        pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    datamodule = build_data(cfg)
    model = build(cfg.model, "model")
    use_weights_normalisation(cfg, datamodule, model)
    if checkpoint is not None:
        check_fits(checkpoint[0], checkpoint[1], model, cfg)
    callbacks = [
        *build_all(cfg.get("callbacks"), "callbacks"),
        CheckpointFacts.from_config(cfg),
        FiniteGuard(),
    ]
    loggers = build_all(cfg.get("logger"), "logger")
    trainer: pl.Trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    trainer.strategy.checkpoint_io = AtomicCheckpointIO()  # a full disk never leaves half a checkpoint
    apply_cpu_threads(cfg.get("cpu_threads"), trainer)
    for lg in loggers:
        lg.log_hyperparams(plain_config(cfg))
    prepare_ddp_relaunch(trainer)  # DDP popen inside a multirun: relaunch ranks as this job only
    return datamodule, model, trainer


def use_weights_normalisation(cfg: DictConfig, datamodule, model) -> None:
    """Pretrained weights by name bring the mean/std they were trained with: the data normalises with
    them unless `data.mean` / `data.std` are given; the input size they were trained with is logged."""
    part = next((m for m in model.modules() if getattr(m, "normalisation", None)), None)
    if part is None or not hasattr(datamodule, "use_normalisation"):
        return
    norm = part.normalisation
    size = norm.get("input_size")
    if "mean" in norm and "std" in norm and "mean" not in cfg.data and "std" not in cfg.data:
        datamodule.use_normalisation(norm["mean"], norm["std"])
        log.info(
            "data: normalised with the pretrained weights' mean %s, std %s (trained at %s; data.image_size=%s)",
            norm["mean"],
            norm["std"],
            "x".join(map(str, size[1:])) if size else "?",
            cfg.data.get("image_size"),
        )


def best_checkpoint(trainer: pl.Trainer) -> str | None:
    ckpt_cb = trainer.checkpoint_callback
    path = getattr(ckpt_cb, "best_model_path", "") if ckpt_cb is not None else ""
    return path or None


def finish(cfg: DictConfig, trainer: pl.Trainer, metrics: dict, model=None) -> dict:
    """Write metrics.json (the numbers, and the model's last confusion matrices of the splits evaluated)
    and print the table (rank 0 only)."""
    run_dir = Path(cfg.paths.output_dir)
    splits = {key.split("/", 1)[0] for key in metrics}
    metrics.update({k: v for k, v in getattr(model, "confusion", {}).items() if k.split("/", 1)[0] in splits})
    if trainer.is_global_zero:
        write_metrics(run_dir / "metrics.json", metrics)
        print_metrics(metrics, run_dir)
    return metrics


def train(cfg: DictConfig) -> float | None:
    """Train (and test) one model; returns the optimized metric for sweepers."""
    validate(cfg)
    run_dir = Path(cfg.paths.output_dir)
    ckpt = resolve_ckpt(cfg.get("ckpt_path"), run_dir) if cfg.get("train", True) else None
    # a resume: the file complete and of this model and width, before any work
    datamodule, model, trainer = setup_run(cfg, (ckpt, load_checkpoint(ckpt)) if ckpt else None)
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
    finish(cfg, trainer, metrics, model)
    names = cfg.get("optimized_metric")
    if isinstance(names, (list, tuple, ListConfig)):  # several objectives (hydra.sweeper.direction: a list)
        return [metrics.get(name) for name in names]
    return metrics.get(names or "")


def evaluate(cfg: DictConfig) -> dict:
    """Evaluate a checkpoint on the `split` of the configured data; the model config comes from it."""
    validate(cfg)
    split = cfg.get("split", "test")
    if split not in ("val", "test"):
        raise ConfigError("split", f"expected 'val' or 'test' (got {split!r})")
    ckpt = resolve_ckpt(cfg.ckpt_path, Path(cfg.paths.output_dir))
    checkpoint = load_checkpoint(ckpt)
    run = use_run_data(cfg, ckpt)
    if run is not None:
        log.info("data: %s's, as it was trained (data=... picks other data)", run)
    use_checkpoint_model(cfg, checkpoint, ckpt)
    datamodule, model, trainer = setup_run(cfg, (ckpt, checkpoint))
    check_classes(ckpt, model, datamodule, run)
    trained = facts_of(checkpoint).get("data", {})  # the normalisation the model was trained with
    if trained.get("mean") and hasattr(datamodule, "use_normalisation") and "mean" not in cfg.data:
        datamodule.use_normalisation(trained["mean"], trained["std"])
    del checkpoint
    run = trainer.validate if split == "val" else trainer.test
    run(model, datamodule=datamodule, ckpt_path=ckpt, verbose=False, weights_only=True)
    metrics = split_metrics(trainer.callback_metrics, (f"{split}/",))
    return finish(cfg, trainer, metrics, model)


def check_classes(ckpt: str, model, datamodule, run: Path | None = None) -> None:
    """The data must have the class count the checkpoint's model was trained with."""
    trained, given = getattr(model, "num_classes", None), getattr(datamodule, "num_classes", None)
    if trained is not None and given is not None and trained != given:
        hint = (
            ""
            if run is not None
            else " (no run folder with .hydra/config.yaml next to the checkpoint to read its data from:"
            " give data=<its format> data.root=<its folder>)"
        )
        raise ConfigError(
            "data.num_classes",
            f"is {given} but {ckpt} was trained with {trained} classes; evaluate on data with {trained}"
            f" classes{hint}",
        )

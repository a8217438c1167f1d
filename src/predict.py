"""`predict.py ckpt_path=<ckpt> +source=<image or folder>`: prediction through the Lightning Trainer.

The model config and the data facts (input size, normalisation, class names) come from the checkpoint
(`src/runtime/checkpoints/checkpoint_facts.py`); the images go through one dataset (`PredictImages`), batched by
`batch_size` with `num_workers` loader workers, to the task module's `predict_step`, on the accelerator
and precision of `trainer:`, and a task writer (`src/outputs/*_writer.py`) puts the results on disk:
- segmentation: `predictions/<stem>_mask.png` (class ids, palette) and `<stem>_overlay.png`;
- detection: `detections.json` (COCO results) and `predictions/<stem>.png` with the boxes drawn;
- verification: `embeddings.npz`, and `pair_scores.csv` for `+pair=[a,b]` or `+pairs=<file>`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import hydra
import lightning.pytorch as pl
import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader

from src.data.common.image_files import image_sources
from src.data.common.predict_images import PredictImages, PredictInput
from src.datamodules.base import default_workers, worker_context
from src.errors import ConfigError, DataError, check
from src.outputs.writers import WRITERS
from src.pipeline import build_data, resolve_ckpt
from src.runtime.checkpoints.checkpoint_check import check_fits, load_checkpoint, use_checkpoint_model
from src.runtime.checkpoints.checkpoint_facts import data_facts, facts_of
from src.runtime.config.config_check import task_of, validate
from src.runtime.config.instantiate import build

log = logging.getLogger("imagelab")


def read_pairs(cfg: DictConfig) -> list[tuple[Path, Path]]:
    """`+pair=[a,b]` and/or `+pairs=<file>` (two image paths a line, comma or whitespace separated;
    relative paths are relative to the file's folder)."""
    pairs = []
    pair = cfg.get("pair")
    if pair is not None:
        if isinstance(pair, str) or len(pair) != 2:
            raise ConfigError("pair", f"expected two image paths, +pair=[a.jpg,b.jpg] (got {pair!r})")
        pairs.append(tuple(Path(str(p)).expanduser() for p in pair))
    listing = cfg.get("pairs")
    if listing is not None:
        file = Path(str(listing)).expanduser()
        if not file.is_file():
            raise ConfigError("pairs", f"{file} is not a file (two image paths a line)")
        for number, line in enumerate(file.read_text().splitlines(), 1):
            fields = line.replace(",", " ").split()
            if not fields or fields[0].startswith("#"):
                continue
            if len(fields) != 2:
                raise DataError(file, f"expected two image paths, got {len(fields)} fields", number)
            pairs.append(tuple(p if p.is_absolute() else file.parent / p for p in map(Path, fields)))
    for a, b in pairs:
        for p in (a, b):
            if not p.is_file():
                raise DataError(p, "image of a pair not found")
    return pairs


def inputs_of(cfg: DictConfig, takes_pairs: bool) -> tuple[list[Path], list[tuple[int, int]]]:
    """The files to predict on and, for a task that takes pairs (verification), the pairs as indices."""
    if not takes_pairs:
        return image_sources(cfg.get("source")), []
    pairs = read_pairs(cfg)
    if cfg.get("source") is None and not pairs:
        raise ConfigError(
            "pair", "give two images (+pair=[a.jpg,b.jpg]), a pairs list (+pairs=<file>) or +source=<folder>"
        )
    files = image_sources(cfg.source, recursive=True) if cfg.get("source") is not None else []
    index = {f.resolve(): i for i, f in enumerate(files)}
    for p in (p for pair in pairs for p in pair):
        if p.resolve() not in index:
            index[p.resolve()] = len(files)
            files.append(p)
    return files, [(index[a.resolve()], index[b.resolve()]) for a, b in pairs]


def loader_settings(cfg: DictConfig) -> tuple[int, int]:
    """(batch_size, num_workers) of the predict loader, checked."""
    batch_size, workers = cfg.batch_size, cfg.num_workers
    check(isinstance(batch_size, int) and batch_size >= 1, "batch_size", "an integer >= 1", batch_size)
    workers = default_workers() if workers == "auto" else workers
    check(isinstance(workers, int) and workers >= 0, "num_workers", "an integer >= 0 or 'auto'", workers)
    return batch_size, workers


def predict_loader(cfg: DictConfig, files, model, facts: dict) -> DataLoader:
    size, resize = WRITERS[model.task].input_rule(model, facts)
    prepare = PredictInput(size, resize, facts.get("mean"), facts.get("std"))
    batch_size, workers = loader_settings(cfg)
    return DataLoader(
        PredictImages(files, prepare, facts.get("crop")),
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        pin_memory=torch.cuda.is_available(),
        multiprocessing_context=worker_context() if workers > 0 else None,
    )


def predict(cfg: DictConfig) -> dict:
    validate(cfg)
    out_dir = Path(cfg.paths.output_dir)
    ckpt = resolve_ckpt(cfg.ckpt_path, out_dir)
    checkpoint = load_checkpoint(ckpt)
    use_checkpoint_model(cfg, checkpoint, ckpt)
    validate(cfg)
    files, pairs = inputs_of(cfg, WRITERS[task_of(cfg.model, "model")].takes_pairs)
    loader_settings(cfg)
    model = build(cfg.model, "model")
    check_fits(ckpt, checkpoint, model, cfg)
    facts = facts_of(checkpoint).get("data")
    if not facts:  # a checkpoint from before the facts were stored: the configured data says
        facts = data_facts(build_data(cfg), dict(cfg.model))
    model.load_state_dict(checkpoint["state_dict"])
    del checkpoint
    writer = WRITERS[model.task].for_run(out_dir, files, pairs, model, facts)
    trainer: pl.Trainer = hydra.utils.instantiate(cfg.trainer, callbacks=[writer], logger=False)
    if trainer.world_size > 1:  # the writers gather nothing across processes
        raise ConfigError(
            "trainer.devices", f"predict runs on one device (got {trainer.world_size}): trainer.devices=1"
        )
    loader = predict_loader(cfg, files, model, facts)
    trainer.predict(model, dataloaders=loader, return_predictions=False)
    summary = {
        **writer.summary(),
        "accelerator": type(trainer.accelerator).__name__.removesuffix("Accelerator").lower(),
        "precision": str(trainer.precision),
        "batch_size": loader.batch_size,
        "num_workers": loader.num_workers,
        "batch_sizes": writer.batch_sizes,
    }
    print(json.dumps(summary, indent=2, default=str))
    print(f"Outputs: {out_dir}")
    return summary

"""`python tools.py mistakes ckpt_path=<ckpt>`: per-image results of a checkpoint and its k worst images.

The model (config, width, class names, thresholds) comes from the checkpoint as in `eval.py`; the
configured data's `split` loader feeds `trainer.predict` (the accelerator and precision of `trainer:`)
through a thin module that asks the task's scorer (src/tools/mistake_scores.py) for one row per image
or pair. Outputs: `mistakes.csv` (every row, worst first) and `mistakes.png` (the k worst, predictions
drawn), and the split's totals from the rows printed.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import hydra
import lightning.pytorch as pl
from omegaconf import DictConfig

from src.errors import ConfigError, check
from src.pipeline import build_data, check_classes
from src.runtime.checkpoints.checkpoint_check import check_fits, load_checkpoint, use_checkpoint_model
from src.runtime.checkpoints.resume import resolve_ckpt
from src.runtime.config.config_check import validate
from src.runtime.config.instantiate import build
from src.runtime.runs.cpu_threads import apply_cpu_threads
from src.tools.mistake_scores import DetectionScorer, SegmentationScorer, VerificationScorer


class Probe(pl.LightningModule):
    """Holds the task module; each predict batch becomes the scorer's rows."""

    def __init__(self, model, scorer):
        super().__init__()
        self.model, self.scorer = model, scorer

    def predict_step(self, batch, batch_idx: int) -> list[dict]:
        return self.scorer.rows(batch)


def scorer_for(model, names: list[str], datamodule):
    scorers = {
        "detection": lambda: DetectionScorer(model, datamodule),
        "segmentation": lambda: SegmentationScorer(model, names),
        "verification": lambda: VerificationScorer(model),
    }
    if model.task not in scorers:
        raise ConfigError(
            "ckpt_path",
            f"a {model.task} model has no per-image results; mistakes takes {sorted(scorers)} models",
        )
    return scorers[model.task]()


def loader_of(datamodule, split: str):
    datamodule.setup("validate" if split == "val" else "test")
    return datamodule.val_dataloader() if split == "val" else datamodule.test_dataloader()


def write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def mistakes(cfg: DictConfig) -> dict:
    validate(cfg)
    split, k = cfg.get("split", "val"), cfg.get("k", 8)
    if split not in ("val", "test"):
        raise ConfigError("split", f"expected 'val' or 'test' (got {split!r})")
    check(isinstance(k, int) and k >= 1, "k", "an integer >= 1", k)
    out_dir = Path(cfg.paths.output_dir)
    ckpt = resolve_ckpt(cfg.ckpt_path, out_dir)
    checkpoint = load_checkpoint(ckpt)
    use_checkpoint_model(cfg, checkpoint, ckpt)
    validate(cfg)  # the checkpoint's model with the configured data: a task mismatch is one line here
    if cfg.get("seed") is not None:
        pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    datamodule = build_data(cfg)
    model = build(cfg.model, "model")
    check_fits(ckpt, checkpoint, model, cfg)
    check_classes(ckpt, model, datamodule)
    model.load_state_dict(checkpoint["state_dict"])
    del checkpoint
    model.eval()
    names = model.class_names(datamodule) if hasattr(model, "num_classes") else []
    scorer = scorer_for(model, names, datamodule)
    trainer: pl.Trainer = hydra.utils.instantiate(cfg.trainer, logger=False, callbacks=[])
    if trainer.world_size > 1:  # the rows are gathered from one process
        raise ConfigError(
            "trainer.devices", f"mistakes runs on one device (got {trainer.world_size}): trainer.devices=1"
        )
    apply_cpu_threads(cfg.get("cpu_threads"), trainer)
    loader = loader_of(datamodule, split)
    batches = trainer.predict(Probe(model, scorer), dataloaders=loader)
    rows = [{"index": i, **row} for i, row in enumerate(r for batch in batches for r in batch)]
    if not rows:
        raise ConfigError("split", f"the {split} split of this data is empty")
    ordered = scorer.worst(rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(out_dir / "mistakes.csv", ordered)
    chosen = ordered[:k]
    batch = loader.collate_fn([loader.dataset[r["index"]] for r in chosen])
    batch = trainer.strategy.batch_to_device(batch)
    import matplotlib.pyplot as plt
    import torch

    model.to(trainer.strategy.root_device)
    with torch.no_grad():
        fig = scorer.draw(
            batch, chosen, names, getattr(datamodule, "mean", None), getattr(datamodule, "std", None)
        )
    legend = f"; {fig.get_suptitle()}" if fig.get_suptitle() else ""  # the detection grid's key to the boxes
    fig.suptitle(f"the {len(chosen)} worst of {split} ({Path(str(ckpt)).name}){legend}", fontsize=8, y=1.02)
    fig.savefig(out_dir / "mistakes.png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    totals = scorer.totals(rows)
    print(json.dumps({"split": split, "items": len(rows), **totals}, indent=2))
    print(f"Outputs: {out_dir / 'mistakes.csv'} {out_dir / 'mistakes.png'}")
    return {"rows": len(rows), "totals": totals, "worst": chosen}

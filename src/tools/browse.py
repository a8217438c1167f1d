"""`python tools.py browse`: a grid of the images exactly as the model receives them, labels drawn.

The batches come from the configured DataModule's own loaders (`train`: augmentation, mosaic and
mix-up in the workers, then colour jitter and normalisation on the batch as the Trainer applies them;
`val` / `test`: the evaluation transform), so what is drawn is what the network sees, de-normalised
for display: boxes with class names, masks in class colours, a P×K verification batch one identity a
row, verification pairs (and pretraining's two views of an image) side by side.
"""

from __future__ import annotations

import math
from pathlib import Path

import lightning.pytorch as pl
from omegaconf import DictConfig

from src.errors import ConfigError, check
from src.pipeline import build_data
from src.runtime.config.config_check import validate

SPLITS = ("train", "val", "test")


def batches(datamodule, split: str):
    """The split's batches as the model receives them (a training batch coloured as on the device)."""
    datamodule.setup("fit" if split != "test" else "test")
    loader = {
        "train": datamodule.train_dataloader,
        "val": datamodule.val_dataloader,
        "test": datamodule.test_dataloader,
    }[split]()
    for index, batch in enumerate(loader):
        if split == "train" and getattr(datamodule, "batch_colour", False):
            batch = datamodule.colour_batch(batch, epoch=0, batch_index=index)
        yield batch


def collect(datamodule, split: str, n: int) -> list:
    """The first `n` samples (pairs for verification evaluation) as per-sample tuples."""
    from src.data.detection.datasets import target_list

    samples = []
    for batch in batches(datamodule, split):
        if datamodule.task == "detection":
            images, targets = batch
            samples += list(zip(images, target_list(targets)))
        else:
            samples += list(zip(*batch))
        if len(samples) >= n:
            break
    return samples[:n]


def grid(count: int, cols: int, cell: float = 2.2):
    import matplotlib.pyplot as plt

    rows = max(1, math.ceil(count / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cell * cols, cell * rows), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    return fig, axes.ravel()


def draw_detection(samples, datamodule, title: str):
    from matplotlib.patches import Rectangle

    from src.outputs.detection_plots import box_colours
    from src.outputs.plots import to_display

    names, colours = datamodule.class_names, box_colours(datamodule.num_classes)
    fig, axes = grid(len(samples), 4, 3)
    for ax, (image, target) in zip(axes, samples):
        ax.imshow(to_display(image, datamodule.mean, datamodule.std))
        for box, label in zip(target["boxes"].tolist(), target["labels"].tolist()):
            c = colours[label]
            ax.add_patch(Rectangle(box[:2], box[2] - box[0], box[3] - box[1], fill=False, ec=c, lw=1.5))
            ax.text(
                box[0], box[1], names[label], fontsize=6, va="bottom", bbox={"fc": c, "pad": 0.5, "lw": 0}
            )
    fig.suptitle(title, fontsize=9)
    return fig


def draw_segmentation(samples, datamodule, title: str):
    import matplotlib.pyplot as plt

    from src.outputs.plots import class_colours, overlay, to_display

    names = datamodule.class_names
    colours = class_colours(len(names))
    fig, axes = grid(len(samples), 4)
    for ax, (image, mask) in zip(axes, samples):
        ax.imshow(overlay(to_display(image, datamodule.mean, datamodule.std), mask.numpy(), colours))
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[k]) for k in range(1, len(names))]
    fig.legend(handles, names[1:], loc="lower center", ncol=min(6, len(names)), fontsize=7)
    fig.suptitle(title, fontsize=9)
    return fig


def draw_identities(samples, datamodule, title: str):
    """A P×K training batch: one identity a row, in the batch's order of identities."""
    from src.outputs.plots import to_display

    order: dict[int, list] = {}
    for image, identity in samples:
        order.setdefault(int(identity), []).append(image)
    cols = max(len(v) for v in order.values())
    fig, axes = grid(len(order) * cols, cols, 1.6)
    for row, (identity, images) in enumerate(order.items()):
        for col, image in enumerate(images):
            ax = axes[row * cols + col]
            ax.imshow(to_display(image, datamodule.mean, datamodule.std))
            if col == 0:
                ax.set_title(f"identity {identity}", fontsize=7, loc="left")
    fig.suptitle(title, fontsize=9)
    return fig


def draw_pairs(samples, datamodule, title: str):
    """Pairs side by side: verification pairs (`same` or `different` above them) or the two views of
    an image that self-supervised pretraining compares."""
    from src.outputs.plots import to_display

    fig, axes = grid(2 * len(samples), 4, 1.6)
    for i, sample in enumerate(samples):
        for j, image in enumerate(sample[:2]):
            ax = axes[2 * i + j]
            ax.imshow(to_display(image, datamodule.mean, datamodule.std))
            if j == 0:  # (a, b, same, fold) pairs; pretraining gives (view a, view b) of one image
                label = ("same" if bool(sample[2]) else "different") if len(sample) > 2 else "two views"
                ax.set_title(label, fontsize=7, loc="left")
    fig.suptitle(title, fontsize=9)
    return fig


def browse(cfg: DictConfig) -> dict:
    validate(cfg)
    split, n = cfg.get("split", "train"), cfg.get("n", 16)
    if split not in SPLITS:
        raise ConfigError("split", f"expected one of {list(SPLITS)} (got {split!r})")
    check(isinstance(n, int) and n >= 1, "n", "an integer >= 1", n)
    if cfg.get("seed") is not None:
        pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    datamodule = build_data(cfg)
    samples = collect(datamodule, split, n)
    if not samples:
        raise ConfigError("split", f"the {split} split of this data has no images")
    what = "as the model receives them (augmented)" if split == "train" else "without augmentation"
    title = f"{type(datamodule).__name__}: {split}, {len(samples)} {what}"
    draw = {"detection": draw_detection, "segmentation": draw_segmentation}.get(datamodule.task)
    if draw is None:  # verification training: P×K identities; its pairs and pretraining's two views
        draw = draw_identities if split == "train" and datamodule.task == "verification" else draw_pairs
    fig = draw(samples, datamodule, title)
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"browse_{split}.png"
    fig.savefig(path, dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    print(f"Outputs: {path}")
    return {"path": str(path), "samples": len(samples), "task": datamodule.task}

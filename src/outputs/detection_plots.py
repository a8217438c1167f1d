"""Detection pictures: images with true and predicted boxes, PR curves per class, annotated images."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from src.outputs.plots import to_display  # noqa: E402


def box_colours(num_classes: int) -> np.ndarray:
    cmap = plt.get_cmap("tab10" if num_classes <= 10 else "tab20", max(num_classes, 2))
    return np.array([cmap(i)[:3] for i in range(num_classes)])


def detection_grid(
    images, targets, preds, class_names, score_threshold: float, mean=None, std=None, cols: int = 4
):
    """Validation images with true boxes (dashed white, class name) and predictions above the
    threshold (solid, class colour, name and score)."""
    n = len(images)
    rows = max(1, (n + cols - 1) // cols)
    cols = min(cols, n) or 1
    colours = box_colours(len(class_names))
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3 * rows), squeeze=False)
    kwargs = {} if mean is None else {"mean": mean, "std": std}
    for ax in axes.ravel():
        ax.set_axis_off()
    for i in range(n):
        ax = axes.ravel()[i]
        ax.imshow(to_display(images[i], **kwargs))
        for box, label in zip(targets[i]["boxes"].tolist(), targets[i]["labels"].tolist()):
            ax.add_patch(
                Rectangle(box[:2], box[2] - box[0], box[3] - box[1], fill=False, ec="white", ls="--", lw=1)
            )
            ax.text(box[0], box[3], class_names[label], color="white", fontsize=6, va="top")
        p = preds[i]
        keep = p["scores"] >= score_threshold
        for box, label, score in zip(
            p["boxes"][keep].tolist(), p["labels"][keep].tolist(), p["scores"][keep].tolist()
        ):
            c = colours[label]
            ax.add_patch(Rectangle(box[:2], box[2] - box[0], box[3] - box[1], fill=False, ec=c, lw=1.5))
            ax.text(
                box[0],
                box[1],
                f"{class_names[label]} {score:.2f}",
                color="black",
                fontsize=6,
                va="bottom",
                bbox={"fc": c, "pad": 0.5, "lw": 0},
            )
    fig.suptitle(f"dashed: truth · solid: predictions ≥ {score_threshold}", fontsize=9)
    fig.tight_layout()
    return fig


def pr_curves(precision: torch.Tensor, recall_points: torch.Tensor, class_names, aps=None):
    """PR curve per class at one IoU threshold. `precision`: R×K (−1 where undefined), as in COCOeval."""
    fig, ax = plt.subplots(figsize=(5, 4))
    colours = box_colours(len(class_names))
    for k, name in enumerate(class_names):
        p = precision[:, k].numpy()
        if (p < 0).all():
            continue
        label = name if aps is None else f"{name} (AP {aps[k]:.3f})"
        ax.plot(recall_points.numpy(), np.clip(p, 0, 1), color=colours[k], label=label)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title("precision-recall per class, IoU 0.5")
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def coco_pr_curves(precision: torch.Tensor, t50: int, classes: list[int], class_names, ap50: dict):
    """PR curves at IoU 0.5 from COCOeval's precision array (T×R×K×A×M, −1 where undefined); `classes`:
    the class id of each K column, `ap50`: class id → AP@0.5."""
    curves = torch.full((precision.shape[1], len(class_names)), -1.0)
    for k, cls in enumerate(classes):
        if 0 <= cls < len(class_names):
            curves[:, cls] = precision[t50, :, k, 0, -1]
    aps = [ap50.get(c, float("nan")) for c in range(len(class_names))]
    return pr_curves(curves, torch.linspace(0, 1, precision.shape[1]), class_names, aps)


def draw_detections(image_path, detections: list[dict], class_names, out_path) -> None:
    """Write `image_path` with boxes (original pixels), class names and scores to `out_path` (PIL)."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.open(image_path).convert("RGB")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    colours = (box_colours(len(class_names)) * 255).astype(int)
    width = max(1, round(max(img.size) / 300))
    for det in detections:
        x1, y1, x2, y2 = det["box"]
        c = tuple(int(v) for v in colours[det["label"]])
        draw.rectangle([x1, y1, x2, y2], outline=c, width=width)
        text = f"{class_names[det['label']]} {det['score']:.2f}"
        tb = draw.textbbox((x1, y1), text, font=font)
        draw.rectangle([tb[0], tb[1] - (tb[3] - tb[1]), tb[2], tb[1]], fill=c)
        draw.text((x1, y1 - (tb[3] - tb[1])), text, fill=(0, 0, 0), font=font)
    img.save(out_path)

"""Pictures a person wants to see, as matplotlib figures (saved by TaskModule.save_figure)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from src.data.common.transforms import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402


def to_display(image: torch.Tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> np.ndarray:
    """C×H×W normalized float tensor → H×W×3 array in [0, 1]."""
    img = image.detach().float().cpu()
    if mean is not None:
        img = img * torch.tensor(std).view(-1, 1, 1) + torch.tensor(mean).view(-1, 1, 1)
    img = img.clamp(0, 1)
    if img.shape[0] == 1:
        img = img.expand(3, -1, -1)
    return img.permute(1, 2, 0).numpy()


def class_colours(num_classes: int) -> np.ndarray:
    cmap = plt.get_cmap("tab20", max(num_classes, 2))
    colours = np.array([cmap(i)[:3] for i in range(num_classes)])
    colours[0] = 0  # background stays transparent in overlays
    return colours


def overlay(
    image: np.ndarray, mask: np.ndarray, colours: np.ndarray, ignore_index: int = 255, alpha=0.5
) -> np.ndarray:
    out = image.copy()
    valid = (mask != ignore_index) & (mask > 0)
    out[valid] = (1 - alpha) * out[valid] + alpha * colours[np.clip(mask[valid], 0, len(colours) - 1)]
    out[mask == ignore_index] = 0.5 * out[mask == ignore_index] + 0.5
    return out


def segmentation_grid(images, masks, preds, class_names, ignore_index: int = 255):
    """Rows of (image, true mask overlay, predicted mask overlay)."""
    n = len(images)
    colours = class_colours(len(class_names))
    fig, axes = plt.subplots(n, 3, figsize=(6, 2 * n), squeeze=False)
    for i in range(n):
        img = to_display(images[i])
        panels = (
            img,
            overlay(img, masks[i].numpy(), colours, ignore_index),
            overlay(img, preds[i].numpy(), colours, ignore_index),
        )
        for ax, panel, title in zip(axes[i], panels, ("image", "true", "predicted")):
            ax.imshow(panel)
            ax.set_axis_off()
            if i == 0:
                ax.set_title(title)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[k]) for k in range(1, len(class_names))]
    fig.legend(handles, class_names[1:], loc="lower center", ncol=min(6, len(class_names)), fontsize=8)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig

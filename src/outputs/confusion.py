"""Confusion matrices of a run: the picture in plots/ and the entry in metrics.json."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

MAX_ANNOTATED = 20  # classes up to which every cell shows its count


def confusion_entry(matrix, labels: list[str]) -> dict:
    """The metrics.json value: {"labels": [...], "matrix": rows = true, columns = predicted (counts)}."""
    return {"labels": list(labels), "matrix": np.asarray(matrix).astype(int).tolist()}


def confusion_figure(matrix, labels: list[str], title: str, unit: str = "counts"):
    """Rows = true class, columns = predicted; colour = the share of each true class (row-normalised),
    the text = the counts (of `unit`: pixels, boxes)."""
    counts = np.asarray(matrix, dtype=float)
    totals = counts.sum(1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    n = len(labels)
    side = min(12, 2 + 0.45 * n)
    fig, ax = plt.subplots(figsize=(side + 1, side))
    im = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), labels, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(n), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    if n <= MAX_ANNOTATED:
        for i in range(n):
            for j in range(n):
                if counts[i, j]:
                    text = f"{counts[i, j]:.3g}" if counts[i, j] < 1e4 else f"{counts[i, j]:.1e}"
                    colour = "white" if shares[i, j] > 0.5 else "black"
                    ax.text(j, i, text, ha="center", va="center", fontsize=6, color=colour)
    fig.colorbar(im, ax=ax, fraction=0.046, label=f"share of the true class ({unit})")
    fig.tight_layout()
    return fig

"""Verification pictures: ROC (log-scale FAR), genuine vs impostor scores, 2-D embedding projection."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def roc_figure(far, tar, auroc: float, eer: float, threshold_far: float | None = None, title: str = "ROC"):
    """TAR against FAR on a log axis (the operating range of face verification), with the EER line."""
    far, tar = np.asarray(far, dtype=float), np.asarray(tar, dtype=float)
    fig, ax = plt.subplots(figsize=(5, 4))
    floor = max(1e-5, 0.5 / max(1, (far > 0).sum()) if (far > 0).any() else 1e-5)
    x = np.clip(far, floor, 1)
    ax.plot(x, tar, lw=2, label=f"AUROC {auroc:.4f}, EER {eer:.4f}")
    frr_line = np.logspace(np.log10(floor), 0, 100)
    ax.plot(frr_line, 1 - frr_line, ls=":", c="grey", label="FAR = FRR")
    if threshold_far is not None:
        ax.axvline(max(threshold_far, floor), c="red", ls="--", lw=1, label="calibrated threshold")
    ax.set_xscale("log")
    ax.set_xlim(floor, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false accept rate (FAR)")
    ax.set_ylabel("true accept rate (TAR)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def score_histograms(scores, same, threshold: float | None, score_name: str = "score", title: str = "Scores"):
    """Histograms of genuine (same) and impostor (different) pair scores, with the decision threshold."""
    scores, same = np.asarray(scores, dtype=float), np.asarray(same, dtype=bool)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    bins = np.linspace(scores.min(), scores.max(), 60) if len(scores) else 10
    ax.hist(
        scores[same], bins=bins, alpha=0.6, density=True, label=f"genuine ({same.sum()})", color="tab:green"
    )
    ax.hist(
        scores[~same],
        bins=bins,
        alpha=0.6,
        density=True,
        label=f"impostor ({(~same).sum()})",
        color="tab:red",
    )
    if threshold is not None and np.isfinite(threshold):
        ax.axvline(threshold, c="black", ls="--", label=f"threshold {threshold:.3f}")
    ax.set_xlabel(f"{score_name} (higher = same)")
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


def embedding_projection(embeddings, labels, names=None, title: str = "Validation embeddings (PCA)"):
    """The first two principal components of the embeddings, one colour per identity."""
    from sklearn.decomposition import PCA

    emb = np.asarray(embeddings, dtype=float)
    labels = np.asarray(labels)
    xy = PCA(n_components=2).fit_transform(emb) if len(emb) >= 2 else np.zeros((len(emb), 2))
    fig, ax = plt.subplots(figsize=(5, 5))
    cmap = plt.get_cmap("tab20")
    for k, c in enumerate(np.unique(labels)):
        m = labels == c
        name = names[int(np.flatnonzero(m)[0])] if names is not None else str(c)
        ax.scatter(xy[m, 0], xy[m, 1], s=14, color=cmap(k % 20), label=name)
    ax.set_title(title)
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    if len(np.unique(labels)) <= 20:
        ax.legend(fontsize=6, markerscale=0.8, loc="best", ncol=2)
    return fig

"""Verification metrics from pair scores (higher score = "same"): ROC, AUROC, EER, TAR@FAR, accuracy.

All functions are vectorised (one sort + cumulative sums per curve), so 10^5 pairs take milliseconds.
The ROC is computed here rather than with torchmetrics' `binary_roc`: that one treats scores outside
[0, 1] as logits (applies a sigmoid, which saturates and ties large negative distances in float32)
and reports thresholds in the sigmoid's units, while we need thresholds in score units to store and
apply them. The curve is the one sklearn's `roc_curve(drop_intermediate=False)` gives (tests check it).

The LFW protocol (`kfold_accuracy`): for each of the folds, the accuracy-maximising threshold is chosen
on the other folds and applied to the held-out one; the mean and standard deviation over folds are
reported (np.std, ddof=0, as in the FaceNet / InsightFace evaluation code).
"""

from __future__ import annotations

import math

import torch

FAR_TARGETS = {"tar_far1e-2": 1e-2, "tar_far1e-3": 1e-3}


def _as_tensors(scores, same) -> tuple[torch.Tensor, torch.Tensor]:
    scores = torch.as_tensor(scores).detach().double().flatten().cpu()
    same = torch.as_tensor(same).detach().bool().flatten().cpu()
    if scores.shape != same.shape:
        raise ValueError(f"scores and labels differ in length: {scores.numel()} vs {same.numel()}")
    if not torch.isfinite(scores).all():
        raise ValueError("scores contain NaN or inf")
    return scores, same


def _sort(scores: torch.Tensor, *others: torch.Tensor) -> list[torch.Tensor]:
    """`scores` in descending order (stable), and `others` permuted alike."""
    order = torch.argsort(scores, descending=True, stable=True)
    return [scores[order], *(o[order] for o in others)]


def _curve(s: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float, float]:
    """ROC of scores `s` sorted in descending order with labels `y`: far, tar, thresholds, #pos, #neg."""
    y = y.double()
    # the last index of each run of equal scores: where the curve takes a step
    last = torch.cat([torch.nonzero(s[1:] != s[:-1]).flatten(), torch.tensor([len(s) - 1])])
    tp = torch.cumsum(y, 0)[last]
    fp = (last + 1).double() - tp
    pos = float(y.sum())
    neg = len(y) - pos
    zero = torch.zeros(1, dtype=torch.float64)
    tar = torch.cat([zero, tp / max(pos, 1.0)])
    far = torch.cat([zero, fp / max(neg, 1.0)])
    thresholds = torch.cat([torch.tensor([math.inf], dtype=torch.float64), s[last]])
    return far, tar, thresholds, pos, neg


def roc_curve(scores, same) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(far, tar, thresholds), one point per distinct score plus (0, 0) at threshold +inf.

    At point i, pairs with score >= thresholds[i] are predicted "same": tar = TP / positives,
    far = FP / negatives. Thresholds decrease, far and tar increase.
    """
    far, tar, thresholds, _, _ = _curve(*_sort(*_as_tensors(scores, same)))
    return far, tar, thresholds


def auroc_from_curve(far: torch.Tensor, tar: torch.Tensor) -> float:
    return float(torch.trapezoid(tar, far))


def eer_from_curve(far: torch.Tensor, tar: torch.Tensor) -> float:
    """Equal error rate: where FAR = FRR (= 1 - TAR), linearly interpolated between curve points."""
    frr = 1 - tar
    diff = far - frr  # increases from -1 (at +inf) to >= 0 at the last point
    i = int(torch.nonzero(diff >= 0)[0])
    if i == 0 or diff[i] == 0:
        return float(far[i])
    t = -diff[i - 1] / (diff[i] - diff[i - 1])
    return float(far[i - 1] + t * (far[i] - far[i - 1]))


def tar_at_far_from_curve(far: torch.Tensor, tar: torch.Tensor, target: float) -> float:
    """The highest TAR among thresholds whose FAR does not exceed `target`."""
    ok = far <= target + 1e-12
    return float(tar[ok].max())


def _best_from_curve(far, tar, thr, pos: float, neg: float) -> tuple[float, float]:
    acc = (tar * pos + (1 - far) * neg) / (pos + neg)
    i = int(torch.argmax(acc))  # the first (highest) threshold among equally accurate ones
    if i == 0:  # nothing predicted "same": any threshold above the highest score
        threshold = float(thr[1]) + 1.0
    elif i + 1 < len(thr):
        threshold = float((thr[i] + thr[i + 1]) / 2)
    else:
        threshold = float(thr[i])
    return threshold, float(acc[i])


def best_threshold(scores, same) -> tuple[float, float]:
    """(threshold, accuracy): the threshold maximising accuracy of `score >= threshold` ⇒ "same".

    The threshold is placed midway between the chosen score and the next lower one, so it does not
    sit on a calibration pair's score (better behaved when applied to other pairs).
    """
    return _best_from_curve(*_curve(*_sort(*_as_tensors(scores, same))))


def accuracy(scores, same, threshold: float) -> float:
    scores, same = _as_tensors(scores, same)
    return float(((scores >= threshold) == same).double().mean())


def kfold_accuracy(scores, same, folds) -> tuple[float, float, list[float]]:
    """LFW protocol: (mean, std, per-fold accuracies), each fold's threshold chosen on the other folds."""
    scores, same = _as_tensors(scores, same)
    folds = torch.as_tensor(folds).flatten().cpu()
    values = torch.unique(folds)
    if len(values) < 2:
        raise ValueError(f"k-fold accuracy needs at least 2 folds (got {len(values)})")
    s, y, f = _sort(scores, same, folds)  # one sort: each fold's complement stays sorted
    accs = []
    for k in values:
        held = f == k
        threshold, _ = _best_from_curve(*_curve(s[~held], y[~held]))
        accs.append(float(((s[held] >= threshold) == y[held]).double().mean()))
    acc = torch.tensor(accs, dtype=torch.float64)
    return float(acc.mean()), float(acc.std(unbiased=False)), accs


def verification_metrics(scores, same) -> dict[str, float]:
    """auroc, eer, tar_far1e-2, tar_far1e-3, and the accuracy-maximising threshold with its accuracy."""
    curve = _curve(*_sort(*_as_tensors(scores, same)))
    far, tar = curve[0], curve[1]
    threshold, acc = _best_from_curve(*curve)
    out = {
        "auroc": auroc_from_curve(far, tar),
        "eer": eer_from_curve(far, tar),
        "acc": acc,
        "threshold": threshold,
    }
    for name, target in FAR_TARGETS.items():
        out[name] = tar_at_far_from_curve(far, tar, target)
    return out

"""Verification metrics against a second implementation: sklearn and brute-force numpy loops."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from src.metrics.verification import (
    accuracy,
    best_threshold,
    eer_from_curve,
    kfold_accuracy,
    roc_curve,
    tar_at_far_from_curve,
    verification_metrics,
)


def sample(n=400, seed=0, ties=False, shift=1.0):
    rng = np.random.default_rng(seed)
    same = rng.random(n) < 0.5
    scores = rng.normal(size=n) + shift * same
    if ties:
        scores = np.round(scores, 1)
    return scores, same


def brute_rates(scores, same):
    """(far, tar, thresholds) by explicit comparisons at every distinct score, plus +inf."""
    thresholds = np.concatenate([[np.inf], np.unique(scores)[::-1]])
    far = np.array([np.mean(scores[~same] >= t) for t in thresholds])
    tar = np.array([np.mean(scores[same] >= t) for t in thresholds])
    return far, tar, thresholds


@pytest.mark.parametrize("ties", [False, True])
def test_roc_and_auroc_match_sklearn(ties):
    scores, same = sample(ties=ties)
    far, tar, thr = roc_curve(torch.tensor(scores), torch.tensor(same))
    sk_far, sk_tar, sk_thr = sk_roc_curve(same, scores, drop_intermediate=False)
    np.testing.assert_allclose(far.numpy(), sk_far)
    np.testing.assert_allclose(tar.numpy(), sk_tar)
    np.testing.assert_allclose(thr.numpy()[1:], sk_thr[1:])
    m = verification_metrics(scores, same)
    assert m["auroc"] == pytest.approx(roc_auc_score(same, scores), abs=1e-12)


def test_negative_distances_are_not_squashed():
    """Scores far outside [0, 1] (negated distances) keep their order: no sigmoid saturation."""
    scores, same = sample(seed=3)
    big = -1000.0 + scores  # all scores around -1000
    assert verification_metrics(big, same)["auroc"] == pytest.approx(roc_auc_score(same, big))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_eer_matches_brute_force(seed):
    scores, same = sample(seed=seed, ties=seed == 2)
    far, tar, _ = brute_rates(scores, same)
    frr = 1 - tar
    # brute force: walk the thresholds until FAR >= FRR, interpolate linearly on the last step
    for i in range(len(far)):
        if far[i] >= frr[i]:
            break
    d0, d1 = far[i - 1] - frr[i - 1], far[i] - frr[i]
    expected = far[i] if d1 == 0 else far[i - 1] + (-d0 / (d1 - d0)) * (far[i] - far[i - 1])
    c_far, c_tar, _ = roc_curve(scores, same)
    assert eer_from_curve(c_far, c_tar) == pytest.approx(expected, abs=1e-12)
    assert far[i - 1] < frr[i - 1] and far[i] >= frr[i]  # the crossing


def test_eer_extremes():
    same = np.array([1, 1, 0, 0], bool)
    assert verification_metrics(np.array([2.0, 3.0, 0.0, 1.0]), same)["eer"] == 0.0
    assert verification_metrics(np.array([0.0, 1.0, 2.0, 3.0]), same)["eer"] == pytest.approx(1.0)
    assert verification_metrics(np.zeros(4), same)["eer"] == pytest.approx(0.5)


@pytest.mark.parametrize("target", [1e-2, 1e-3, 0.1])
def test_tar_at_far_matches_brute_force(target):
    scores, same = sample(n=3000, seed=4, shift=2.0)
    far, tar, _ = brute_rates(scores, same)
    expected = max(t for f, t in zip(far, tar) if f <= target)
    c_far, c_tar, _ = roc_curve(scores, same)
    assert tar_at_far_from_curve(c_far, c_tar, target) == pytest.approx(expected)


def test_best_threshold_matches_brute_force():
    scores, same = sample(seed=5, ties=True)
    candidates = np.concatenate([[np.inf], np.unique(scores)])
    best = max(np.mean((scores >= t) == same) for t in candidates)
    threshold, acc = best_threshold(scores, same)
    assert acc == pytest.approx(best)
    assert accuracy(scores, same, threshold) == pytest.approx(best)


def brute_kfold(scores, same, folds):
    """LFW protocol in plain numpy: threshold maximising accuracy on 9 folds, applied to the 10th."""
    accs = []
    for f in np.unique(folds):
        tr, te = folds != f, folds == f
        s_tr = np.unique(scores[tr])[::-1]  # descending distinct scores
        best_k, best_acc = -1, np.mean(~same[tr])  # k = -1: nothing predicted same
        for k, t in enumerate(s_tr):
            acc = np.mean((scores[tr] >= t) == same[tr])
            if acc > best_acc:
                best_k, best_acc = k, acc
        if best_k == -1:
            t = s_tr[0] + 1.0
        elif best_k + 1 < len(s_tr):
            t = (s_tr[best_k] + s_tr[best_k + 1]) / 2
        else:
            t = s_tr[best_k]
        accs.append(np.mean((scores[te] >= t) == same[te]))
    return np.mean(accs), np.std(accs), accs


def test_kfold_accuracy_matches_brute_force():
    scores, same = sample(n=600, seed=6)
    folds = np.arange(600) * 10 // 600
    mean, std, accs = kfold_accuracy(scores, same, folds)
    b_mean, b_std, b_accs = brute_kfold(scores, same, folds)
    np.testing.assert_allclose(accs, b_accs)
    assert mean == pytest.approx(b_mean) and std == pytest.approx(b_std)


def test_kfold_threshold_never_sees_the_held_out_fold():
    """A fold whose labels flip the others' rule scores 0: its own pairs did not choose its threshold."""
    scores = np.array([1.0, 0.0] * 10)
    same = np.array([True, False] * 10)
    same[:2] = [False, True]  # fold 0 is the reverse of folds 1..9
    folds = np.repeat(np.arange(10), 2)
    _, _, accs = kfold_accuracy(scores, same, folds)
    assert accs[0] == 0.0 and all(a == 1.0 for a in accs[1:])


def test_metrics_are_fast_on_1e5_pairs():
    scores, same = sample(n=100_000, seed=7)
    folds = np.arange(100_000) * 10 // 100_000
    start = time.perf_counter()
    verification_metrics(scores, same)
    kfold_accuracy(scores, same, folds)
    assert time.perf_counter() - start < 20.0  # vectorised: ~0.2 s on an idle 2-core CPU; loops take minutes

"""Confusion matrices in every run: segmentation per pixel, detection per box with a background row/column."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from src.metrics.detection import DetectionConfusionMatrix


def test_detection_confusion_pairs_boxes_once_and_counts_background():
    metric = DetectionConfusionMatrix(num_classes=2, score_threshold=0.5, iou=0.5)
    truth = {
        "boxes": torch.tensor([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50.0]]),
        "labels": torch.tensor([0, 1, 1]),
    }
    preds = {
        "boxes": torch.tensor(
            [[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30], [60, 60, 70, 70], [40, 40, 50, 50.0]]
        ),
        "scores": torch.tensor([0.9, 0.8, 0.7, 0.6, 0.1]),  # the last is below the score: not counted
        "labels": torch.tensor([0, 0, 0, 1, 1]),
    }
    metric.update([preds], [truth])
    expected = torch.tensor(
        [
            [1, 0, 0],  # class 0: found once
            [1, 0, 1],  # class 1: once taken for class 0, once missed (its detection scored too low)
            [1, 1, 0],  # background: a duplicate class-0 box and a class-1 box on nothing
        ]
    )
    assert torch.equal(metric.compute(), expected)


@pytest.mark.slow
def test_segmentation_matrix_gives_the_runs_per_class_iou(trained_runs):
    run = trained_runs["unet"]
    metrics = json.loads((run / "metrics.json").read_text())
    for stage in ("val", "test"):
        entry = metrics[f"{stage}/confusion_matrix"]
        m = np.array(entry["matrix"], dtype=float)
        assert m.shape == (len(entry["labels"]),) * 2 and m.sum() > 0
        iou = np.diag(m) / (m.sum(0) + m.sum(1) - np.diag(m))
        for name, value in zip(entry["labels"], iou):
            key = f"{stage}/iou_{name}"
            if key in metrics:
                assert value == pytest.approx(metrics[key], abs=1e-5), key
        assert np.nanmean(iou) == pytest.approx(metrics[f"{stage}/miou"], abs=1e-5)
    assert (run / "plots" / "test_confusion.png").is_file()


@pytest.mark.slow
def test_detection_matrix_has_a_background_row_and_column(trained_runs):
    run = trained_runs["yolo"]
    metrics = json.loads((run / "metrics.json").read_text())
    entry = metrics["test/confusion_matrix"]
    m = np.array(entry["matrix"])
    assert entry["labels"][-1] == "background" and m.shape == (len(entry["labels"]),) * 2
    assert m[-1, -1] == 0
    assert (run / "plots" / "test_confusion.png").is_file()
    assert "val/confusion_matrix" in metrics and not any(
        "confusion" in k for k in metrics if k.startswith("train")
    )

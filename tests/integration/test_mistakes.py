"""`tools.py mistakes`: per-image rows whose totals are the run's own test metrics; another task is refused."""

from __future__ import annotations

import csv
import json

import pytest

from src.errors import ConfigError
from src.runtime.checkpoints.checkpoint_check import args_with_checkpoint_model
from src.tools.mistakes import mistakes
from tests.tiny_models import TINY
from tests.tool_runs import tool_cfg


def data_overrides(model: str) -> list[str]:
    """The tiny run's data (its image size comes from the checkpoint)."""
    return [o for o in TINY[model] if o.startswith("data.") and not o.startswith("data.image_size")]


def run_mistakes(run, model: str, out, *extra: str) -> dict:
    best = sorted((run / "checkpoints").glob("epoch_*.ckpt"))[0]
    args = args_with_checkpoint_model(
        [f"ckpt_path={best}", "split=test", "k=3", *data_overrides(model), *extra]
    )
    return mistakes(tool_cfg(out, "mistakes", args))


def read_rows(folder) -> list[dict]:
    with (folder / "mistakes.csv").open() as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_detection_rows_add_up_to_the_runs_precision_and_recall(trained_runs, tmp_path):
    run = trained_runs["yolo"]
    out = run_mistakes(run, "yolo", tmp_path)
    metrics = json.loads((run / "metrics.json").read_text())
    rows = read_rows(tmp_path)
    assert len(rows) == 8 and set(rows[0]) >= {"index", "image_id", "tp", "fp", "fn", "ap"}
    tp, fp, fn = (sum(int(r[k]) for r in rows) for k in ("tp", "fp", "fn"))
    precision = tp / (tp + fp) if tp + fp else 0.0
    assert precision == pytest.approx(metrics["test/precision"], abs=1e-6)
    assert tp / (tp + fn) == pytest.approx(metrics["test/recall"], abs=1e-6)
    errors = [int(r["fp"]) + int(r["fn"]) for r in rows]
    assert errors == sorted(errors, reverse=True)  # worst first
    assert len(out["worst"]) == 3 and (tmp_path / "mistakes.png").stat().st_size > 2000


@pytest.mark.slow
def test_segmentation_rows_give_the_runs_per_class_iou(trained_runs, tmp_path):
    run = trained_runs["unet"]
    out = run_mistakes(run, "unet", tmp_path)
    metrics = json.loads((run / "metrics.json").read_text())
    for key, value in out["totals"].items():
        assert value == pytest.approx(metrics[f"test/{key}"], abs=1e-5), key
    rows = read_rows(tmp_path)
    miou = [float(r["miou"]) for r in rows]
    assert miou == sorted(miou) and len(rows) == 8
    assert (tmp_path / "mistakes.png").is_file()


@pytest.mark.slow
def test_verification_rows_give_the_accuracy_at_the_calibrated_threshold(trained_runs, tmp_path):
    run = trained_runs["siamese"]
    out = run_mistakes(run, "siamese", tmp_path)
    metrics = json.loads((run / "metrics.json").read_text())
    rows = read_rows(tmp_path)
    assert len(rows) == 20 and set(rows[0]) >= {"score", "same", "decision", "correct"}
    assert out["totals"]["acc"] == pytest.approx(metrics["test/acc_val_threshold"], abs=1e-6)
    assert (tmp_path / "mistakes.png").is_file()


@pytest.mark.slow
def test_a_checkpoint_with_data_of_another_task_is_one_line(trained_runs, tmp_path):
    best = sorted((trained_runs["unet"] / "checkpoints").glob("epoch_*.ckpt"))[0]
    args = args_with_checkpoint_model([f"ckpt_path={best}", "data=shapes_det"])
    with pytest.raises(ConfigError, match="segmentation model but the data is detection data"):
        mistakes(tool_cfg(tmp_path, "mistakes", args))
    with pytest.raises(ConfigError, match="was trained with model=unet"):
        mistakes(tool_cfg(tmp_path, "mistakes", [f"ckpt_path={best}", "model=yolo"]))

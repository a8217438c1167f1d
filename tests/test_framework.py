"""The shared flow: composition, validation errors, run outputs, resume, train-then-eval."""

from __future__ import annotations

import json

import pytest

from src.utils.config_check import validate
from src.utils.errors import ConfigError
from tests.conftest import make_cfg, run_train

TINY_UNET = [
    "model=unet",
    "model.depth=2",
    "model.base_channels=8",
    "data.reader.num_train=32",
    "data.reader.num_val=16",
    "data.reader.num_test=16",
    "data.batch_size=8",
]


def test_fast_dev_run_unet(tmp_path):
    cfg = make_cfg(tmp_path, [*TINY_UNET, "debug=fdr"])
    run_train(cfg)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert "val/miou" in metrics and 0.0 <= metrics["val/miou"] <= 1.0

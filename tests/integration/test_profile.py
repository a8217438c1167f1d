"""`tools.py profile`: parameters, FLOPs, a train and an inference row per batch size, for every model."""

from __future__ import annotations

import pytest

from src.errors import ConfigError
from src.pipeline import build_data
from src.runtime.config.instantiate import build
from src.tools.profile import batch_of, forward_flops, profile
from tests.tool_runs import tiny_overrides, tool_cfg


@pytest.mark.parametrize("model", ["unet", "yolo", "siamese"])
def test_profile_reports_every_batch_size_and_step(model, tmp_path):
    cfg = tool_cfg(tmp_path, "profile", tiny_overrides(model, "batch_sizes=[2,4]", "steps=1", "warmup=0"))
    out = profile(cfg)
    built = build(cfg.model, "model")
    assert out["parameters"] == sum(p.numel() for p in built.parameters()) > 0
    assert [(r["batch size"], r["step"]) for r in out["rows"]] == [
        (2, "train"),
        (2, "inference"),
        (4, "train"),
        (4, "inference"),
    ]
    assert all(r["images / s"] > 0 and r["peak memory (MiB)"] > 0 for r in out["rows"])
    assert out["forward_flops"] > 0 and "| 4 | inference |" in (tmp_path / "profile.md").read_text()


def test_flops_are_per_image_and_grow_with_the_batch(tmp_path):
    cfg = tool_cfg(tmp_path, "profile", tiny_overrides("unet"))
    datamodule = build_data(cfg)
    model = build(cfg.model, "model").eval()
    one, two = batch_of(datamodule, 1)[0], batch_of(datamodule, 2)[0]
    assert forward_flops(model, two) == 2 * forward_flops(model, one) > 0


def test_profile_refuses_bad_batch_sizes(tmp_path):
    with pytest.raises(ConfigError, match="batch_sizes"):
        profile(tool_cfg(tmp_path, "profile", tiny_overrides("unet", "batch_sizes=[0]")))

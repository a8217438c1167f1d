"""`tools.py browse`: the batches the model receives, drawn per task; a bad split is one line."""

from __future__ import annotations

import pytest

from src.errors import ConfigError
from src.pipeline import build_data
from src.tools.browse import browse, collect
from tests.tool_runs import tiny_overrides, tool_cfg


@pytest.mark.parametrize(
    ("model", "split"), [("yolo", "train"), ("unet", "train"), ("siamese", "train"), ("siamese", "val")]
)
def test_browse_draws_the_split(model, split, tmp_path):
    cfg = tool_cfg(tmp_path, "browse", tiny_overrides(model, f"split={split}", "n=8"))
    out = browse(cfg)
    assert out["samples"] == 8 and (tmp_path / f"browse_{split}.png").stat().st_size > 2000


def test_browse_shows_what_the_training_step_gets(tmp_path):
    """The drawn detection batch is the DataModule's (mosaic/colour included): normalised images and boxes
    inside the network input, the same as the loader gives the model (same seed, same batch)."""
    cfg = tool_cfg(tmp_path, "browse", tiny_overrides("yolo", "n=4"))
    drawn = collect(build_data(cfg), "train", 4)
    again = collect(build_data(cfg), "train", 4)
    for (image, target), (image2, target2) in zip(drawn, again):
        assert image.shape == (3, 64, 64) and image.min() < 0  # normalised as the network takes it
        assert (target["boxes"] >= 0).all() and (target["boxes"] <= 64).all()
        assert image.equal(image2) and target["boxes"].equal(target2["boxes"])  # seeded: the same batch


def test_browse_refuses_an_unknown_split(tmp_path):
    with pytest.raises(ConfigError, match="split"):
        browse(tool_cfg(tmp_path, "browse", tiny_overrides("unet", "split=trian")))


def test_browse_shows_the_two_views_pretraining_compares(tmp_path):
    from tests.integration.test_pretrain import image_folder

    images = image_folder(tmp_path / "images")
    overrides = ["model=pretrain", "data=image_folder", f"data.root={images}", "data.image_size=32"]
    cfg = tool_cfg(tmp_path / "out", "browse", [*overrides, "data.batch_size=4", "data.num_workers=0", "n=4"])
    assert browse(cfg)["samples"] == 4 and (tmp_path / "out" / "browse_train.png").is_file()

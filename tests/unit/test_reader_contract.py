"""Every reader of conf/data/ fulfils its task's Protocol (src/data/readers.py), built on tiny data."""

from __future__ import annotations

from pathlib import Path

import hydra
import pytest
import yaml

from src.data.readers import READERS
from tests.conftest import make_cfg
from tests.integration.test_class_names import write_dataset
from tests.unit.test_verification_data import SMALL_FACES, write_identity_folder, write_lfw

CONF = Path(__file__).resolve().parents[2] / "conf" / "data"
MODEL_OF = {"segmentation": "unet", "detection": "yolo", "verification": "siamese", "pretraining": "pretrain"}


def tiny_data(name: str, tmp_path: Path) -> list[str]:
    """Overrides that point the data config at tiny data written into tmp_path."""
    if name in ("yolo", "coco", "voc_det", "mask_folder", "voc_seg"):
        return [f"data.root={write_dataset(name, tmp_path / 'ds')[0]}"]
    if name == "identity_folder":
        people = {s: {f"p{s}{i}": 3 for i in range(3)} for s in ("train", "val", "test")}
        return [f"data.root={write_identity_folder(tmp_path / 'ids', people)}"]
    if name == "lfw":
        lines = ["1 1", "a 1 2", "a 1 b 1"]  # one fold: one matched and one mismatched pair
        root = write_lfw(tmp_path / "lfw", {"a": 2, "b": 2}, lines)
        return [f"data.root={root}", "data.reader.train_pairs_file=pairs.txt"]  # View 1 as train
    if name == "image_folder":
        from tests.integration.test_pretrain import image_folder

        return [f"data.root={image_folder(tmp_path / 'images')}"]
    if name == "faces_synth":
        return [f"data.reader.{k}={v}" for k, v in SMALL_FACES.items() if k != "image_size"]
    return []


@pytest.mark.parametrize("name", sorted(p.stem for p in CONF.glob("*.yaml")))
def test_reader_fulfils_its_task_protocol(name, tmp_path):
    task = yaml.safe_load((CONF / f"{name}.yaml").read_text())["_target_"].split(".")[2]
    cfg = make_cfg(tmp_path / "run", [f"model={MODEL_OF[task]}", f"data={name}", *tiny_data(name, tmp_path)])
    reader = hydra.utils.instantiate(cfg.data.reader, _convert_="all")
    assert isinstance(reader, READERS[task]), f"{type(reader).__name__} is not a {READERS[task].__name__}"
    split = "val" if "val" in reader.splits else reader.splits[0]
    data = reader.pairs(split) if task == "verification" else reader.dataset(split)
    assert len(data) > 0

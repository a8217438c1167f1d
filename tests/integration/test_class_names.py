"""`data.num_classes: auto`: every file reader takes the class count and names from the dataset, an
explicit count is checked against it, and the names reach the model (hyper-parameter), metrics and
checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hydra.core.hydra_config import HydraConfig

from src.data.detection.yolo_format import YoloDet
from src.data.segmentation.mask_folder import MaskFolder
from src.data.segmentation.voc_seg import VocSeg
from src.errors import ConfigError, DataError
from src.pipeline import build_data
from src.runtime.config.config_check import validate
from src.runtime.config.instantiate import build
from tests.conftest import make_cfg, run_train
from tests.integration.test_detection_data import NAMES, scenes, write_coco, write_voc, write_yolo
from tests.seg_data_utils import write_mask_folder
from tests.seg_data_utils import write_voc as write_voc_seg

SEG_NAMES = ["background", *NAMES]


def write_dataset(fmt: str, root: Path) -> tuple[Path, list[str]]:
    """A tiny dataset of `fmt` whose class names are only in its files; returns (root, names)."""
    if fmt in ("yolo", "coco", "voc_det"):
        writer = {"yolo": write_yolo, "coco": write_coco, "voc_det": write_voc}[fmt]
        return writer(root, scenes(3)), NAMES
    if fmt == "mask_folder":
        return write_mask_folder(root, counts={"train": 2, "val": 1}), SEG_NAMES
    root = write_voc_seg(root, counts={"train": 2, "val": 1})
    (root / "VOCdevkit" / "VOC2012" / "classes.txt").write_text("\n".join(SEG_NAMES) + "\n")
    return root, SEG_NAMES


def data_and_model(tmp_path: Path, fmt: str, *extra: str):
    root, names = write_dataset(fmt, tmp_path / "ds")
    model = "yolo" if fmt in ("yolo", "coco", "voc_det") else "unet"
    cfg = make_cfg(tmp_path / "run", [f"model={model}", f"data={fmt}", f"data.root={root}", *extra])
    HydraConfig.instance().set_config(cfg)
    validate(cfg)
    datamodule = build_data(cfg)
    return cfg, datamodule, build(cfg.model, "model"), names


READERS = ["yolo", "coco", "voc_det", "mask_folder", "voc_seg"]


@pytest.mark.parametrize("fmt", READERS)
def test_no_num_classes_reads_count_and_names(tmp_path, fmt):
    cfg, dm, model, names = data_and_model(tmp_path, fmt)
    assert dm.class_names == names and dm.num_classes == len(names)
    assert cfg.data.num_classes == len(names) and model.num_classes == len(names)
    assert model.hparams.class_names == names and model.class_names() == names


@pytest.mark.parametrize("fmt", READERS)
def test_right_num_classes_runs(tmp_path, fmt):
    count = len(SEG_NAMES if fmt in ("mask_folder", "voc_seg") else NAMES)
    _, dm, model, names = data_and_model(tmp_path, fmt, f"data.num_classes={count}")
    assert dm.class_names == names and model.num_classes == count


@pytest.mark.parametrize("fmt", READERS)
def test_wrong_num_classes_is_a_clear_error(tmp_path, fmt):
    count = len(SEG_NAMES if fmt in ("mask_folder", "voc_seg") else NAMES)
    with pytest.raises(ConfigError) as err:
        data_and_model(tmp_path, fmt, "data.num_classes=7")
    assert err.value.key == "data.num_classes"
    assert f"is 7 but the dataset has {count} classes" in str(err.value)


def test_yolo11_takes_count_and_names_from_data_yaml(tmp_path):
    pytest.importorskip("ultralytics")
    root = write_yolo(tmp_path / "ds", scenes(2))
    cfg = make_cfg(tmp_path / "run", ["model=yolo11", "data=yolo", f"data.root={root}", "data.image_size=64"])
    HydraConfig.instance().set_config(cfg)
    validate(cfg)
    build_data(cfg)
    model = build(cfg.model, "model")
    assert model.num_classes == 3 and model.hparams.class_names == NAMES


def test_coco_subset_by_reader_classes(tmp_path):
    _, dm, model, _ = data_and_model(tmp_path, "coco", "data.reader.classes=[triangle,circle]")
    assert dm.class_names == ["triangle", "circle"] and model.num_classes == 2


def test_yolo_names_from_nc_list_or_classes_txt(tmp_path):
    root = write_yolo(tmp_path / "ds", scenes(1))
    spec = "path: .\ntrain: images/train\nval: images/val\n"
    (root / "data.yaml").write_text(spec + "names: [a, b, c]\nnc: 3\n")
    assert YoloDet(str(root)).class_names == ["a", "b", "c"]
    (root / "data.yaml").write_text(spec + "nc: 3\n")
    assert YoloDet(str(root)).class_names == ["class_0", "class_1", "class_2"]
    (root / "classes.txt").write_text("x\ny\nz\n")  # a darknet export's names file
    assert YoloDet(str(root)).class_names == ["x", "y", "z"]
    (root / "data.yaml").write_text(spec + "names: [a, b]\nnc: 3\n")
    with pytest.raises(DataError, match="`nc` is 3 but `names` lists 2 classes"):
        YoloDet(str(root))


def test_mask_folder_without_classes_txt_counts_the_mask_ids(tmp_path):
    root = write_mask_folder(tmp_path / "ds", counts={"train": 3, "val": 1}, classes=False)
    reader = MaskFolder(root, num_classes="auto")
    assert reader.num_classes == 4 and reader.class_names == ["background", "class_1", "class_2", "class_3"]


def test_voc_seg_auto_is_vocs_21_without_names(tmp_path):
    root = write_voc_seg(tmp_path / "voc", counts={"train": 1, "val": 1})
    assert VocSeg(root, num_classes="auto").num_classes == 21


def test_saved_class_names_win_over_a_datamodule(tmp_path):
    _, _, model, _ = data_and_model(tmp_path, "yolo")

    class Other:
        class_names = ["p", "q", "r"]

    assert model.class_names(Other()) == NAMES  # the names the weights were trained with
    model.hparams.class_names = None
    assert model.class_names(Other()) == ["p", "q", "r"]


@pytest.mark.slow
def test_train_yolo_on_ultralytics_folder_without_num_classes(tmp_path):
    root = write_yolo(tmp_path / "ds", scenes(4))
    args = ["model=yolo", "data=yolo", f"data.root={root}", "data.image_size=64", "data.batch_size=2"]
    args += ["data.num_workers=0", "trainer.max_epochs=1", "+trainer.limit_train_batches=2"]
    args += ["logger=csv", "test=false", "model.plot_every_n_epochs=null"]  # plots: not looked at here
    run_train(make_cfg(tmp_path / "run", args))  # in-process (the one-line exit 2: test_errors.py's CLI test)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert "val/map50" in metrics
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["hyper_parameters"]["class_names"] == NAMES
    assert ckpt["hyper_parameters"]["num_classes"] == 3
    with pytest.raises(ConfigError, match="is 2 but the dataset has 3 classes") as err:
        run_train(make_cfg(tmp_path / "bad", [*args[:3], "data.num_classes=2"]))
    assert err.value.key == "data.num_classes"


@pytest.mark.slow
def test_train_unet_on_mask_folder_with_classes_txt(tmp_path):
    root = write_mask_folder(tmp_path / "ds", counts={"train": 4, "val": 2})
    args = ["model=unet", "data=mask_folder", f"data.root={root}", "data.image_size=32", "data.batch_size=2"]
    args += [
        "data.num_workers=0",
        "model.net.depth=2",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=2",
    ]
    args += ["logger=csv", "test=false", "model.plot_every_n_epochs=null"]  # plots: not looked at here
    run_train(make_cfg(tmp_path / "run", args))
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert "val/miou" in metrics and any(k.startswith("val/iou_") for k in metrics)
    assert set(k[len("val/iou_") :] for k in metrics if k.startswith("val/iou_")) <= set(SEG_NAMES)


def test_grey_images_need_no_flag(tmp_path):
    from PIL import Image

    yolo = write_yolo(tmp_path / "det", scenes(2))
    for png in (yolo / "images").rglob("*.png"):
        Image.open(png).convert("L").save(png)
    image, _ = YoloDet(str(yolo)).dataset("val")[0]
    assert image.shape[0] == 3
    masks = write_mask_folder(tmp_path / "seg", counts={"train": 1, "val": 1})
    for img in (masks / "train" / "images").iterdir():
        Image.open(img).convert("L").save(img)
    image, _ = MaskFolder(masks, num_classes="auto").dataset("train")[0]
    assert image.shape[0] == 3

"""Segmentation readers on tiny datasets written in tmp_path: mask folder, VOC layout, shapes; each error."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import tv_tensors

from src.data.segmentation.mask_folder import MaskFolder
from src.data.segmentation.shapes_seg import ShapesSeg
from src.data.segmentation.voc_seg import VOC_CLASSES, VocSeg
from src.datamodules.segmentation import SegmentationDataModule
from src.errors import ConfigError, DataError
from src.runtime.config.instantiate import build
from tests.conftest import augment_block, make_cfg
from tests.seg_data_utils import SIZES, write_mask_folder, write_voc


# ---- mask folder ----------------------------------------------------------------------------------------
def test_mask_folder_reads_pairs_of_mixed_sizes(tmp_path):
    reader = MaskFolder(write_mask_folder(tmp_path / "ds"), num_classes=4)
    assert reader.class_names == ["background", "circle", "square", "triangle"]
    assert reader.splits == ("train", "val")
    train = reader.dataset("train")
    assert len(train) == 12
    image, mask = train[1]
    assert isinstance(image, tv_tensors.Image) and image.dtype == torch.uint8
    assert isinstance(mask, tv_tensors.Mask) and mask.dtype == torch.int64
    assert tuple(image.shape) == (3, *SIZES[1]) and tuple(mask.shape) == SIZES[1]
    assert set(mask.unique().tolist()) <= {0, 1, 2, 3} and mask.max() > 0


def test_mask_folder_datamodule_resizes_to_image_size(tmp_path):
    reader = MaskFolder(write_mask_folder(tmp_path / "ds", test=True), num_classes=4)
    assert reader.splits == ("train", "val", "test")
    dm = SegmentationDataModule(
        reader,
        num_classes=4,
        image_size=[32, 40],
        augment=augment_block("image"),
        batch_size=4,
        num_workers=0,
    )
    dm.setup("fit")
    images, masks = next(iter(dm.train_dataloader()))
    assert images.shape == (4, 3, 32, 40) and images.dtype == torch.float32
    assert masks.shape == (4, 32, 40) and set(masks.unique().tolist()) <= {0, 1, 2, 3}
    dm.setup("test")
    assert len(dm.test_set) == 4


def test_mask_folder_without_classes_txt_names_classes(tmp_path):
    reader = MaskFolder(write_mask_folder(tmp_path / "ds", classes=False), num_classes=4)
    assert reader.class_names == ["background", "class_1", "class_2", "class_3"]


def test_classes_txt_count_must_match_num_classes(tmp_path):
    root = write_mask_folder(tmp_path / "ds")
    cfg = make_cfg(tmp_path, ["model=unet", "data=mask_folder", f"data.root={root}", "data.num_classes=3"])
    with pytest.raises(ConfigError) as err:
        build(cfg.data, "data")
    assert err.value.key == "data.num_classes" and "4 classes" in str(err.value)


def test_classes_txt_blank_line_names_the_line(tmp_path):
    root = write_mask_folder(tmp_path / "ds", counts={"train": 1, "val": 1})
    (root / "classes.txt").write_text("background\n\ncircle\n")
    with pytest.raises(DataError) as err:
        MaskFolder(root, num_classes=3)
    assert err.value.path.endswith("classes.txt") and err.value.line == 2


def test_missing_root_and_missing_split_folder(tmp_path):
    with pytest.raises(DataError, match="dataset folder not found"):
        MaskFolder(tmp_path / "nowhere")
    root = write_mask_folder(tmp_path / "ds", counts={"train": 2})
    reader = MaskFolder(root, num_classes=4)
    with pytest.raises(DataError) as err:
        reader.dataset("val")
    assert err.value.path == str(root / "val" / "images")


def test_image_without_mask_names_the_image(tmp_path):
    root = write_mask_folder(tmp_path / "ds", counts={"train": 3, "val": 1})
    (root / "train" / "masks" / "img_002.png").unlink()
    with pytest.raises(DataError) as err:
        MaskFolder(root, num_classes=4).dataset("train")
    assert "img_002" in err.value.path and "no mask" in str(err.value)


def test_corrupt_image_is_reported_before_training(tmp_path):
    root = write_mask_folder(tmp_path / "ds", counts={"train": 3, "val": 1})
    bad = root / "train" / "images" / "img_001.jpg"
    bad.write_bytes(b"this is not a jpeg")
    with pytest.raises(DataError) as err:
        MaskFolder(root, num_classes=4).dataset("train")
    assert err.value.path == str(bad) and "cannot read the image" in str(err.value)


def test_truncated_png_is_caught_by_the_scan(tmp_path):
    root = write_mask_folder(tmp_path / "ds", counts={"train": 3, "val": 1})
    bad = root / "train" / "images" / "img_000.png"
    bad.write_bytes(bad.read_bytes()[:200])
    with pytest.raises(DataError) as err:
        MaskFolder(root, num_classes=4).dataset("train")
    assert err.value.path == str(bad)


def test_mask_size_differs_from_image(tmp_path):
    root = write_mask_folder(tmp_path / "ds", counts={"train": 3, "val": 1})
    mask_path = root / "train" / "masks" / "img_000.png"
    Image.fromarray(np.zeros((10, 12), np.uint8)).save(mask_path)
    with pytest.raises(DataError) as err:
        MaskFolder(root, num_classes=4).dataset("train")
    assert err.value.path == str(mask_path) and "12×10" in str(err.value)


def test_mask_value_outside_classes_but_255_is_fine(tmp_path):
    root = write_mask_folder(tmp_path / "ds", counts={"train": 2, "val": 1})
    mask_path = root / "train" / "masks" / "img_000.png"
    mask = np.array(Image.open(mask_path))
    mask[0, :5] = 255
    Image.fromarray(mask).save(mask_path)
    MaskFolder(root, num_classes=4).dataset("train")  # 255 = ignore: accepted
    mask[1, :5] = 7
    Image.fromarray(mask).save(mask_path)
    with pytest.raises(DataError) as err:
        MaskFolder(root, num_classes=4).dataset("train")
    assert err.value.path == str(mask_path) and "[7]" in str(err.value) and "0..3" in str(err.value)


def test_colour_mask_is_refused(tmp_path):
    root = write_mask_folder(tmp_path / "ds", counts={"train": 1, "val": 1})
    mask_path = root / "train" / "masks" / "img_000.png"
    Image.open(mask_path).convert("RGB").save(mask_path)
    with pytest.raises(DataError, match="mode RGB"):
        MaskFolder(root, num_classes=4).dataset("train")


def test_value_map_turns_binary_255_masks_into_class_1(tmp_path):
    root = write_mask_folder(tmp_path / "ds", counts={"train": 1, "val": 1}, classes=False)
    mask_path = root / "train" / "masks" / "img_000.png"
    Image.fromarray(np.where(np.array(Image.open(mask_path)) > 0, 255, 0).astype(np.uint8)).save(mask_path)
    _, mask = MaskFolder(root, num_classes=2, value_map={255: 1}).dataset("train")[0]
    assert set(mask.unique().tolist()) == {0, 1}


# ---- VOC layout -----------------------------------------------------------------------------------------
def test_voc_reads_palette_masks_with_ignore_borders(tmp_path):
    reader = VocSeg(write_voc(tmp_path / "voc"))
    assert reader.class_names == list(VOC_CLASSES) and len(reader.class_names) == 21
    assert reader.splits == ("train", "val")  # no test.txt: testing falls back to val
    data = reader.dataset("train")
    assert len(data) == 12
    image, mask = data[0]
    assert image.shape[1:] == mask.shape
    values = set(mask.unique().tolist())
    assert 255 in values and values - {255} <= {0, 1, 2, 3}


@pytest.mark.parametrize("where", ["root", "devkit", "voc_dir"])
def test_voc_2007_found_from_several_roots(tmp_path, where):
    root = write_voc(tmp_path / "voc", year="2007", counts={"train": 2, "val": 1})
    given = {"root": root, "devkit": root / "VOCdevkit", "voc_dir": root / "VOCdevkit" / "VOC2007"}[where]
    reader = VocSeg(given, year="auto")
    assert reader.voc_dir == root / "VOCdevkit" / "VOC2007"
    assert len(reader.dataset("val")) == 1


def test_voc_missing_layout_and_list(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="VOCdevkit/VOC2012"):
        VocSeg(tmp_path / "empty")
    root = write_voc(tmp_path / "voc", counts={"train": 2})
    with pytest.raises(DataError) as err:
        VocSeg(root).dataset("val")
    assert err.value.path.endswith("ImageSets/Segmentation/val.txt")


def test_voc_listed_id_without_image_names_list_and_line(tmp_path):
    root = write_voc(tmp_path / "voc", counts={"train": 3, "val": 1})
    lst = root / "VOCdevkit" / "VOC2012" / "ImageSets" / "Segmentation" / "train.txt"
    lst.write_text(lst.read_text() + "\n2012_999999\n")
    with pytest.raises(DataError) as err:
        VocSeg(root).dataset("train")
    assert err.value.path == str(lst) and err.value.line == 5 and "2012_999999" in str(err.value)


def test_voc_listed_id_without_mask(tmp_path):
    root = write_voc(tmp_path / "voc", counts={"train": 3, "val": 1})
    (root / "VOCdevkit" / "VOC2012" / "SegmentationClass" / "2012_000001.png").unlink()
    with pytest.raises(DataError) as err:
        VocSeg(root).dataset("train")
    assert err.value.line == 2 and "no mask" in str(err.value)


def test_voc_mask_value_outside_classes(tmp_path):
    root = write_voc(tmp_path / "voc", counts={"train": 2, "val": 1})
    mask_path = root / "VOCdevkit" / "VOC2012" / "SegmentationClass" / "2012_000000.png"
    png = Image.open(mask_path)
    mask = np.array(png)
    mask[0, 0] = 40
    out = Image.frombytes("P", png.size, mask.tobytes())
    out.putpalette(png.getpalette())
    out.save(mask_path)
    with pytest.raises(DataError) as err:
        VocSeg(root).dataset("train")
    assert err.value.path == str(mask_path) and "[40]" in str(err.value)


def test_voc_custom_class_count_needs_names(tmp_path):
    root = write_voc(tmp_path / "voc", counts={"train": 1, "val": 1})
    with pytest.raises(ConfigError, match="classes"):
        VocSeg(root, num_classes=4)
    assert VocSeg(root, num_classes=4, classes=["bg", "a", "b", "c"]).class_names[1] == "a"


# ---- synthetic shapes -----------------------------------------------------------------------------------
def test_shapes_seg_is_deterministic_and_splits_differ():
    a = ShapesSeg(num_train=4, num_val=4, num_test=4, image_size=32, seed=3)
    b = ShapesSeg(num_train=4, num_val=4, num_test=4, image_size=32, seed=3)
    assert torch.equal(a.dataset("train").images, b.dataset("train").images)
    assert not torch.equal(a.dataset("train").images, a.dataset("val").images)
    assert not torch.equal(a.dataset("train").images, ShapesSeg(4, 4, 4, 32, seed=4).dataset("train").images)

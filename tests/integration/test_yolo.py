"""YOLO model parts on hand-made boxes: v1 encoding and loss, decoding + NMS, anchor assignment,
k-means anchors, the anchor loss; heads as a group; the model tests of tests/model_tester.py."""

from __future__ import annotations

import json
import math

import pytest
import torch
import yaml

from src.boxes.anchors import kmeans_anchors, mean_best_iou
from src.boxes.decode import decode_anchor, decode_anchor_boxes, decode_v1, postprocess
from src.boxes.targets import assign_anchors, encode_v1
from src.errors import ConfigError
from src.losses.detection import AnchorLoss, YoloV1Loss, paired_iou
from tests.conftest import ROOT, make_cfg, run_train
from tests.detector_yaml import build_detector
from tests.model_tester import ModelTester
from tests.tiny_models import TINY as TINY_RUNS

# ---- YOLOv1 ------------------------------------------------------------------------------------------


def test_encode_v1_hand_made_box():
    # 64×64 image, S=4 (16 px cells); box centre (16, 24), size 16×32
    t = encode_v1(torch.tensor([[8.0, 8.0, 24.0, 40.0]]), torch.tensor([1]), (4, 4), (64, 64), num_classes=3)
    assert t.shape == (4, 4, 8)
    torch.testing.assert_close(t[1, 1], torch.tensor([0.0, 0.5, 0.5, math.sqrt(0.5), 1.0, 0.0, 1.0, 0.0]))
    assert t[..., 4].sum() == 1  # only the cell holding the centre is responsible
    # two centres in one cell: the larger box is kept
    two = encode_v1(
        torch.tensor([[18.0, 18.0, 22.0, 22.0], [4.0, 4.0, 36.0, 36.0]]),
        torch.tensor([0, 2]),
        (4, 4),
        (64, 64),
        3,
    )
    assert two[..., 4].sum() == 1 and two[1, 1, 7] == 1 and two[1, 1, 2] == pytest.approx(math.sqrt(0.5))


def v1_pred(target: torch.Tensor, b: int = 2) -> torch.Tensor:
    """A YOLOv1 output grid (N=1) whose first box in each object cell equals the target, others zero."""
    s, c = target.shape[0], target.shape[-1] - 5
    pred = torch.zeros(1, s, s, b * 5 + c)
    pred[0, ..., :4] = target[..., :4]
    pred[0, ..., 4] = target[..., 4]
    pred[0, ..., b * 5 :] = target[..., 5:]
    return pred


def test_v1_loss_zero_for_perfect_prediction_and_each_term_by_hand():
    loss = YoloV1Loss(num_classes=3, grid_size=4, boxes_per_cell=2, lambda_coord=5.0, lambda_noobj=0.5)
    target = encode_v1(torch.tensor([[8.0, 8.0, 24.0, 40.0]]), torch.tensor([1]), (4, 4), (64, 64), 3)[None]
    pred = v1_pred(target[0])
    terms = loss.from_encoded(pred, target)
    assert float(terms["loss"]) == pytest.approx(0.0, abs=1e-7)
    # a second, non-responsible box with confidence 0.5: λ_noobj · 0.5²
    p = pred.clone()
    p[0, 1, 1, 5:9] = torch.tensor([0.9, 0.9, 0.1, 0.1])
    p[0, 1, 1, 9] = 0.5
    assert float(loss.from_encoded(p, target)["conf_noobj"]) == pytest.approx(0.5 * 0.25)
    # shift the responsible box by 0.1 cell (1.6 px of a 16×32 box): coord 5·0.1², conf (1 − IoU)²
    p = pred.clone()
    p[0, 1, 1, 0] += 0.1
    terms = loss.from_encoded(p, target)
    iou = (16 - 1.6) * 32 / (2 * 16 * 32 - (16 - 1.6) * 32)
    assert float(terms["coord"]) == pytest.approx(5 * 0.01, rel=1e-5)
    assert float(terms["conf_obj"]) == pytest.approx((1 - iou) ** 2, rel=1e-4)
    # wrong class probabilities: Σ (p − p̂)²
    p = pred.clone()
    p[0, 1, 1, 10:13] = torch.tensor([0.5, 0.5, 0.0])
    assert float(loss.from_encoded(p, target)["cls"]) == pytest.approx(0.5)


def test_v1_responsible_box_is_the_one_with_highest_iou():
    loss = YoloV1Loss(num_classes=3, grid_size=4, boxes_per_cell=2, lambda_coord=5.0, lambda_noobj=0.5)
    target = encode_v1(torch.tensor([[8.0, 8.0, 24.0, 40.0]]), torch.tensor([1]), (4, 4), (64, 64), 3)[None]
    pred = v1_pred(target[0])
    pred[0, 1, 1, 5:9] = pred[0, 1, 1, 0:4]  # box 1 = the truth, confidence 0 (should be 1)
    pred[0, 1, 1, 0:4] = torch.tensor([0.9, 0.9, 0.1, 0.1])  # box 0 far off, confidence 1 (should be 0)
    terms = loss.from_encoded(pred, target)
    assert float(terms["coord"]) == pytest.approx(0.0, abs=1e-6)  # box 1 responsible: no coord error
    assert float(terms["conf_obj"]) == pytest.approx(1.0)  # (0 − IoU 1)²
    assert float(terms["conf_noobj"]) == pytest.approx(0.5)  # box 0: λ_noobj · 1²


def test_decode_v1_class_specific_confidence_and_nms():
    target = encode_v1(torch.tensor([[8.0, 8.0, 24.0, 40.0]]), torch.tensor([1]), (4, 4), (64, 64), 2)
    pred = v1_pred(target)
    pred[0, 1, 1, 4] = 0.9
    pred[0, 1, 1, 10:12] = torch.tensor([0.2, 0.8])
    boxes, scores = decode_v1(pred, 2, (64, 64))
    assert boxes.shape == (1, 32, 4) and scores.shape == (1, 32, 2)
    dets = postprocess(boxes, scores, score_threshold=0.1, nms_iou=0.5, max_det=10)[0]
    assert dets["labels"].tolist() == [1, 0]  # 0.72 for class 1, 0.18 for class 0 (NMS is per class)
    torch.testing.assert_close(dets["scores"], torch.tensor([0.72, 0.18]))
    torch.testing.assert_close(dets["boxes"][0], torch.tensor([8.0, 8.0, 24.0, 40.0]))


def test_postprocess_nms_per_class_threshold_and_max_det():
    boxes = torch.tensor([[[0.0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [30, 30, 40, 40]]])
    scores = torch.tensor([[[0.9, 0.0], [0.8, 0.0], [0.0, 0.7], [0.05, 0.0]]])
    dets = postprocess(boxes, scores, score_threshold=0.1, nms_iou=0.5, max_det=10)[0]
    assert sorted(dets["scores"].tolist()) == pytest.approx([0.7, 0.9])  # overlap of class 0 suppressed
    assert len(postprocess(boxes, scores, 0.1, nms_iou=0.9, max_det=10)[0]["scores"]) == 3
    assert len(postprocess(boxes, scores, 0.1, nms_iou=0.9, max_det=1)[0]["scores"]) == 1


# ---- anchors -----------------------------------------------------------------------------------------

ANCHORS = torch.tensor([[10.0, 10.0], [20.0, 40.0], [40.0, 20.0]])


def test_assign_anchors_by_iou_threshold_and_best_anchor():
    box = torch.tensor(
        [[10.0, 16.0, 30.0, 56.0]]
    )  # 20×40 centred at (20, 36): cell (row 4, col 2) at stride 8
    a, r, c, b = assign_anchors(box, ANCHORS, (8, 8), 8, assign_iou=0.3)
    assert sorted(a.tolist()) == [1, 2]  # IoU 1.0 and 1/3; the 10×10 anchor (IoU 0.125) is not used
    assert set(r.tolist()) == {4} and set(c.tolist()) == {2} and set(b.tolist()) == {0}
    a, *_ = assign_anchors(box, ANCHORS, (8, 8), 8, assign_iou=0.5)
    assert a.tolist() == [1]
    tiny = torch.tensor([[0.0, 0.0, 2.0, 2.0]])  # matches no anchor above threshold: still its best
    a, *_ = assign_anchors(tiny, ANCHORS, (8, 8), 8, assign_iou=0.9)
    assert a.tolist() == [0]
    # two boxes, same cell and anchor: the better-fitting box keeps the slot
    two = torch.tensor([[12.0, 18.0, 28.0, 54.0], [10.0, 16.0, 30.0, 56.0]])
    a, r, c, b = assign_anchors(two, ANCHORS, (8, 8), 8, assign_iou=0.99)
    assert a.tolist() == [1] and b.tolist() == [1]
    # the same two boxes in two images of a batch: both keep their slot
    a, r, c, b = assign_anchors(two, ANCHORS, (8, 8), 8, assign_iou=0.99, image_index=torch.tensor([0, 1]))
    assert sorted(b.tolist()) == [0, 1]


def test_kmeans_anchors_find_the_clusters():
    g = torch.Generator().manual_seed(0)
    small = torch.tensor([10.0, 10.0]) + torch.randn(200, 2, generator=g)
    wide = torch.tensor([40.0, 20.0]) + torch.randn(200, 2, generator=g)
    anchors = kmeans_anchors(torch.cat([wide, small]), k=2)
    torch.testing.assert_close(anchors, torch.tensor([[10.0, 10.0], [40.0, 20.0]]), atol=1.0, rtol=0)
    assert mean_best_iou(torch.cat([small, wide]), anchors) > 0.85


def test_anchor_loss_zero_box_loss_when_prediction_is_the_box():
    # raw output 0 decodes to the cell centre and exactly the anchor's size
    out = torch.zeros(1, 3, 8, 8, 7, requires_grad=True)
    target = [{"boxes": torch.tensor([[10.0, 16.0, 30.0, 56.0]]), "labels": torch.tensor([1])}]
    loss = AnchorLoss(
        num_classes=2, assign_iou=0.5, box_loss="ciou", lambda_box=1.0, lambda_obj=1.0, lambda_cls=0.5
    )
    terms = loss(out, target, ANCHORS, 8)
    assert float(terms["box"]) == pytest.approx(0.0, abs=1e-5)
    terms["loss"].backward()
    # the assigned slot's objectness is pushed up, every other slot's down
    grad = out.grad[0, :, :, :, 4]
    assert grad[1, 4, 2] < 0 and (grad.flatten().gt(0).sum() == grad.numel() - 1)
    boxes = decode_anchor_boxes(out.detach(), ANCHORS, 8)
    torch.testing.assert_close(boxes[0, 1, 4, 2], torch.tensor([10.0, 16.0, 30.0, 56.0]))
    b, s = decode_anchor(out.detach(), ANCHORS, 8)
    assert b.shape == (1, 192, 4) and s.shape == (1, 192, 2) and torch.allclose(s, torch.tensor(0.25))
    assert float(paired_iou(torch.tensor([0.0, 0, 2, 2]), torch.tensor([1.0, 1, 3, 3]))) == pytest.approx(
        1 / 7
    )


# ---- through the pipeline ----------------------------------------------------------------------------

TINY = [
    "data.reader.num_train=32",
    "data.reader.num_val=8",
    "data.reader.num_test=8",
    "data.batch_size=8",
    "data.num_workers=0",
]


@pytest.mark.slow
def test_custom_map_iou_thresholds_plots_and_ema_checkpoint(tmp_path):
    cfg = make_cfg(
        tmp_path,
        [
            "model=yolo",
            *TINY,
            "debug=limit",
            "trainer.max_epochs=1",
            "model.map_iou_thresholds=[0.5]",
            "model.plot_every_n_epochs=1",
        ],
    )
    run_train(cfg)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert "val/map75" not in metrics and metrics["val/map"] == pytest.approx(metrics["val/map50"])
    assert (tmp_path / "plots" / "val_predictions.png").is_file() and (
        tmp_path / "plots" / "val_pr_curve.png"
    ).is_file()
    # EMA on by default: the checkpoint's state_dict (what predict.py loads) holds the averaged weights
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert "current_model_state" in ckpt and any(
        not torch.equal(v, ckpt["current_model_state"][k]) for k, v in ckpt["state_dict"].items()
    )
    # predicting from it (boxes in original pixels, batched, only ckpt_path): tests/integration/test_predict.py


# ---- one source of defaults, heads as a config group, runtime keys -------------------------------------


def test_head_is_a_config_group_with_only_its_own_keys(tmp_path):
    from src.runtime.config.instantiate import build

    cfg = make_cfg(tmp_path, ["model=yolo", "model/head=v1", "model.head.grid_size=4"])
    model = build(cfg.model, "model")
    assert type(model.head).__name__ == "V1Head" and model.head.net.S == 4
    assert (
        "assign_iou" not in cfg.model.head
        and "grid_size" not in make_cfg(tmp_path, ["model=yolo"]).model.head
    )
    with pytest.raises(ConfigError, match=r"model\.head\.assign_iou"):
        build(make_cfg(tmp_path, ["model=yolo", "model.head.assign_iou=1.5"]).model, "model")


def test_cpu_threads_is_a_runtime_key(tmp_path):
    from src.runtime.runs.cpu_threads import apply_cpu_threads

    assert make_cfg(tmp_path, ["model=yolo"]).cpu_threads == 1  # the detectors' default, as before
    assert make_cfg(tmp_path, ["model=unet"]).cpu_threads is None
    assert make_cfg(tmp_path, ["model=yolo", "cpu_threads=null"]).cpu_threads is None
    before = torch.get_num_threads()
    trainer = type("T", (), {"strategy": type("S", (), {"root_device": torch.device("cpu")})()})()
    try:
        apply_cpu_threads(1, trainer)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ConfigError, match="cpu_threads"):
        apply_cpu_threads(0, trainer)


# ---- the model tests every model passes (tests/model_tester.py) ---------------------------------------------
class TestYolo(ModelTester):
    model = "yolo"
    tiny = TINY_RUNS["yolo"]
    val_metrics = ("val/map", "val/map50", "val/map75", "val/precision", "val/recall", "val/ap_circle")
    test_metric = "test/map50"

    def python_build(self):
        """Detector(head=partial(AnchorHead, ...), ...) from conf/model/<model>.yaml and its head's YAML."""
        data = yaml.safe_load((ROOT / "conf" / "data" / "shapes_det.yaml").read_text())
        return build_detector(self.model, data["num_classes"], data["image_size"])


class TestYoloV1(TestYolo):
    """YOLOv1's S×S grid head on the same Detector (`model=yolov1`)."""

    model = "yolov1"

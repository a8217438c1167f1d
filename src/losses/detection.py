"""Detection losses: YOLOv1's sum-squared loss (Redmon et al. 2016) and an anchor-head loss.

Targets are lists (one per image) of dicts with `boxes` (K×4 XYXY pixels of the input) and `labels`.
Each loss returns {"loss": total, <terms>...}; the terms are logged separately.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as Fn
from torchvision.ops import complete_box_iou_loss, distance_box_iou_loss, generalized_box_iou_loss

from src.boxes.decode import decode_anchor_boxes
from src.boxes.targets import assign_anchors, encode_v1
from src.errors import check_choice

BOX_LOSSES = {"giou": generalized_box_iou_loss, "diou": distance_box_iou_loss, "ciou": complete_box_iou_loss}


def paired_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of aligned XYXY boxes a[i], b[i] (…×4 → …). torchvision.ops.box_iou is pairwise (N×M) only."""
    lt, rb = torch.maximum(a[..., :2], b[..., :2]), torch.minimum(a[..., 2:], b[..., 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_a = (a[..., 2:] - a[..., :2]).clamp(min=0).prod(-1)
    area_b = (b[..., 2:] - b[..., :2]).clamp(min=0).prod(-1)
    return inter / (area_a + area_b - inter).clamp(min=1e-9)


class YoloV1Loss(nn.Module):
    """The loss of the YOLOv1 paper, summed over cells and divided by the batch size:

    λ_coord Σ_resp [(x−x̂)² + (y−ŷ)²] + λ_coord Σ_resp [(√w−√ŵ)² + (√h−√ĥ)²]
    + Σ_resp (C − IoU)² + λ_noobj Σ_not-resp C² + Σ_cells-with-object Σ_c (p(c) − p̂(c))²

    The responsible predictor of an object is, in the cell holding its centre, the one of the B boxes
    with the highest IoU with it; its confidence target is that IoU.
    """

    def __init__(
        self,
        num_classes: int,
        grid_size: int,
        boxes_per_cell: int,
        lambda_coord: float,
        lambda_noobj: float,
    ):
        super().__init__()
        self.C, self.S, self.B = num_classes, grid_size, boxes_per_cell
        self.lambda_coord, self.lambda_noobj = lambda_coord, lambda_noobj

    @staticmethod
    def cell_boxes(xy_sqrtwh: torch.Tensor, grid: int) -> torch.Tensor:
        """(x, y offsets in cell, √w, √h) on an S×S grid → XYXY relative to the image (…×4)."""
        s = grid
        rows = torch.arange(s, device=xy_sqrtwh.device, dtype=xy_sqrtwh.dtype).view(
            s, 1, *([1] * (xy_sqrtwh.dim() - 3))
        )
        cols = torch.arange(s, device=xy_sqrtwh.device, dtype=xy_sqrtwh.dtype).view(
            1, s, *([1] * (xy_sqrtwh.dim() - 3))
        )
        cx, cy = (xy_sqrtwh[..., 0] + cols) / s, (xy_sqrtwh[..., 1] + rows) / s
        w, h = xy_sqrtwh[..., 2] ** 2, xy_sqrtwh[..., 3] ** 2
        return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)

    def forward(
        self, pred: torch.Tensor, targets: list[dict], image_size: tuple[int, int]
    ) -> dict[str, torch.Tensor]:
        s = self.S
        target = torch.stack(
            [encode_v1(t["boxes"].cpu(), t["labels"].cpu(), (s, s), image_size, self.C) for t in targets]
        ).to(pred)
        return self.from_encoded(pred, target)

    def from_encoded(self, pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """The loss for an encoded target grid N×S×S×(5+C) (see `encode_v1`)."""
        n, s, b = pred.shape[0], self.S, self.B
        boxes = pred[..., : b * 5].reshape(n, s, s, b, 5)
        probs = pred[..., b * 5 :]
        obj = target[..., 4]  # N×S×S
        # cell_boxes broadcasts over the leading S×S dims: move the batch (and B) behind them
        pred_xyxy = self.cell_boxes(boxes[..., :4].permute(1, 2, 0, 3, 4), s).permute(2, 0, 1, 3, 4)
        true_xyxy = self.cell_boxes(target[..., :4].permute(1, 2, 0, 3), s).permute(2, 0, 1, 3)
        iou = paired_iou(pred_xyxy, true_xyxy.unsqueeze(3)).detach()  # N×S×S×B
        resp = Fn.one_hot(iou.argmax(-1), b).to(pred) * obj.unsqueeze(-1)  # responsible predictors
        xy = ((boxes[..., :2] - target[..., None, :2]) ** 2).sum(-1)
        wh = ((boxes[..., 2:4] - target[..., None, 2:4]) ** 2).sum(-1)
        terms = {
            "coord": self.lambda_coord * (resp * (xy + wh)).sum() / n,
            "conf_obj": (resp * (boxes[..., 4] - iou) ** 2).sum() / n,
            "conf_noobj": self.lambda_noobj * ((1 - resp) * boxes[..., 4] ** 2).sum() / n,
            "cls": (obj.unsqueeze(-1) * (probs - target[..., 5:]) ** 2).sum() / n,
        }
        terms["loss"] = sum(terms.values())
        return terms


class AnchorLoss(nn.Module):
    """Anchor-head loss: box (1 − GIoU/DIoU/CIoU, torchvision.ops) and class BCE on the assigned slots,
    objectness BCE on all slots with the predicted box's IoU as the positive target (as YOLOv5)."""

    def __init__(
        self,
        num_classes: int,
        assign_iou: float,
        box_loss: str,
        lambda_box: float,
        lambda_obj: float,
        lambda_cls: float,
    ):
        super().__init__()
        check_choice(box_loss, "box_loss", BOX_LOSSES)
        self.C, self.assign_iou, self.box_loss = num_classes, assign_iou, BOX_LOSSES[box_loss]
        self.lambda_box, self.lambda_obj, self.lambda_cls = lambda_box, lambda_obj, lambda_cls

    def forward(
        self, out: torch.Tensor, targets: list[dict], anchors: torch.Tensor, stride: float
    ) -> dict[str, torch.Tensor]:
        n, a, h, w, _ = out.shape
        boxes = torch.cat([t["boxes"].reshape(-1, 4) for t in targets]).to(out.device, torch.float32)
        labels = torch.cat([t["labels"].reshape(-1) for t in targets]).to(out.device)
        image = torch.cat(
            [torch.full((len(t["labels"]),), i, dtype=torch.long) for i, t in enumerate(targets)]
        ).to(out.device)
        ai, ri, ci, box_i = assign_anchors(boxes, anchors.to(boxes), (h, w), stride, self.assign_iou, image)
        bi = image[box_i]
        obj_target = torch.zeros(n, a, h, w, device=out.device, dtype=out.dtype)
        zero = out.sum() * 0
        if len(bi):
            pos = out[bi, ai, ri, ci]
            pboxes = decode_anchor_boxes(out, anchors, stride)[bi, ai, ri, ci]
            tb = boxes[box_i]
            box = self.box_loss(pboxes, tb, reduction="mean")
            obj_target[bi, ai, ri, ci] = paired_iou(pboxes.detach(), tb).clamp(0, 1)
            onehot = Fn.one_hot(labels[box_i], self.C).to(out.dtype)
            cls = Fn.binary_cross_entropy_with_logits(pos[:, 5:], onehot)
        else:
            box = cls = zero
        obj = Fn.binary_cross_entropy_with_logits(out[..., 4], obj_target)
        terms = {"box": self.lambda_box * box, "obj": self.lambda_obj * obj, "cls": self.lambda_cls * cls}
        terms["loss"] = sum(terms.values())
        return terms

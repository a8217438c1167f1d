"""YOLO networks (plain nn.Modules) and their decoding: the YOLOv1 grid head and an anchor head.

Both map N×3×H×W images through a backbone (`src.models.backbones`) and a small conv neck to a grid:
- `YoloV1Net`: S×S cells (the feature map pooled to S×S), each with B boxes (x, y offsets in the
  cell, √w, √h relative to the image, confidence; sigmoid) and C class probabilities (softmax).
  Redmon et al. used linear outputs; the bounded ones train faster from scratch, the loss is the same.
- `AnchorNet`: A anchors per cell of the backbone stride, each (tx, ty, tw, th, objectness, C class
  logits), decoded as in YOLOv5: centre = (2σ(t) − 0.5 + cell) · stride, size = anchor · (2σ(t))².
`postprocess` turns per-box class scores into detections: score threshold, class-wise
`torchvision.ops.batched_nms`, at most `max_det` per image.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torchvision.ops import batched_nms, box_convert

from src.models.backbones import Backbone
from src.runtime.instantiate import build_part


def conv_bn(cin: int, cout: int, k: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout), nn.SiLU(inplace=True)
    )


class YoloV1Net(nn.Module):
    """Backbone → neck → S×S pooling → 1×1 conv to B·5 + C values per cell. Output N×S×S×(B·5+C),
    activated: boxes' x, y, √w, √h, confidence in (0, 1), class probabilities summing to 1."""

    def __init__(
        self,
        num_classes: int,
        grid_size: int,
        boxes_per_cell: int,
        backbone: Callable[..., Backbone],
        neck_channels: int,
    ):
        super().__init__()
        self.S, self.B, self.C = grid_size, boxes_per_cell, num_classes
        self.backbone = build_part(
            "backbone", backbone, in_channels=3
        )  # RGB: the detection readers decode RGB
        self.neck = nn.Sequential(
            conv_bn(self.backbone.out_channels, neck_channels), conv_bn(neck_channels, neck_channels)
        )
        self.pool = nn.AdaptiveAvgPool2d(grid_size)
        self.pred = nn.Conv2d(neck_channels, boxes_per_cell * 5 + num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.pred(self.pool(self.neck(self.backbone(x)))).permute(0, 2, 3, 1)
        boxes = out[..., : self.B * 5].sigmoid()
        probs = out[..., self.B * 5 :].softmax(-1)
        return torch.cat([boxes, probs], -1)


def decode_v1(
    out: torch.Tensor, num_boxes: int, image_size: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """YOLOv1 output N×S×S×(B·5+C) → boxes N×(S·S·B)×4 (XYXY px) and class-specific confidences
    N×(S·S·B)×C (box confidence × class probability of its cell, as in the paper)."""
    n, sh, sw, _ = out.shape
    ih, iw = image_size
    box = out[..., : num_boxes * 5].reshape(n, sh, sw, num_boxes, 5)
    probs = out[..., num_boxes * 5 :]
    rows = torch.arange(sh, device=out.device, dtype=out.dtype).view(1, sh, 1, 1)
    cols = torch.arange(sw, device=out.device, dtype=out.dtype).view(1, 1, sw, 1)
    cx = (box[..., 0] + cols) / sw * iw
    cy = (box[..., 1] + rows) / sh * ih
    w, h = box[..., 2] ** 2 * iw, box[..., 3] ** 2 * ih
    boxes = box_convert(torch.stack([cx, cy, w, h], -1), "cxcywh", "xyxy").reshape(n, -1, 4)
    scores = (box[..., 4:5] * probs.unsqueeze(3)).reshape(n, -1, probs.shape[-1])
    return boxes, scores


class AnchorNet(nn.Module):
    """Backbone → neck → 1×1 conv to A·(5 + C) per cell. Output N×A×H'×W'×(5+C) raw logits."""

    def __init__(
        self, num_classes: int, num_anchors: int, backbone: Callable[..., Backbone], neck_channels: int
    ):
        super().__init__()
        self.A, self.C = num_anchors, num_classes
        self.backbone = build_part(
            "backbone", backbone, in_channels=3
        )  # RGB: the detection readers decode RGB
        self.stride = self.backbone.stride
        self.neck = nn.Sequential(
            conv_bn(self.backbone.out_channels, neck_channels), conv_bn(neck_channels, neck_channels)
        )
        self.pred = nn.Conv2d(neck_channels, num_anchors * (5 + num_classes), 1)
        with torch.no_grad():  # priors: objectness ≈ 1 %, classes uniform (as YOLOv5's bias init)
            bias = self.pred.bias.view(num_anchors, 5 + num_classes)
            bias[:, 4] = math.log(0.01 / 0.99)
            bias[:, 5:] = math.log(1 / max(num_classes, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.pred(self.neck(self.backbone(x)))
        n, _, h, w = out.shape
        return out.view(n, self.A, 5 + self.C, h, w).permute(0, 1, 3, 4, 2)


def decode_anchor_boxes(out: torch.Tensor, anchors: torch.Tensor, stride: float) -> torch.Tensor:
    """Raw anchor-head output N×A×H×W×(5+C) → boxes N×A×H×W×4 (XYXY pixels)."""
    _, a, h, w, _ = out.shape
    gy, gx = torch.meshgrid(
        torch.arange(h, device=out.device), torch.arange(w, device=out.device), indexing="ij"
    )
    grid = torch.stack([gx, gy], -1).to(out.dtype).view(1, 1, h, w, 2)
    xy = (out[..., :2].sigmoid() * 2 - 0.5 + grid) * stride
    wh = (out[..., 2:4].sigmoid() * 2) ** 2 * anchors.to(out).view(1, a, 1, 1, 2)
    return box_convert(torch.cat([xy, wh], -1), "cxcywh", "xyxy")


def decode_anchor(
    out: torch.Tensor, anchors: torch.Tensor, stride: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Anchor-head output → boxes N×M×4 (XYXY px) and class-specific confidences N×M×C
    (objectness × class probability), M = A·H·W."""
    n = out.shape[0]
    boxes = decode_anchor_boxes(out, anchors, stride).reshape(n, -1, 4)
    scores = (out[..., 4:5].sigmoid() * out[..., 5:].sigmoid()).reshape(n, boxes.shape[1], -1)
    return boxes, scores


def postprocess(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    score_threshold: float,
    nms_iou: float,
    max_det: int,
    max_candidates: int = 3000,
) -> list[dict[str, torch.Tensor]]:
    """Per image: every (box, class) with score > threshold (a box may count for several classes), the
    best `max_candidates`, class-wise NMS at `nms_iou`, the `max_det` best. Returns dicts of boxes
    (K×4 XYXY), scores (K), labels (K, int64)."""
    results = []
    for b, s in zip(boxes, scores):
        idx, cls = (s > score_threshold).nonzero(as_tuple=True)
        sc = s[idx, cls]
        if len(sc) > max_candidates:
            top = sc.topk(max_candidates).indices
            idx, cls, sc = idx[top], cls[top], sc[top]
        bx = b[idx]
        keep = batched_nms(bx.float(), sc.float(), cls, nms_iou)[:max_det]
        results.append({"boxes": bx[keep], "scores": sc[keep], "labels": cls[keep]})
    return results

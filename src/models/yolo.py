"""YOLO networks (plain nn.Modules) and their decoding: the YOLOv1 grid head and an anchor head.

Both map N×3×H×W images through a backbone (`src.models.backbones`) and a small conv neck to a grid:
- `YoloV1Net`: S×S cells (the feature map pooled to S×S), each with B boxes (x, y offsets in the
  cell, √w, √h relative to the image, confidence; sigmoid) and C class probabilities (softmax).
  Redmon et al. used linear outputs; the bounded ones train faster from scratch, the loss is the same.
- `AnchorNet`: A anchors per cell of the backbone stride, each (tx, ty, tw, th, objectness, C class
  logits), decoded as in YOLOv5: centre = (2σ(t) − 0.5 + cell) · stride, size = anchor · (2σ(t))².
Decoding and `postprocess` live in `src.boxes.decode` (the losses use them too).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from src.errors import build_named
from src.models.backbones import Backbone


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
        self.backbone = build_named(
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


class AnchorNet(nn.Module):
    """Backbone → neck → 1×1 conv to A·(5 + C) per cell. Output N×A×H'×W'×(5+C) raw logits."""

    def __init__(
        self, num_classes: int, num_anchors: int, backbone: Callable[..., Backbone], neck_channels: int
    ):
        super().__init__()
        self.A, self.C = num_anchors, num_classes
        self.backbone = build_named(
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

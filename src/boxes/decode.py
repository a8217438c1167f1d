"""Decoding of the YOLO outputs into boxes and scores, and `postprocess`: score threshold, class-wise
`torchvision.ops.batched_nms`, at most `max_det` per image."""

from __future__ import annotations

import torch
from torchvision.ops import batched_nms, box_convert


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

"""Training targets: YOLOv1 grid encoding and anchor assignment by IoU.

Boxes are XYXY pixels of the network input (H×W); grids are S_h×S_w cells of `stride` pixels.
"""

from __future__ import annotations

import torch
from torchvision.ops import box_convert

from src.boxes.anchors import shape_iou


def encode_v1(
    boxes: torch.Tensor,
    labels: torch.Tensor,
    grid: tuple[int, int],
    image_size: tuple[int, int],
    num_classes: int,
) -> torch.Tensor:
    """YOLOv1 target grid S_h×S_w×(5 + C) for one image: per cell [x, y, √w, √h, obj, one-hot class].

    x, y: the centre's offset inside its cell (0..1); w, h: the box size relative to the image; the cell
    holding the centre is responsible (obj = 1). A cell holds one object: when several centres fall
    into one cell, the largest box is kept (YOLOv1's known limit, which anchors lift).
    """
    sh, sw = grid
    ih, iw = image_size
    target = torch.zeros(sh, sw, 5 + num_classes)
    if len(boxes) == 0:
        return target
    cxcywh = box_convert(boxes.float(), "xyxy", "cxcywh")
    order = (cxcywh[:, 2] * cxcywh[:, 3]).argsort()  # small first: the largest is written last and wins
    for i in order.tolist():
        cx, cy, w, h = cxcywh[i].tolist()
        gx, gy = cx / iw * sw, cy / ih * sh
        col, row = min(int(gx), sw - 1), min(int(gy), sh - 1)
        target[row, col, :5] = torch.tensor([gx - col, gy - row, (w / iw) ** 0.5, (h / ih) ** 0.5, 1.0])
        target[row, col, 5:] = 0
        target[row, col, 5 + int(labels[i])] = 1
    return target


def assign_anchors(
    boxes: torch.Tensor,
    anchors: torch.Tensor,
    grid: tuple[int, int],
    stride: float,
    assign_iou: float,
    image_index: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Positive (anchor, cell) slots for boxes (K×4 XYXY px), of one image or of a batch.

    Each box goes to the cell holding its centre, to every anchor whose shape IoU with the box is at
    least `assign_iou`, and always to its best anchor (so no box is left without a slot). When two
    boxes claim one slot, the one with the higher shape IoU keeps it. `image_index` (K) says which
    image of a batch each box belongs to (slots of different images never collide).
    Returns (a, row, col) index tensors and the index of the box each positive slot predicts.
    """
    sh, sw = grid
    empty = torch.zeros(0, dtype=torch.long)
    if len(boxes) == 0:
        return empty, empty, empty, empty
    cxcywh = box_convert(boxes.float(), "xyxy", "cxcywh")
    iou = shape_iou(cxcywh[:, 2:], anchors)  # K×A
    match = iou >= assign_iou
    match[torch.arange(len(boxes)), iou.argmax(1)] = True
    b_idx, a_idx = match.nonzero(as_tuple=True)
    col = (cxcywh[b_idx, 0] / stride).long().clamp(0, sw - 1)
    row = (cxcywh[b_idx, 1] / stride).long().clamp(0, sh - 1)
    img = image_index[b_idx] if image_index is not None else torch.zeros_like(b_idx)
    # one box per slot: sort by IoU ascending, keep the last occurrence of each slot (the best box)
    order = iou[b_idx, a_idx].argsort(stable=True)
    b_idx, a_idx, row, col, img = b_idx[order], a_idx[order], row[order], col[order], img[order]
    slot = ((img * len(anchors) + a_idx) * sh + row) * sw + col
    last = torch.full((int(slot.max()) + 1,), -1, dtype=torch.long)
    last = last.scatter_reduce(0, slot, torch.arange(len(slot)), reduce="amax")
    keep = last[last >= 0]
    return a_idx[keep], row[keep], col[keep], b_idx[keep]

"""Detection metrics beside torchmetrics' mAP: precision and recall at one score threshold.

Detections at or above the threshold are matched greedily (highest score first) to same-class true
boxes at IoU ≥ `iou` (torchvision.ops.box_iou); a detection matching an ignored box (COCO crowd,
VOC difficult) is neither a true nor a false positive, and ignored boxes are not counted as missed.
"""

from __future__ import annotations

import torch
from torchmetrics import Metric
from torchvision.ops import box_iou


class PrecisionRecall(Metric):
    full_state_update = False

    def __init__(self, score_threshold: float = 0.25, iou: float = 0.5):
        super().__init__()
        self.score_threshold, self.iou = score_threshold, iou
        self.add_state("tp", torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("fp", torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("npos", torch.tensor(0.0), dist_reduce_fx="sum")

    def update(self, preds: list[dict], targets: list[dict]) -> None:
        for p, t in zip(preds, targets):
            keep = p["scores"] >= self.score_threshold
            boxes, scores, labels = p["boxes"][keep], p["scores"][keep], p["labels"][keep]
            crowd = t.get("iscrowd", torch.zeros_like(t["labels"])).bool()
            self.npos += (~crowd).sum()
            matched = torch.zeros(len(t["labels"]), dtype=torch.bool)
            iou = box_iou(boxes.float(), t["boxes"].float()) if len(boxes) and len(t["boxes"]) else None
            for i in scores.argsort(descending=True).tolist():
                if iou is None:
                    self.fp += 1
                    continue
                cand = (t["labels"] == labels[i]) & (iou[i] >= self.iou)
                free = cand & ~matched & ~crowd
                if free.any():
                    j = int(torch.where(free, iou[i], torch.tensor(-1.0)).argmax())
                    matched[j] = True
                    self.tp += 1
                elif not (cand & crowd).any():
                    self.fp += 1

    def compute(self) -> dict[str, torch.Tensor]:
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp > 0 else torch.tensor(0.0)
        recall = self.tp / self.npos if self.npos > 0 else torch.tensor(0.0)
        return {"precision": precision, "recall": recall}

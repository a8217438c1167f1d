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


class DetectionConfusionMatrix(Metric):
    """Class confusion of detections at one score and IoU, with a background row and column (the
    ultralytics ConfusionMatrix recipe): rows are the true class, columns the predicted class, index C is
    background. Detections at or above `score_threshold` and true boxes are paired class-agnostically at
    IoU ≥ `iou`, each box once, highest IoU first; a paired (true c, predicted d) counts [c, d], an unpaired
    true box [c, C] (missed), an unpaired detection [C, d] (false alarm). Ignored true boxes (crowd,
    difficult) are dropped together with the detections they take."""

    full_state_update = False

    def __init__(self, num_classes: int, score_threshold: float, iou: float = 0.5):
        super().__init__()
        self.num_classes, self.score_threshold, self.iou = num_classes, score_threshold, iou
        size = num_classes + 1
        self.add_state("matrix", torch.zeros(size, size, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: list[dict], targets: list[dict]) -> None:
        bg = self.num_classes
        for p, t in zip(preds, targets):
            keep = p["scores"] >= self.score_threshold
            boxes, labels = p["boxes"][keep].float(), p["labels"][keep].long().cpu()
            crowd = t.get("iscrowd", torch.zeros_like(t["labels"])).bool()
            if crowd.any() and len(boxes):  # a detection on an ignored box counts nowhere
                on_crowd = (box_iou(boxes, t["boxes"][crowd].float()) >= self.iou).any(1)
                boxes, labels = boxes[~on_crowd], labels[~on_crowd]
            true_boxes, true_labels = t["boxes"][~crowd].float(), t["labels"][~crowd].long().cpu()
            paired_true = torch.zeros(len(true_labels), dtype=torch.bool)
            paired_pred = torch.zeros(len(labels), dtype=torch.bool)
            if len(boxes) and len(true_boxes):
                iou = box_iou(true_boxes, boxes).cpu()
                ti, pi = torch.nonzero(iou >= self.iou, as_tuple=True)
                for k in iou[ti, pi].argsort(descending=True).tolist():
                    a, b = int(ti[k]), int(pi[k])
                    if not paired_true[a] and not paired_pred[b]:
                        paired_true[a] = paired_pred[b] = True
                        self.matrix[true_labels[a], labels[b]] += 1
            for c in true_labels[~paired_true].tolist():
                self.matrix[c, bg] += 1
            for d in labels[~paired_pred].tolist():
                self.matrix[bg, d] += 1

    def compute(self) -> torch.Tensor:
        return self.matrix.clone()

"""Per-item results of one evaluation batch, one scorer per task (used by `tools.py mistakes`).

Each scorer turns a batch into rows (one per image, or per pair) with the task's own metrics, using the
model's own decoding (`Detector.detect` at its thresholds, the segmenter's argmax, the Siamese pair
score and its calibrated `threshold`), and draws a few items with their predictions. `worst` orders
rows from the worst.
"""

from __future__ import annotations

import math

import torch
from torchmetrics.classification import MulticlassConfusionMatrix

from src.losses.distances import pair_score
from src.metrics.detection import PrecisionRecall


class DetectionScorer:
    """TP / FP / FN at `score_threshold` (the run's precision/recall matching) and AP over the model's
    IoU thresholds (torchmetrics' mAP, on the image alone; −1 when it has neither boxes nor detections)."""

    def __init__(self, model, datamodule):
        self.model = model
        model.head.prepare(datamodule, "validate")  # what the head reads from the data (normalisation)

    def rows(self, batch) -> list[dict]:
        from src.data.detection.datasets import to_original

        images, targets = batch
        model = self.model
        preds = model.detect(model(images), model.eval_score_threshold)
        rows = []
        for p, t in zip(preds, targets):
            p = {k: v.detach().float().cpu() if k != "labels" else v.cpu() for k, v in p.items()}
            mapped = {**p, "boxes": to_original(p["boxes"], t["scale"].cpu(), t["orig_size"])}
            truth = {k: t[k].cpu() for k in ("orig_boxes", "orig_labels", "iscrowd")}
            truth = {
                "boxes": truth["orig_boxes"],
                "labels": truth["orig_labels"],
                "iscrowd": truth["iscrowd"],
            }
            counts = PrecisionRecall(model.score_threshold, model.val_pr.iou)
            counts.update([mapped], [truth])
            ap = model.make_map()
            ap.update([mapped], [truth])
            tp, fp, npos = (int(getattr(counts, k)) for k in ("tp", "fp", "npos"))
            rows.append(
                {
                    "image_id": int(t["image_id"]),
                    "boxes": npos,
                    "tp": tp,
                    "fp": fp,
                    "fn": npos - tp,
                    "ap": round(float(ap.compute()["map"]), 6),
                }
            )
        return rows

    @staticmethod
    def worst(rows: list[dict]) -> list[dict]:
        return sorted(rows, key=lambda r: (-(r["fp"] + r["fn"]), r["ap"] if r["ap"] >= 0 else 2.0))

    def draw(self, batch, rows: list[dict], names: list[str], mean, std):
        from src.outputs.detection_plots import detection_grid

        images, targets = batch
        preds = [{k: v.cpu() for k, v in p.items()} for p in self.model.predict_step(images, 0)]
        truth = [{"boxes": t["boxes"].cpu(), "labels": t["labels"].cpu()} for t in targets]
        fig = detection_grid(images.cpu(), truth, preds, names, self.model.score_threshold, mean, std)
        for ax, row in zip(fig.axes, rows):
            ax.set_title(f"#{row['index']}: FP {row['fp']} FN {row['fn']} AP {row['ap']:.2f}", fontsize=7)
        return fig

    @staticmethod
    def totals(rows: list[dict]) -> dict:
        tp, fp, fn = (sum(r[k] for r in rows) for k in ("tp", "fp", "fn"))
        return {
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "precision": tp / (tp + fp) if tp + fp else 0.0,
            "recall": tp / (tp + fn) if tp + fn else 0.0,
        }


class SegmentationScorer:
    """IoU per class on each image (NaN for a class in neither its mask nor its prediction) and the
    image's mIoU over its present classes; the intersections and unions summed over the split give
    the run's per-class IoU (`totals`)."""

    def __init__(self, model, names: list[str]):
        self.model, self.names = model, names
        self.confusion = MulticlassConfusionMatrix(model.num_classes, ignore_index=model.ignore_index)
        self.summed = torch.zeros(model.num_classes, model.num_classes, dtype=torch.long)

    def rows(self, batch) -> list[dict]:
        images, masks = batch
        preds = self.model.predict_step(images, 0)
        rows = []
        for pred, mask in zip(preds.cpu(), masks.cpu()):
            matrix = self.confusion(pred[None], mask[None]).long()
            self.summed += matrix
            iou = iou_of(matrix)
            rows.append(
                {
                    **{f"iou_{n}": round(float(v), 6) for n, v in zip(self.names, iou)},
                    "miou": round(float(iou.nanmean()), 6),
                }
            )
        return rows

    @staticmethod
    def worst(rows: list[dict]) -> list[dict]:
        return sorted(rows, key=lambda r: r["miou"] if not math.isnan(r["miou"]) else 2.0)

    def draw(self, batch, rows: list[dict], names: list[str], mean, std):
        from src.outputs.plots import segmentation_grid

        images, masks = batch
        preds = self.model.predict_step(images, 0).cpu()
        fig = segmentation_grid(images.cpu(), masks.cpu(), preds, names, self.model.ignore_index)
        for i, row in enumerate(rows):
            fig.axes[3 * i].set_title(f"image #{row['index']}: mIoU {row['miou']:.2f}", fontsize=8)
        return fig

    def totals(self, rows: list[dict]) -> dict:
        return {f"iou_{n}": float(v) for n, v in zip(self.names, iou_of(self.summed)) if not math.isnan(v)}


def iou_of(matrix: torch.Tensor) -> torch.Tensor:
    """Per-class IoU of a confusion matrix (rows = true): NaN where the class is absent from both."""
    matrix = matrix.double()
    inter = matrix.diag()
    union = matrix.sum(0) + matrix.sum(1) - inter
    return torch.where(union > 0, inter / union.clamp(min=1), torch.tensor(math.nan, dtype=torch.double))


class VerificationScorer:
    """Each pair's score (higher = same), truth and decision at the calibrated `threshold` of the
    checkpoint; the worst pairs are the wrong decisions farthest from the threshold."""

    def __init__(self, model):
        self.model = model
        self.threshold = float(model.threshold)
        if not math.isfinite(self.threshold):
            from src.errors import ConfigError

            raise ConfigError("ckpt_path", "the checkpoint has no calibrated threshold (never validated)")

    def rows(self, batch) -> list[dict]:
        a, b, same, fold = batch
        scores = pair_score(self.model(a), self.model(b), self.model.distance).float().cpu()
        return [
            {
                "fold": int(f),
                "score": round(float(s), 6),
                "same": bool(y),
                "decision": bool(s >= self.threshold),
                "correct": bool((s >= self.threshold) == bool(y)),
            }
            for s, y, f in zip(scores, same.cpu(), fold.cpu())
        ]

    def worst(self, rows: list[dict]) -> list[dict]:
        return sorted(
            rows,
            key=lambda r: (
                r["correct"],
                -abs(r["score"] - self.threshold) * (not r["correct"]),
                abs(r["score"] - self.threshold),
            ),
        )

    def draw(self, batch, rows: list[dict], names: list[str], mean, std):
        import matplotlib.pyplot as plt

        from src.outputs.plots import to_display

        a, b = batch[0], batch[1]
        fig, axes = plt.subplots(len(rows), 2, figsize=(3.2, 1.7 * len(rows)), squeeze=False)
        for i, row in enumerate(rows):
            for j, image in enumerate((a[i], b[i])):
                axes[i][j].imshow(to_display(image, mean, std))
                axes[i][j].set_axis_off()
            truth = "same" if row["same"] else "different"
            said = "same" if row["decision"] else "different"
            axes[i][0].set_title(
                f"#{row['index']}: {truth}, said {said} ({row['score']:.2f} vs {self.threshold:.2f})",
                fontsize=6,
                loc="left",
            )
        fig.tight_layout()
        return fig

    @staticmethod
    def totals(rows: list[dict]) -> dict:
        return {"acc": sum(r["correct"] for r in rows) / len(rows) if rows else 0.0}

"""Evaluation cost: where a validation epoch's time goes, and what the metrics cost at scale.
(One file over 300 lines: three measurements of one question, evaluation cost, reported as one table.)

1. A validation epoch (`trainer.validate`) of each model on its default data, split into the network
   forward pass, the rest of the validation steps (loss, box decoding + NMS, metric updates), the epoch
   end (metric computation) and the remainder (data loading, Lightning). Plots are switched off.
2. COCO mAP as the detector computes it (torchmetrics `MeanAveragePrecision`, backend
   faster_coco_eval, per-class results, extended summary; src/lightning_modules/detector.py) against
   pycocotools' COCOeval on the same detections, on 500 and 5,000 images with many boxes; the numbers
   must agree; beside it, what the detector's other per-box metrics cost on the same detections: the
   confusion matrix with a background row and column and precision/recall at the score threshold.
3. Verification metrics (src/metrics/verification.py: ROC, AUROC, EER, TAR@FAR, best threshold, and the
   10-fold LFW accuracy) on 10^5 pairs, against sklearn's roc_auc_score + roc_curve.
`python -m benchmarks.evalcost [--quick]`.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks._common import (
    MODELS,
    build_data_and_model,
    compose,
    median,
    parse_args,
    quiet,
    repeat,
    write_result,
)


# ---- 1. validation epoch split ---------------------------------------------------------------------------
class Clock:
    def __init__(self):
        self.seconds = 0.0

    def wrap(self, fn):
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0

        return timed


def validation_split(model: str, tmp: Path, max_batches: int | None) -> dict:
    import lightning.pytorch as pl

    cfg = compose([f"model={model}"], tmp / f"val_{model}", progress=False)
    dm, module = build_data_and_model(cfg)
    module.should_plot = lambda: False
    clocks = {k: Clock() for k in ("forward", "step", "epoch_end")}
    net_forward = module.forward
    module.forward = clocks["forward"].wrap(net_forward)
    module.validation_step = clocks["step"].wrap(module.validation_step)
    module.on_validation_epoch_end = clocks["epoch_end"].wrap(module.on_validation_epoch_end)
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        limit_val_batches=max_batches or 1.0,
        default_root_dir=str(tmp),
    )
    t0 = time.perf_counter()
    trainer.validate(module, datamodule=dm, verbose=False)
    total = time.perf_counter() - t0
    fwd, step, end = (clocks[k].seconds for k in ("forward", "step", "epoch_end"))
    n = len(dm.val_set) if max_batches is None else min(len(dm.val_set), max_batches * dm.batch_size)
    return {
        "samples": n,
        "total_s": total,
        "forward_s": fwd,
        "step_other_s": step - fwd,
        "epoch_end_s": end,
        "rest_s": total - step - end,
    }


# ---- 2. mAP ------------------------------------------------------------------------------------------------
def synthetic_detections(n_images: int, num_classes: int = 10, seed: int = 0):
    """Ground truth (~20 boxes per image) and 100 detections per image: jittered true boxes with high
    scores, plus false positives with low scores, in 640×480 pixels."""
    rng = np.random.default_rng(seed)
    preds, targets = [], []
    for _ in range(n_images):
        k = int(rng.integers(10, 31))
        xy = rng.uniform(0, [560, 400], size=(k, 2))
        wh = rng.uniform(12, 80, size=(k, 2))
        gt = np.concatenate([xy, xy + wh], 1)
        labels = rng.integers(0, num_classes, k)
        found = rng.random(k) < 0.8
        jitter = rng.normal(0, 0.08, size=(k, 4)) * np.concatenate([wh, wh], 1)
        det = (gt + jitter)[found]
        det_labels = np.where(rng.random(k) < 0.9, labels, rng.integers(0, num_classes, k))[found]
        n_fp = 100 - len(det)
        fxy = rng.uniform(0, [560, 400], size=(n_fp, 2))
        fp = np.concatenate([fxy, fxy + rng.uniform(12, 80, size=(n_fp, 2))], 1)
        boxes = np.concatenate([det, fp]).clip(0, [640, 480, 640, 480])
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
        scores = np.concatenate([rng.uniform(0.3, 1.0, len(det)), rng.uniform(0.0, 0.6, n_fp)])
        preds.append(
            {
                "boxes": torch.tensor(boxes, dtype=torch.float32),
                "scores": torch.tensor(scores, dtype=torch.float32),
                "labels": torch.tensor(np.concatenate([det_labels, rng.integers(0, num_classes, n_fp)])),
            }
        )
        targets.append({"boxes": torch.tensor(gt, dtype=torch.float32), "labels": torch.tensor(labels)})
    return preds, targets


def torchmetrics_map(preds, targets, batch: int = 32) -> dict:
    from torchmetrics.detection import MeanAveragePrecision

    from src.lightning_modules.detector import COCO_IOUS

    metric = MeanAveragePrecision(
        box_format="xyxy",
        iou_type="bbox",
        iou_thresholds=list(COCO_IOUS),
        class_metrics=True,
        extended_summary=True,
        backend="faster_coco_eval",
    )
    for i in range(0, len(preds), batch):  # as validation feeds it, batch by batch
        metric.update(preds[i : i + batch], targets[i : i + batch])
    res = metric.compute()
    return {k: float(res[k]) for k in ("map", "map_50", "map_75")}


def pycocotools_map(preds, targets) -> dict:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, anns, dets = [], [], []
    for i, (p, t) in enumerate(zip(preds, targets)):
        images.append({"id": i, "width": 640, "height": 480})
        for b, c in zip(t["boxes"].tolist(), t["labels"].tolist()):
            w, h = b[2] - b[0], b[3] - b[1]
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i,
                    "category_id": c,
                    "bbox": [b[0], b[1], w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
        for b, s, c in zip(p["boxes"].tolist(), p["scores"].tolist(), p["labels"].tolist()):
            dets.append(
                {"image_id": i, "category_id": c, "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]], "score": s}
            )
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": images, "annotations": anns, "categories": [{"id": c} for c in range(10)]}
        gt.createIndex()
        dt = gt.loadRes(dets)
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {"map": float(ev.stats[0]), "map_50": float(ev.stats[1]), "map_75": float(ev.stats[2])}


def box_metric_cost(metric, preds, targets, batch: int = 32) -> None:
    """Update batch by batch, as validation does, then compute."""
    for i in range(0, len(preds), batch):
        metric.update(preds[i : i + batch], targets[i : i + batch])
    metric.compute()


def map_costs(n_images: int, repeats: int) -> dict:
    from src.metrics.detection import DetectionConfusionMatrix, PrecisionRecall

    preds, targets = synthetic_detections(n_images)
    ours, theirs = {}, {}
    t_ours = repeat(lambda: ours.update(torchmetrics_map(preds, targets)), repeats, warmup=0)
    t_coco = repeat(lambda: theirs.update(pycocotools_map(preds, targets)), repeats, warmup=0)
    t_confusion = repeat(
        lambda: box_metric_cost(DetectionConfusionMatrix(10, 0.25), preds, targets), repeats, warmup=0
    )
    t_pr = repeat(lambda: box_metric_cost(PrecisionRecall(0.25), preds, targets), repeats, warmup=0)
    diff = max(abs(ours[k] - theirs[k]) for k in ours)
    return {
        "images": n_images,
        "true_boxes": sum(len(t["labels"]) for t in targets),
        "detections": sum(len(p["scores"]) for p in preds),
        "torchmetrics_faster_coco_eval_s": median(t_ours),
        "pycocotools_s": median(t_coco),
        "confusion_matrix_s": median(t_confusion),
        "precision_recall_s": median(t_pr),
        "ours": ours,
        "pycocotools": theirs,
        "max_abs_diff": diff,
    }


# ---- 3. verification metrics --------------------------------------------------------------------------------
def verification_costs(n_pairs: int, repeats: int) -> dict:
    from sklearn.metrics import roc_auc_score, roc_curve

    from src.metrics.verification import kfold_accuracy, verification_metrics

    g = torch.Generator().manual_seed(0)
    same = torch.rand(n_pairs, generator=g) < 0.5
    scores = -(torch.rand(n_pairs, generator=g) * 1.5 + 0.6 * (~same))  # −distance, overlapping
    folds = torch.arange(n_pairs) % 10
    out = {}
    t_all = repeat(lambda: out.update(verification_metrics(scores, same)), repeats)
    t_kfold = repeat(lambda: kfold_accuracy(scores, same, folds), repeats)
    sk = {}

    def sklearn_roc():
        sk["auroc"] = roc_auc_score(same.numpy(), scores.numpy())
        roc_curve(same.numpy(), scores.numpy(), drop_intermediate=False)

    t_sk = repeat(sklearn_roc, repeats)
    return {
        "pairs": n_pairs,
        "verification_metrics_s": median(t_all),
        "kfold_accuracy_s": median(t_kfold),
        "sklearn_roc_auc_and_curve_s": median(t_sk),
        "auroc": out["auroc"],
        "auroc_sklearn": sk["auroc"],
        "auroc_abs_diff": abs(out["auroc"] - sk["auroc"]),
    }


def plot(val: dict, maps: list[dict]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.4))
    parts = ("forward_s", "step_other_s", "epoch_end_s", "rest_s")
    labels = ("forward", "loss/decode/metric update", "metric compute", "data + framework")
    bottom = np.zeros(len(val))
    for part, label in zip(parts, labels):
        v = np.array([val[m][part] for m in val])
        a.bar(list(val), v, bottom=bottom, label=label)
        bottom += v
    a.set_ylabel("seconds per validation epoch")
    a.legend(fontsize=7)
    n = [m["images"] for m in maps]
    b.plot(
        n, [m["torchmetrics_faster_coco_eval_s"] for m in maps], "o-", label="torchmetrics + faster_coco_eval"
    )
    b.plot(n, [m["pycocotools_s"] for m in maps], "s-", label="pycocotools")
    b.set_xscale("log")
    b.set_yscale("log")
    b.set_xlabel("images (100 detections each)")
    b.set_ylabel("seconds (mAP 0.5:0.95)")
    b.legend(fontsize=7)
    return fig


def main() -> None:
    args = parse_args(__doc__)
    quiet()
    quick = args.quick
    sizes, n_pairs, max_batches, repeats = (
        ([50, 200], 10_000, 2, 1) if quick else ([500, 5000], 100_000, None, 3)
    )
    with tempfile.TemporaryDirectory(prefix="bench_evalcost_") as tmp:
        val = {m: validation_split(m, Path(tmp), max_batches) for m in MODELS}
    maps = [map_costs(n, repeats if n <= 500 else 1) for n in sizes]
    ver = verification_costs(n_pairs, repeats)
    val_rows = [
        [
            m,
            r["samples"],
            r["total_s"],
            r["forward_s"],
            r["step_other_s"],
            r["epoch_end_s"],
            r["rest_s"],
            f"{100 * (r['step_other_s'] + r['epoch_end_s']) / r['total_s']:.0f} %",
        ]
        for m, r in val.items()
    ]
    val_headers = [
        "model",
        "val samples",
        "total s",
        "forward s",
        "loss+decode+update s",
        "compute s",
        "data+framework s",
        "metric share",
    ]
    map_rows = [
        [
            m["images"],
            m["true_boxes"],
            m["detections"],
            m["torchmetrics_faster_coco_eval_s"],
            m["pycocotools_s"],
            f"{m['pycocotools_s'] / m['torchmetrics_faster_coco_eval_s']:.1f}×",
            f"{m['ours']['map']:.4f} / {m['pycocotools']['map']:.4f}",
            f"{m['max_abs_diff']:.1e}",
            m["confusion_matrix_s"],
            m["precision_recall_s"],
        ]
        for m in maps
    ]
    map_headers = [
        "images",
        "true boxes",
        "detections",
        "ours s",
        "pycocotools s",
        "speed-up",
        "mAP ours / pycocotools",
        "max abs. difference (map, map50, map75)",
        "confusion matrix s",
        "precision/recall s",
    ]
    ver_rows = [
        [
            ver["pairs"],
            ver["verification_metrics_s"],
            ver["kfold_accuracy_s"],
            ver["sklearn_roc_auc_and_curve_s"],
            f"{ver['auroc']:.5f} / {ver['auroc_sklearn']:.5f}",
        ]
    ]
    ver_headers = [
        "pairs",
        "verification_metrics s",
        "10-fold accuracy s",
        "sklearn AUROC + ROC s",
        "AUROC ours / sklearn",
    ]
    notes = (
        "Validation: untrained models (random weights) on the default data; for the detector that is the "
        "costly case (up to `max_det` = 100 low-score detections per image enter the mAP). mAP: 10 classes, "
        "10–30 true boxes and 100 detections per image, fed in batches of 32 as validation does; ours = "
        "torchmetrics `MeanAveragePrecision(backend='faster_coco_eval', class_metrics=True, "
        "extended_summary=True)` exactly as the detector builds it; the confusion matrix (with background) and "
        "precision/recall at score 0.25, IoU 0.5, as the detector also computes them every validation. Medians of "
        f"{repeats} runs (5,000 images: one run)."
    )
    write_result(
        "evalcost",
        "Evaluation cost: validation split, mAP backend vs pycocotools, verification metrics",
        [
            ("Validation epoch (seconds):", val_headers, val_rows),
            ("mAP@[0.5:0.95] on many boxes:", map_headers, map_rows),
            ("Verification metrics:", ver_headers, ver_rows),
        ],
        {"validation": val, "map": maps, "verification": ver},
        args.out,
        notes,
        plot(val, maps),
        quick,
    )


if __name__ == "__main__":
    main()

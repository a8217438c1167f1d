"""The peers of benchmarks/real_time_to_quality.py, as a user of each would train it: smp's `Unet` and a
pytorch-metric-learning loss in plain PyTorch loops, and ultralytics' own trainer. Each returns its curve,
[{"t": training seconds, "<metric>": value}, ...], stopped once the training clock passes `limit`.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import torch

from benchmarks._common import build_data_and_model, compose
from benchmarks._loops import colour

# plain loops: the least training time between two evaluations, a fraction of the limit
EVAL_EVERY = 1 / 16


def lfw_accuracy(scores, same, folds) -> dict:
    """The LFW protocol's accuracy: mean over the folds, each fold's threshold chosen on the others."""
    from src.metrics.verification import kfold_accuracy

    try:
        return {"val/lfw_acc": kfold_accuracy(scores.cpu(), same.cpu(), folds.cpu())[0]}
    except ValueError:  # fewer than 2 folds (a --quick run's few pairs)
        return {}


def plain_budget(net, loss_fn, opt, dm, evaluate, limit: float, quick: bool) -> list:
    """A plain loop: `loss_fn(net, batch)` steps until the training clock passes `limit`, evaluated at the end
    of an epoch once `EVAL_EVERY` of the limit has passed since the last evaluation (and at the end), so a
    short epoch does not spend the run validating; a long epoch is cut at the limit."""
    curve, clock, epoch, loader = [], 0.0, 0, dm.train_dataloader()
    while clock < limit:
        net.train()
        t0 = time.perf_counter()
        for i, batch in enumerate(loader):
            loss = loss_fn(net, colour(dm, batch, epoch, i))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if (quick and i >= 2) or clock + time.perf_counter() - t0 >= limit:
                break
        clock += time.perf_counter() - t0
        epoch += 1
        if quick or clock >= limit or clock - (curve[-1]["t"] if curve else 0.0) >= EVAL_EVERY * limit:
            net.eval()
            with torch.no_grad():
                curve.append({"t": clock, "epoch": epoch, **evaluate(net)})
        if quick:
            break
    return curve


def run_smp(over: list[str], limit: float, tmp: Path, quick: bool) -> list:
    import segmentation_models_pytorch as smp
    from segmentation_models_pytorch.losses import DiceLoss
    from torchmetrics.classification import MulticlassJaccardIndex

    cfg = compose(over, tmp / "smp", progress=False)
    dm, _ = build_data_and_model(cfg)
    dm.setup("fit")
    classes = int(cfg.data.num_classes)
    net = smp.Unet("resnet18", encoder_weights=None, classes=classes)
    ce, dice = torch.nn.CrossEntropyLoss(ignore_index=255), DiceLoss("multiclass", ignore_index=255)

    def loss_fn(net, batch):
        x, y = batch
        logits = net(x)
        return ce(logits, y) + dice(logits, y)

    def evaluate(net):
        metric = MulticlassJaccardIndex(classes, average="none", ignore_index=255, zero_division=float("nan"))
        for i, (x, y) in enumerate(dm.val_dataloader()):
            if quick and i >= 2:
                break
            metric.update(net(x).argmax(1), y)
        return {"val/miou": float(metric.compute().nanmean())}

    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    return plain_budget(net, loss_fn, opt, dm, evaluate, limit, quick)


def run_pml(over: list[str], limit: float, tmp: Path, quick: bool) -> list:
    from pytorch_metric_learning import losses, miners

    from src.metrics.verification import verification_metrics
    from src.models.siamese import pair_score

    cfg = compose(over, tmp / "pml", progress=False)
    dm, module = build_data_and_model(cfg)
    dm.setup("fit")
    net = copy.deepcopy(module.net)  # our encoder + reductor as a plain nn.Module
    loss, miner = losses.TripletMarginLoss(margin=0.2), miners.MultiSimilarityMiner(epsilon=0.1)

    def loss_fn(net, batch):
        x, y = batch
        emb = net(x)
        return loss(emb, y, miner(emb, y))

    def evaluate(net):
        scores, same, folds = [], [], []
        for i, (a, b, s, fold) in enumerate(dm.val_dataloader()):
            if quick and i >= 2:
                break
            scores.append(pair_score(net(a), net(b), "euclidean"))
            same.append(s)
            folds.append(fold)
        scores, same = torch.cat(scores), torch.cat(same)
        m = verification_metrics(scores, same)
        return {
            "val/auroc": float(m["auroc"]),
            **lfw_accuracy(scores, same, torch.cat(folds)),
            "val/acc": float(m["acc"]),
        }

    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    return plain_budget(net, loss_fn, opt, dm, evaluate, limit, quick)


def run_ultralytics(data_yaml: Path, limit: float, tmp: Path, quick: bool, val_share: float) -> list | str:
    try:
        from ultralytics import YOLO
    except ImportError:
        return "ultralytics not installed (optional: `pip install ultralytics` in the benchmark environment)"
    model = YOLO("yolo11n.yaml")
    curve, state = [], {"clock": 0.0, "t0": None}

    def epoch_start(trainer):
        state["t0"] = time.perf_counter()

    def batch_end(
        trainer,
    ):  # the same training clock as the other sides: stop past the limit, validate once more
        if state["clock"] + time.perf_counter() - state["t0"] >= limit:
            trainer.stop = True

    def epoch_end(trainer):  # before validation
        state["clock"] += time.perf_counter() - state["t0"]

    def fit_epoch_end(trainer):  # after validation (a final validation repeats the last point: kept once)
        if not curve or curve[-1]["t"] != state["clock"]:
            curve.append(
                {
                    "t": state["clock"],
                    "val/map50": float(trainer.metrics.get("metrics/mAP50(B)", float("nan"))),
                }
            )

    model.add_callback("on_train_epoch_start", epoch_start)
    model.add_callback("on_train_batch_end", batch_end)
    model.add_callback("on_train_epoch_end", epoch_end)
    model.add_callback("on_fit_epoch_end", fit_epoch_end)
    model.train(
        data=str(data_yaml),
        imgsz=256,
        epochs=1 if quick else 100,  # its default; `time` fits the epochs (and its schedule) to the time
        time=limit * (1 + val_share) / 3600,  # its clock counts validation too
        batch=16,
        device="cpu",
        workers=1,  # ultralytics uses 0 on the CPU whatever is asked: its own loader in the training process
        pretrained=False,
        amp=False,
        plots=False,
        fraction=0.05 if quick else 1.0,
        project=str(tmp / "ultralytics"),
        name="yolo11n",
        exist_ok=True,
        verbose=False,
        seed=0,
    )
    return curve

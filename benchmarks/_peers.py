"""Validation curves against the training clock, recorded the same way for ours and for the peers a user
would pick instead, shared by the two time-to-quality benchmarks (time_to_quality.py on synthetic data,
real_time_to_quality.py on real images).

- `ClockCurve`: a Lightning callback (ours) that records {"t": training seconds, <metric>: value} after each
  validation, validation time excluded, and optionally stops past a time limit.
- `plain_curve`: the plain PyTorch loop a peer's user writes, with the same clock, epochs and/or limit.
- `smp_unet`, `pml_triplet`: a peer's network, loss, optimizer and evaluation on our DataModule's loaders.
- `ultralytics_curve`: ultralytics' own trainer with the same clock (its callbacks).
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import NamedTuple

import lightning.pytorch as pl
import torch

from benchmarks._loops import colour


def lfw_accuracy(scores, same, folds) -> dict:
    """The LFW protocol's accuracy: mean over the folds, each fold's threshold chosen on the others."""
    from src.metrics.verification import kfold_accuracy

    try:
        return {"val/lfw_acc": kfold_accuracy(scores.cpu(), same.cpu(), folds.cpu())[0]}
    except ValueError:  # fewer than 2 folds (a --quick run's few pairs)
        return {}


class ClockCurve(pl.Callback):
    """Appends {"t", metrics} to `curve` after each validation against the training clock (validation
    excluded); with `limit`, stops training once the clock passes it (Lightning validates once more)."""

    def __init__(self, metrics: list[str], curve: list, limit: float | None = None):
        self.metrics, self.curve, self.limit = metrics, curve, limit
        self.clock, self.t0, self.extra = 0.0, None, {}

    def on_train_epoch_start(self, trainer, pl_module):
        self.t0 = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.limit is not None and self.clock + time.perf_counter() - self.t0 >= self.limit:
            trainer.should_stop = True

    def on_validation_epoch_start(self, trainer, pl_module):
        if self.t0 is not None and not trainer.sanity_checking:
            self.clock += time.perf_counter() - self.t0
            self.t0 = None

    def on_validation_epoch_end(self, trainer, pl_module):
        # callbacks run before the module's hook: the Siamese module still holds its (score, same, fold) batches
        outputs = getattr(pl_module, "_outputs", None)
        self.extra = lfw_accuracy(*(torch.cat(x) for x in zip(*outputs))) if outputs else {}

    def on_validation_end(self, trainer, pl_module):  # after the module logged its epoch metrics
        if trainer.sanity_checking:
            return
        m = {**{k: float(v) for k, v in trainer.callback_metrics.items()}, **self.extra}
        self.curve.append({"t": self.clock, **{k: m[k] for k in self.metrics if k in m}})


class Peer(NamedTuple):
    net: torch.nn.Module
    loss_fn: object  # (net, batch) -> loss
    opt: torch.optim.Optimizer
    evaluate: object  # (net) -> {"val/<metric>": value}


def plain_curve(
    peer: Peer,
    dm,
    *,
    epochs: int | None = None,
    limit: float | None = None,
    max_batches: int | None = None,
    eval_every: float = 0.0,
) -> list:
    """A plain loop over `dm`'s training loader until `epochs` epochs are done or the training clock passes
    `limit` seconds (a long epoch is cut there). It evaluates at an epoch's end once `eval_every` training
    seconds have passed since the last evaluation, and at the end, so short epochs do not spend the run
    validating; the batches get the colour the Trainer would give them (`batch_colour`)."""
    curve, clock, epoch, loader = [], 0.0, 0, dm.train_dataloader()

    def done() -> bool:
        return (epochs is not None and epoch >= epochs) or (limit is not None and clock >= limit)

    while not done():
        peer.net.train()
        t0 = time.perf_counter()
        for i, batch in enumerate(loader):
            if max_batches and i >= max_batches:
                break
            loss = peer.loss_fn(peer.net, colour(dm, batch, epoch, i))
            peer.opt.zero_grad(set_to_none=True)
            loss.backward()
            peer.opt.step()
            if limit is not None and clock + time.perf_counter() - t0 >= limit:
                break
        clock += time.perf_counter() - t0
        epoch += 1
        if done() or clock - (curve[-1]["t"] if curve else 0.0) >= eval_every:
            peer.net.eval()
            with torch.no_grad():
                curve.append({"t": clock, "epoch": epoch, **peer.evaluate(peer.net)})
    return curve


def smp_unet(dm, classes: int, max_batches: int | None, **unet_args) -> Peer:
    """segmentation-models-pytorch's `Unet` (resnet18, random init), CE + Dice, AdamW 1e-3; val/miou."""
    import segmentation_models_pytorch as smp
    from segmentation_models_pytorch.losses import DiceLoss
    from torchmetrics.classification import MulticlassJaccardIndex

    net = smp.Unet("resnet18", encoder_weights=None, classes=classes, **unet_args)
    ce, dice = torch.nn.CrossEntropyLoss(ignore_index=255), DiceLoss("multiclass", ignore_index=255)

    def loss_fn(net, batch):
        x, y = batch
        logits = net(x)
        return ce(logits, y) + dice(logits, y)

    def evaluate(net):
        metric = MulticlassJaccardIndex(classes, average="none", ignore_index=255, zero_division=float("nan"))
        for i, (x, y) in enumerate(dm.val_dataloader()):
            if max_batches and i >= max_batches:
                break
            metric.update(net(x).argmax(1), y)
        return {"val/miou": float(metric.compute().nanmean())}

    return Peer(net, loss_fn, torch.optim.AdamW(net.parameters(), lr=1e-3), evaluate)


def pml_triplet(dm, module, max_batches: int | None) -> Peer:
    """Our Siamese network (encoder + reductor) with pytorch-metric-learning's TripletMarginLoss and
    MultiSimilarityMiner, Adam 1e-3; val/auroc, val/lfw_acc (10 folds) and val/acc on the same pairs."""
    from pytorch_metric_learning import losses, miners

    from src.losses.distances import pair_score
    from src.metrics.verification import verification_metrics

    net = copy.deepcopy(module.net)  # a plain nn.Module
    loss, miner = losses.TripletMarginLoss(margin=0.2), miners.MultiSimilarityMiner(epsilon=0.1)

    def loss_fn(net, batch):
        x, y = batch
        emb = net(x)
        return loss(emb, y, miner(emb, y))

    def evaluate(net):
        scores, same, folds = [], [], []
        for i, (a, b, s, fold) in enumerate(dm.val_dataloader()):
            if max_batches and i >= max_batches:
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

    return Peer(net, loss_fn, torch.optim.Adam(net.parameters(), lr=1e-3), evaluate)


def ultralytics_curve(data_yaml: Path, tmp: Path, limit: float | None = None, **train_args) -> list | str:
    """YOLO11n from `yolo11n.yaml` (no weights) trained by ultralytics' own trainer on `data_yaml` with
    `train_args`; {"t", "val/map50"} after each validation against the same training clock; with `limit`,
    stopped at the first batch past it. A string when ultralytics is not installed."""
    try:
        from ultralytics import YOLO
    except ImportError:
        return "ultralytics not installed (optional: `pip install ultralytics` in the benchmark environment)"
    model = YOLO("yolo11n.yaml")
    curve, state = [], {"clock": 0.0, "t0": None}

    def epoch_start(trainer):
        state["t0"] = time.perf_counter()

    def batch_end(trainer):
        if limit is not None and state["clock"] + time.perf_counter() - state["t0"] >= limit:
            trainer.stop = True

    def epoch_end(trainer):  # before validation
        state["clock"] += time.perf_counter() - state["t0"]

    def fit_epoch_end(trainer):  # after validation (a final validation repeats the last point: kept once)
        if not curve or curve[-1]["t"] != state["clock"]:
            mapped = float(trainer.metrics.get("metrics/mAP50(B)", float("nan")))
            curve.append({"t": state["clock"], "val/map50": mapped})

    model.add_callback("on_train_epoch_start", epoch_start)
    model.add_callback("on_train_batch_end", batch_end)
    model.add_callback("on_train_epoch_end", epoch_end)
    model.add_callback("on_fit_epoch_end", fit_epoch_end)
    model.train(
        data=str(data_yaml),
        device="cpu",
        pretrained=False,
        amp=False,
        plots=False,
        project=str(tmp / "ultralytics"),
        name="yolo11n",
        exist_ok=True,
        verbose=False,
        seed=0,
        **train_args,
    )
    return curve

"""`model=yolo11`: ultralytics' YOLO11 DetectionModel trained inside the framework.

The network comes from ultralytics' yolo11.yaml at a scale (`variant` n/s/m/l/x), trains with its own
loss (v8DetectionLoss: task-aligned assignment, BCE classes, CIoU + DFL boxes) and decodes with its own
NMS; data, optimizer groups, warm-up + cosine, EMA, mAP (`val/map`, `val/map50`, `val/map75`), plots
and `predict.py` are the framework's, shared with model=yolo by subclassing its Detector. ultralytics
is imported lazily (src/models/yolo11.py), so the rest of the project never needs it.

Fine-tuning: `weights=<local .pt or .ckpt>` loads every tensor whose name and shape fit; with another
class count only the last class convolutions keep their fresh init. `freeze=N` freezes layers 0..N-1.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable

import torch

from src.data.det_transforms import target_list
from src.lightning_modules.base import TaskModule
from src.lightning_modules.detector import Detector
from src.metrics.detection import PrecisionRecall
from src.models import yolo11 as y11
from src.utils.errors import check

log = logging.getLogger("imagelab")


class Yolo11(Detector):
    task = "detection"
    monitor = "val/map50"

    def __init__(
        self,
        num_classes: int,
        image_size: int | list[int] = 64,
        variant: str = "n",
        yaml: str | None = None,
        weights: str | None = None,
        freeze: int = 0,
        box: float = 7.5,
        cls: float = 0.5,
        dfl: float = 1.5,
        tal_topk: int = 10,
        score_threshold: float = 0.25,
        eval_score_threshold: float = 0.001,
        nms_iou: float = 0.7,
        max_det: int = 100,
        map_iou_thresholds: list[float] | None = None,
        ema_decay: float = 0.0,
        ema_tau: float = 200.0,
        cpu_threads: int | None = None,
        optim: Callable | None = None,
        schedule: Callable | None = None,
        plot_every_n_epochs: int = 5,
        num_plot_images: int = 8,
        monitor: str = "val/map50",
    ):
        # Detector.__init__ builds its own networks; take only the shared parts (TaskModule) and set the
        # attributes that Detector's evaluation, plots, EMA and predict_cli read.
        TaskModule.__init__(
            self,
            optim=optim,
            schedule=schedule,
            monitor=monitor,
            plot_every_n_epochs=plot_every_n_epochs,
            num_plot_images=num_plot_images,
        )
        self.save_hparams(optim=optim, schedule=schedule)
        self.set_eval_settings(
            num_classes,
            image_size,
            score_threshold,
            eval_score_threshold,
            nms_iou,
            max_det,
            map_iou_thresholds,
        )
        check(0 <= ema_decay < 1, "ema_decay", "a value in [0, 1) (0 = off)", ema_decay)
        check(isinstance(tal_topk, int) and tal_topk >= 1, "tal_topk", "an integer >= 1", tal_topk)
        for key, value in (("box", box), ("cls", cls), ("dfl", dfl)):
            check(value >= 0, key, "a loss gain >= 0", value)
        check(
            cpu_threads is None or (isinstance(cpu_threads, int) and cpu_threads >= 1),
            "cpu_threads",
            "an integer >= 1 or null",
            cpu_threads,
        )
        self.head, self.tal_topk = "yolo11", tal_topk
        self.ema_decay, self.ema_tau, self.cpu_threads = ema_decay, ema_tau, cpu_threads

        self.net = y11.build_network(num_classes, variant, yaml, {"box": box, "cls": cls, "dfl": dfl})
        stride = int(self.net.stride.max())
        check(
            all(s % stride == 0 for s in self.image_size),
            "image_size",
            f"multiples of the network stride {stride} (e.g. 64, 96, 128, 640)",
            image_size,
        )
        self.reinitialised: list[str] = []
        if weights:
            self.reinitialised = y11.load_matching(self.net, y11.read_weights(weights), str(weights))
        layers = len(self.net.model)
        check(
            isinstance(freeze, int) and 0 <= freeze < layers,
            "freeze",
            f"a number of leading layers in [0, {layers - 1}] (0 = none)",
            freeze,
        )
        y11.freeze_layers(self.net, freeze)
        self.ema = copy.deepcopy(self.net).requires_grad_(False) if ema_decay > 0 else None
        # ultralytics' networks take RGB in [0, 1]: undo the DataModule's normalisation (set in setup)
        self.register_buffer("input_mean", torch.zeros(3, 1, 1))
        self.register_buffer("input_std", torch.ones(3, 1, 1))
        self._criterion, self._criterion_device = None, None
        self.val_map, self.test_map = self.make_map(), self.make_map()
        self.val_pr, self.test_pr = PrecisionRecall(score_threshold), PrecisionRecall(score_threshold)
        self._plot_batch = None

    # ---- input ------------------------------------------------------------------------------------------
    def use_normalisation_of(self, datamodule) -> None:
        """Remember the DataModule's mean/std (None = images already in [0, 1])."""
        mean, std = getattr(datamodule, "mean", None), getattr(datamodule, "std", None)
        self.input_mean.copy_(torch.tensor(mean if mean is not None else [0.0] * 3).view(3, 1, 1))
        self.input_std.copy_(torch.tensor(std if std is not None else [1.0] * 3).view(3, 1, 1))

    def setup(self, stage: str) -> None:
        super().setup(stage)  # CPU threads
        dm = getattr(self.trainer, "datamodule", None)
        if dm is not None:
            self.use_normalisation_of(dm)

    def unit_range(self, images: torch.Tensor) -> torch.Tensor:
        return images * self.input_std + self.input_mean

    # ---- forward, losses, decoding -------------------------------------------------------------------
    def forward(self, images: torch.Tensor):
        """Training: ultralytics' raw head outputs; eval: (decoded B×(4+C)×anchors, raw outputs)."""
        return super().forward(self.unit_range(images))

    @property
    def criterion(self):
        """v8DetectionLoss, rebuilt when the module moves to another device (it caches device tensors)."""
        if self._criterion is None or self._criterion_device != self.device:
            self._criterion = y11.detection_criterion(self.net, self.tal_topk)
            self._criterion_device = self.device
        return self._criterion

    def losses_of(self, out, targets: list[dict]) -> dict[str, torch.Tensor]:
        batch = y11.ultralytics_batch(targets, self.image_size, self.device)
        return y11.loss_terms(self.criterion, out, batch, len(targets))

    def compute_losses(self, batch) -> dict[str, torch.Tensor]:
        images, targets = batch
        return self.losses_of(self.net(self.unit_range(images)), target_list(targets))

    def detect(self, out, score_threshold: float) -> list[dict[str, torch.Tensor]]:
        # mAP candidates (the low eval threshold) get every class above it, as ultralytics' validator does
        multi_label = score_threshold < self.score_threshold
        return y11.decode(out, score_threshold, self.nms_iou, self.max_det, multi_label)

    def predict_cli(self, cfg, datamodule, out_dir):
        self.use_normalisation_of(datamodule)
        return super().predict_cli(cfg, datamodule, out_dir)

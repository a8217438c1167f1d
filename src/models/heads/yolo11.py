"""`model/head=yolo11`: ultralytics' YOLO11 DetectionModel (optional extra, AGPL-3.0), its loss and NMS.

The network comes from ultralytics' yolo11.yaml at a scale (`variant` n/s/m/l/x), trains with its own
loss (v8DetectionLoss: task-aligned assignment, BCE classes, CIoU + DFL boxes) and decodes with its own
NMS. ultralytics is imported lazily (src/models/yolo11.py), so the rest of the project never needs it.

Fine-tuning: `weights=<yolo11n.pt | local .pt | run folder | .ckpt>` loads every tensor whose name and shape fit; with another
class count only the last class convolutions keep their fresh init. `freeze=N` freezes layers 0..N-1.
"""

from __future__ import annotations

import torch

from src.errors import check
from src.models import yolo11 as y11
from src.models.heads.base import DetectionHead


class Yolo11Head(DetectionHead):
    def __init__(
        self,
        num_classes: int,
        image_size: tuple[int, int],
        variant: str,
        yaml: str | None,
        weights: str | None,
        freeze: int,
        box: float,
        cls: float,
        dfl: float,
        tal_topk: int,
    ):
        super().__init__(num_classes, image_size)
        check(isinstance(tal_topk, int) and tal_topk >= 1, "tal_topk", "an integer >= 1", tal_topk)
        for key, value in (("box", box), ("cls", cls), ("dfl", dfl)):
            check(value >= 0, key, "a loss gain >= 0", value)
        self.tal_topk = tal_topk
        self.net = y11.build_network(num_classes, variant, yaml, {"box": box, "cls": cls, "dfl": dfl})
        stride = int(self.net.stride.max())
        check(
            all(s % stride == 0 for s in self.image_size),
            "image_size",
            f"multiples of the network stride {stride} (e.g. 64, 96, 128, 640)",
            list(image_size),
        )
        self.reinitialised: list[str] = []
        if weights:
            file = y11.resolve_weights(weights)  # a file, a run, or an asset name as ultralytics resolves it
            self.reinitialised = y11.load_matching(self.net, y11.read_weights(file), str(file))
        layers = len(self.net.model)
        check(
            isinstance(freeze, int) and 0 <= freeze < layers,
            "freeze",
            f"a number of leading layers in [0, {layers - 1}] (0 = none)",
            freeze,
        )
        y11.freeze_layers(self.net, freeze)
        # ultralytics' networks take RGB in [0, 1]: undo the DataModule's normalisation (set in prepare)
        self.register_buffer("input_mean", torch.zeros(3, 1, 1))
        self.register_buffer("input_std", torch.ones(3, 1, 1))
        self._criterion, self._criterion_device = None, None

    def pretrained_part(self) -> torch.nn.Module:
        """The layers of the yaml's `backbone:` section (0..10 of yolo11.yaml)."""
        return torch.nn.ModuleList(self.net.model[: len(self.net.yaml["backbone"])])

    def prepare(self, datamodule, stage: str) -> None:
        """Remember the DataModule's mean/std (None = images already in [0, 1])."""
        if datamodule is None:
            return
        mean, std = getattr(datamodule, "mean", None), getattr(datamodule, "std", None)
        self.input_mean.copy_(torch.tensor(mean if mean is not None else [0.0] * 3).view(3, 1, 1))
        self.input_std.copy_(torch.tensor(std if std is not None else [1.0] * 3).view(3, 1, 1))

    def forward(self, images: torch.Tensor):
        """Training: ultralytics' raw head outputs; eval: (decoded B×(4+C)×anchors, raw outputs)."""
        return self.net(images * self.input_std + self.input_mean)

    @property
    def criterion(self):
        """v8DetectionLoss, rebuilt when the head moves to another device (it caches device tensors)."""
        device = self.input_mean.device
        if self._criterion is None or self._criterion_device != device:
            self._criterion = y11.detection_criterion(self.net, self.tal_topk)
            self._criterion_device = device
        return self._criterion

    def losses(self, out, targets: list[dict]) -> dict[str, torch.Tensor]:
        batch = y11.ultralytics_batch(targets, self.image_size, self.input_mean.device)
        return y11.loss_terms(self.criterion, out, batch, len(targets))

    def decode(self, out, score_threshold, nms_iou, max_det, multi_label):
        return y11.decode(out, score_threshold, nms_iou, max_det, multi_label)

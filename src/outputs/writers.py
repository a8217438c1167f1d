"""The prediction writer of each task: the one place `predict.py` looks a task up (a new task adds a line)."""

from __future__ import annotations

from src.outputs.detection_writer import DetectionWriter
from src.outputs.prediction_writer import PredictionWriter
from src.outputs.segmentation_writer import SegmentationWriter
from src.outputs.verification_writer import VerificationWriter

WRITERS: dict[str, type[PredictionWriter]] = {
    "segmentation": SegmentationWriter,
    "detection": DetectionWriter,
    "verification": VerificationWriter,
    "pretraining": VerificationWriter,  # embeddings of a pretraining run's encoder + projector (cosine)
}

"""What the three task writers share: the output folder, the image files, batch bookkeeping, a summary.

A writer is a Lightning `BasePredictionWriter` called after every predict batch with the module's
`predict_step` output and the PredictImages batch (`index` names the files). Writers write on rank 0
of a single-process predict; `summary()` is what `predict.py` prints.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from lightning.pytorch.callbacks import BasePredictionWriter


def class_names_of(model, facts: dict) -> list[str]:
    return list(facts.get("class_names") or [f"class_{i}" for i in range(getattr(model, "num_classes", 0))])


class PredictionWriter(BasePredictionWriter, ABC):
    takes_pairs = False  # verification: `+pair=` / `+pairs=` name pairs of the input images

    @classmethod
    def for_run(cls, out_dir: Path, files: list[Path], pairs, model, facts: dict) -> PredictionWriter:
        """The writer for `model`'s predictions (the class names come from the checkpoint's data facts)."""
        return cls(out_dir, files, class_names_of(model, facts))

    @staticmethod
    def input_rule(model, facts: dict) -> tuple[object, str]:
        """(size, resize) of the input images: the size the model was trained at, resized (not letterboxed)."""
        return facts.get("image_size"), "resize"

    def __init__(self, out_dir: str | Path, files: list[Path], class_names: list[str] | None = None):
        super().__init__(write_interval="batch")
        self.out_dir, self.files = Path(out_dir), list(files)
        self.class_names = list(class_names or [])
        self.batch_sizes: list[int] = []  # images per predict batch, as the loader delivered them

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dl_idx):
        files = [self.files[int(i)] for i in batch["index"]]
        self.batch_sizes.append(len(files))
        self.write_batch(files, prediction, batch)

    @abstractmethod
    def write_batch(self, files: list[Path], prediction, batch) -> None: ...

    def on_predict_end(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            self.finish()

    def finish(self) -> None:
        """Files written once at the end (JSON, NPZ, CSV)."""

    def summary(self) -> dict:
        return {"images": sum(self.batch_sizes), "batches": len(self.batch_sizes)}

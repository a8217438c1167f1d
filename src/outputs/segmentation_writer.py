"""Segmentation predictions on disk: `predictions/<stem>_mask.png` and `predictions/<stem>_overlay.png`.

The mask is a palette PNG whose pixel values are class ids (viewable in colour, read back with
`np.asarray(Image.open(...))`), at the input image's own size; the overlay blends the predicted classes
into the image. The summary gives the fraction of pixels per class.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from src.data.common.image_files import read_image
from src.outputs.plots import class_colours, overlay
from src.outputs.prediction_writer import PredictionWriter


def palette(num_classes: int) -> list[int]:
    """A flat 768-entry PIL palette: class k gets the plots' colour k (background black)."""
    colours = (class_colours(num_classes) * 255).round().astype(np.uint8)
    flat = np.zeros((256, 3), np.uint8)
    flat[: len(colours)] = colours
    flat[255] = 255  # ignore index, white
    return flat.reshape(-1).tolist()


class SegmentationWriter(PredictionWriter):
    def __init__(self, out_dir, files, class_names):
        super().__init__(out_dir, files, class_names)
        self.target = self.out_dir / "predictions"
        self.colours, self.palette = class_colours(len(self.class_names)), palette(len(self.class_names))
        self.counts = np.zeros(len(self.class_names), np.int64)

    def write_batch(self, files: list[Path], prediction, batch) -> None:
        self.target.mkdir(parents=True, exist_ok=True)
        for file, mask in zip(files, prediction):
            mask = mask.numpy()
            self.counts += np.bincount(mask.reshape(-1), minlength=len(self.counts))[: len(self.counts)]
            img = Image.frombytes("P", (mask.shape[1], mask.shape[0]), np.ascontiguousarray(mask).tobytes())
            img.putpalette(self.palette)
            img.save(self.target / f"{file.stem}_mask.png")
            pixels = read_image(file).permute(1, 2, 0).numpy().astype(np.float32) / 255.0
            blended = overlay(pixels, mask, self.colours)
            Image.fromarray((blended * 255).round().astype(np.uint8)).save(
                self.target / f"{file.stem}_overlay.png"
            )

    def summary(self) -> dict:
        total = max(1, int(self.counts.sum()))
        fractions = {name: round(float(c) / total, 4) for name, c in zip(self.class_names, self.counts)}
        return {**super().summary(), "predictions": str(self.target), "pixel_fraction": fractions}

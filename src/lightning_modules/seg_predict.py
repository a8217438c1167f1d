"""Segmentation on files: `python predict.py model=unet ckpt_path=<ckpt> +source=<image or folder>`.

Writes `<out_dir>/predictions/<stem>_mask.png` (palette PNG, pixel value = class id, viewable in colour)
and `<stem>_overlay.png` (the image with the predicted classes blended in), at each input's own size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision import tv_tensors

from src.data.mask_folder import IMAGE_EXTS, read_image
from src.data.transforms import eval_transform
from src.utils.errors import ConfigError, DataError
from src.utils.plots import class_colours, overlay


def list_sources(source) -> list[Path]:
    """The image files named by `+source`: one image, or every image in a folder (sorted, not recursive)."""
    if source in (None, ""):
        raise ConfigError("source", "give an image or a folder of images: +source=path/to/images")
    path = Path(str(source)).expanduser()
    if path.is_dir():
        files = sorted(
            p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTS and not p.name.startswith(".")
        )
        if not files:
            raise DataError(path, f"no images (extensions {', '.join(IMAGE_EXTS)})")
        return files
    if not path.is_file():
        raise ConfigError("source", f"{path} is neither an image nor a folder")
    return [path]


def palette(num_classes: int) -> list[int]:
    """A flat 768-entry PIL palette: class k gets the plots' colour k (background black)."""
    colours = (class_colours(num_classes) * 255).round().astype(np.uint8)
    flat = np.zeros((256, 3), np.uint8)
    flat[: len(colours)] = colours
    flat[255] = 255  # ignore index, white
    return flat.reshape(-1).tolist()


@torch.inference_mode()
def predict_image(model, image: Image.Image, transform) -> np.ndarray:
    """H×W uint8 class ids for a PIL image, at the image's own size."""
    pixels = tv_tensors.Image(torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1))
    batch = transform(pixels).unsqueeze(0).to(model.device)
    logits = model(batch)
    logits = F.interpolate(logits, size=(image.height, image.width), mode="bilinear", align_corners=False)
    return logits.argmax(1)[0].to(torch.uint8).cpu().numpy()


def predict_folder(model, cfg, datamodule, out_dir) -> dict:
    files = list_sources(cfg.get("source"))
    names = model.class_names(datamodule)
    transform = eval_transform(datamodule.image_size, datamodule.mean, datamodule.std)
    target = Path(out_dir) / "predictions"
    target.mkdir(parents=True, exist_ok=True)
    colours, pal = class_colours(len(names)), palette(len(names))
    counts = np.zeros(len(names), np.int64)
    model.eval()
    for file in files:
        image = read_image(file)
        mask = predict_image(model, image, transform)
        counts += np.bincount(mask.reshape(-1), minlength=len(names))[: len(names)]
        mask_img = Image.frombytes("P", (mask.shape[1], mask.shape[0]), np.ascontiguousarray(mask).tobytes())
        mask_img.putpalette(pal)
        mask_img.save(target / f"{file.stem}_mask.png")
        blended = overlay(np.asarray(image, np.float32) / 255.0, mask, colours)
        Image.fromarray((blended * 255).round().astype(np.uint8)).save(target / f"{file.stem}_overlay.png")
    total = max(1, int(counts.sum()))
    return {
        "images": len(files),
        "predictions": str(target),
        "pixel_fraction": {name: round(float(c) / total, 4) for name, c in zip(names, counts)},
    }

"""Detection on files: `python predict.py model=yolo ckpt_path=<ckpt> +source=<image or folder>`.

Writes `<out_dir>/predictions/<stem>.png` (the image with its boxes) and `<out_dir>/detections.json` in
COCO results format: image_id (the file stem when it is a number, else its index), category_id in the
dataset's own ids, bbox [x, y, w, h] in original pixels, score.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torchvision import tv_tensors
from torchvision.io import ImageReadMode, decode_image
from torchvision.transforms.v2 import functional as F

from src.data.det_scan import IMAGE_SUFFIXES
from src.data.det_transforms import letterbox, to_original
from src.utils.errors import ConfigError


def list_images(source) -> list[Path]:
    if not source:
        raise ConfigError("source", "give an image or a folder of images: +source=<path>")
    src = Path(str(source)).expanduser()
    if src.is_dir():
        files = sorted(p for p in src.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    elif src.is_file():
        files = [src]
    else:
        raise ConfigError("source", f"{src} is neither an image nor a folder")
    if not files:
        raise ConfigError("source", f"no images ({', '.join(IMAGE_SUFFIXES)}) in {src}")
    return files


def model_input(file: Path, image_size, datamodule) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One image file → (network input 3×H×W, box scale [sx, sy, sx, sy], original size [h, w])."""
    try:
        image = decode_image(str(file), mode=ImageReadMode.RGB)
    except RuntimeError as err:
        raise ConfigError("source", f"cannot read image {file} ({err})") from None
    h, w = image.shape[-2:]
    empty = {"boxes": tv_tensors.BoundingBoxes(torch.zeros(0, 4), format="XYXY", canvas_size=(h, w))}
    boxed, _, (sx, sy) = letterbox(
        tv_tensors.Image(image), empty, image_size, getattr(datamodule, "resize", "letterbox")
    )
    x = boxed.float() / 255
    mean, std = getattr(datamodule, "mean", None), getattr(datamodule, "std", None)
    if mean is not None:
        x = F.normalize(x, list(mean), list(std))
    return x, torch.tensor([sx, sy, sx, sy]), torch.tensor([h, w])


def predict_files(module, source, datamodule, out_dir: Path) -> dict:
    """Detect on every image of `source` with `module` (a Detector); write pictures and detections.json."""
    from src.utils.detection_plots import draw_detections

    files = list_images(source)
    n = module.num_classes
    names = module.class_names(datamodule)
    cat_ids = list(getattr(datamodule, "category_ids", range(n)))
    out_images = Path(out_dir) / "predictions"
    out_images.mkdir(parents=True, exist_ok=True)
    results = []
    for i, file in enumerate(files):
        x, scale, size = model_input(file, module.image_size, datamodule)
        pred = module.detect(module(x[None].to(module.device)), module.score_threshold)[0]
        boxes = to_original(pred["boxes"].cpu(), scale, size)
        image_id = int(file.stem) if file.stem.isdigit() else i
        dets = [
            {"box": b, "label": int(c), "score": float(s)}
            for b, c, s in zip(boxes.tolist(), pred["labels"].tolist(), pred["scores"].tolist())
        ]
        draw_detections(file, dets, names, out_images / f"{file.stem}.png")
        for d in dets:
            x1, y1, x2, y2 = d["box"]
            results.append(
                {
                    "image_id": image_id,
                    "file_name": file.name,
                    "category_id": int(cat_ids[d["label"]]),
                    "category_name": names[d["label"]],
                    "bbox": [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)],
                    "score": round(d["score"], 5),
                }
            )
    json_path = Path(out_dir) / "detections.json"
    json_path.write_text(json.dumps(results, indent=1))
    return {
        "images": len(files),
        "detections": len(results),
        "json": str(json_path),
        "pictures": str(out_images),
    }

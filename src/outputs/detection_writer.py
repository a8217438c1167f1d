"""Detection predictions on disk: `detections.json` (COCO results format) and `predictions/<stem>.png`.

Each result is `{"image_id", "category_id", "bbox": [x, y, w, h], "score"}` in original image pixels,
plus `file_name` and `category_name`; `category_id` is the dataset's own id (COCO's category ids,
else 0..C−1) and `image_id` the file stem when it is a number, else the image's position in the list.
The pictures show the boxes above `model.score_threshold` with class name and score.
"""

from __future__ import annotations

import json
from pathlib import Path

from src.outputs.detection_plots import draw_detections
from src.outputs.prediction_writer import PredictionWriter, class_names_of


class DetectionWriter(PredictionWriter):
    @classmethod
    def for_run(cls, out_dir, files, pairs, model, facts):
        names = class_names_of(model, facts)
        return cls(out_dir, files, names, facts.get("category_ids") or list(range(len(names))))

    @staticmethod
    def input_rule(model, facts):  # the detector's own input size, letterboxed as in training
        return getattr(model, "image_size", None), facts.get("resize", "letterbox")

    def __init__(self, out_dir, files, class_names, category_ids: list[int]):
        super().__init__(out_dir, files, class_names)
        self.category_ids = list(category_ids)
        self.target = self.out_dir / "predictions"
        self.json_path = self.out_dir / "detections.json"
        self.results: list[dict] = []

    def write_batch(self, files: list[Path], prediction, batch) -> None:
        self.target.mkdir(parents=True, exist_ok=True)
        for file, index, pred in zip(files, batch["index"].tolist(), prediction):
            image_id = int(file.stem) if file.stem.isdigit() else index
            dets = [
                {"box": b, "label": int(c), "score": float(s)}
                for b, c, s in zip(pred["boxes"].tolist(), pred["labels"].tolist(), pred["scores"].tolist())
            ]
            draw_detections(file, dets, self.class_names, self.target / f"{file.stem}.png")
            for d in dets:
                x1, y1, x2, y2 = d["box"]
                self.results.append(
                    {
                        "image_id": image_id,
                        "file_name": file.name,
                        "category_id": int(self.category_ids[d["label"]]),
                        "category_name": self.class_names[d["label"]],
                        "bbox": [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)],
                        "score": round(d["score"], 5),
                    }
                )

    def finish(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.json_path.write_text(json.dumps(self.results, indent=1))

    def summary(self) -> dict:
        return {
            **super().summary(),
            "detections": len(self.results),
            "json": str(self.json_path),
            "pictures": str(self.target),
        }

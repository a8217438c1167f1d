"""Verification predictions on disk: `embeddings.npz` and, for pairs, `pair_scores.csv`.

`embeddings.npz` holds `embeddings` (N×D), `paths`, `identities` (each file's folder name), the
checkpoint's calibrated `threshold` and the `distance`. `pair_scores.csv` has one row per pair:
`image_a,image_b,score,threshold,same` (score: cosine similarity or −euclidean distance, higher =
more alike; `same` is empty when the checkpoint holds no calibrated threshold).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import torch

from src.losses.distances import pair_score
from src.outputs.prediction_writer import PredictionWriter


class VerificationWriter(PredictionWriter):
    takes_pairs = True

    @classmethod
    def for_run(cls, out_dir, files, pairs, model, facts):
        return cls(out_dir, files, pairs, model.distance, float(model.threshold))

    def __init__(self, out_dir, files, pairs: list[tuple[int, int]], distance: str, threshold: float):
        super().__init__(out_dir, files)
        self.pairs, self.distance, self.threshold = list(pairs), distance, float(threshold)
        self.npz_path, self.csv_path = self.out_dir / "embeddings.npz", self.out_dir / "pair_scores.csv"
        self.embeddings: dict[int, torch.Tensor] = {}
        self.rows: list[dict] = []

    def write_batch(self, files: list[Path], prediction, batch) -> None:
        for index, emb in zip(batch["index"].tolist(), prediction):
            self.embeddings[index] = emb

    def finish(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        emb = torch.stack([self.embeddings[i] for i in range(len(self.files))])
        np.savez(
            self.npz_path,
            embeddings=emb.numpy(),
            paths=np.array([str(p) for p in self.files]),
            identities=np.array([p.parent.name for p in self.files]),
            threshold=np.array(self.threshold),
            distance=np.array(self.distance),
        )
        if not self.pairs:
            return
        a, b = (torch.tensor(ix) for ix in zip(*self.pairs))
        scores = pair_score(emb[a], emb[b], self.distance).tolist()
        decided = math.isfinite(self.threshold)
        self.rows = [
            {
                "image_a": str(self.files[i]),
                "image_b": str(self.files[j]),
                "score": round(s, 6),
                "threshold": self.threshold if decided else "",
                "same": (s >= self.threshold) if decided else "",
            }
            for (i, j), s in zip(self.pairs, scores)
        ]
        with self.csv_path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(self.rows[0]))
            writer.writeheader()
            writer.writerows(self.rows)

    def summary(self) -> dict:
        out = {
            **super().summary(),
            "embeddings": str(self.npz_path),
            "embedding_size": int(next(iter(self.embeddings.values())).shape[-1]) if self.embeddings else 0,
            "threshold": self.threshold if math.isfinite(self.threshold) else None,
        }
        if self.rows:
            out["pair_scores"] = str(self.csv_path)
        if len(self.rows) == 1:  # +pair=[a,b]: the decision on the command line
            row = self.rows[0]
            out.update(
                pair=[row["image_a"], row["image_b"]],
                score=row["score"],
                score_kind="cosine similarity"
                if self.distance == "cosine"
                else "negative euclidean distance",
                same=row["same"] if row["same"] != "" else None,
                decision=("same" if row["same"] else "different")
                if row["same"] != ""
                else "no calibrated threshold in the checkpoint",
            )
        return out

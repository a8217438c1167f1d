"""The run folder's outputs: metrics.json and the final metrics table printed at the end of a run."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import torch


def as_float(value) -> float:
    if isinstance(value, torch.Tensor):
        value = value.detach().float().cpu().item()
    return float(value)


def split_metrics(metrics: Mapping, prefixes=("val/", "test/")) -> dict[str, float]:
    """The scalar metrics whose names start with one of `prefixes`, as plain floats, sorted by name."""
    out = {}
    for key, value in metrics.items():
        if not key.startswith(prefixes):
            continue
        if isinstance(value, torch.Tensor) and value.numel() != 1:
            continue
        out[key] = as_float(value)
    return dict(sorted(out.items()))


def write_metrics(path: Path, metrics: Mapping[str, float]) -> Path:
    """Write a JSON object of numbers (NaN/inf become null so the file stays valid JSON) and confusion
    matrices (`<stage>/confusion_matrix`: {"labels", "matrix"}, written as they are)."""
    clean = {
        k: v if not isinstance(v, int | float) else (None if not math.isfinite(v) else v)
        for k, v in metrics.items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(clean, indent=2) + "\n")
    return path


def print_metrics(metrics: Mapping[str, float], run_dir: Path, title: str = "Final metrics") -> None:
    """A two-column table of the metrics, then the run folder."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        if isinstance(value, int | float):  # a confusion matrix is in metrics.json and plots/
            table.add_row(key, f"{value:.4f}")
    console = Console()
    console.print(table)
    console.print(f"Run folder: {run_dir}")

"""Resuming a run (`ckpt_path=last` or a checkpoint): one function for single runs and sweeps.

`prepare_resume` resolves the checkpoint and makes the run folder's history continue from it: the CSV
rows a killed run logged after that checkpoint are dropped (they will be logged again), everything
before stays. TensorBoard (same log folder) and W&B (same run id, `resume="allow"`) continue by
themselves; `train.log` is opened in append mode.
"""

from __future__ import annotations

from pathlib import Path

import torch

from src.errors import ConfigError


def resolve_ckpt(ckpt_path: str | None, run_dir: Path, key: str = "ckpt_path") -> str | None:
    """`last` → this run folder's checkpoints/last.ckpt; a run folder → its last.ckpt; a file → itself."""
    if ckpt_path in (None, ""):
        return None
    path = run_dir / "checkpoints" / "last.ckpt" if ckpt_path == "last" else Path(str(ckpt_path))
    if path.is_dir():
        path = path / "checkpoints" / "last.ckpt"
    if not path.is_file():
        hint = (
            " To resume a killed run, rerun in its folder: hydra.run.dir=<run folder> ckpt_path=last"
            if ckpt_path == "last"
            else ""
        )
        raise ConfigError(key, f"no checkpoint at {path}.{hint}")
    return str(path)


def prepare_resume(ckpt_path: str | None, run_dir: Path, loggers=()) -> str | None:
    """The checkpoint to continue from (None: a fresh run); the loggers' history is cut back to it."""
    ckpt = resolve_ckpt(ckpt_path, run_dir)
    if ckpt is None:
        return None
    try:
        step = int(torch.load(ckpt, map_location="cpu", weights_only=True, mmap=True)["global_step"])
    except Exception:  # unreadable here: Lightning's load reports it
        return ckpt
    for logger in loggers:
        drop = getattr(logger, "drop_rows_from", None)
        if callable(drop):
            drop(step)
    return ckpt

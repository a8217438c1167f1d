"""`predict.py`: load a checkpoint into the configured model and hand the request to the task module.

Each task module implements `predict_cli(cfg, datamodule, out_dir) -> dict`: it reads what it needs from
the config (`+source=<image or folder>`, `+pair=[a,b]`, ...), writes its outputs under `out_dir` and
returns a small summary that is printed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from omegaconf import DictConfig

from src.pipeline import build_data, resolve_ckpt
from src.utils.config_check import validate
from src.utils.errors import ConfigError
from src.utils.instantiate import build

log = logging.getLogger("imagelab")


def load_weights(model: torch.nn.Module, ckpt_path: str) -> dict:
    """Load a Lightning checkpoint's state_dict (weights_only) and run the module's on_load_checkpoint."""
    checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    model.on_load_checkpoint(checkpoint)
    missing, unexpected = model.load_state_dict(checkpoint["state_dict"], strict=False)
    if missing:
        raise ConfigError(
            "ckpt_path", f"{ckpt_path} does not fit this model config (missing {missing[:5]}...)"
        )
    return checkpoint


def predict(cfg: DictConfig) -> dict:
    validate(cfg)
    datamodule = build_data(cfg)  # resolves data.num_classes: auto before the model is built
    model = build(cfg.model, "model")
    out_dir = Path(cfg.paths.output_dir)
    load_weights(model, resolve_ckpt(cfg.ckpt_path, out_dir))
    model.eval()
    if not hasattr(model, "predict_cli"):
        raise ConfigError("model", f"{type(model).__name__} has no command-line prediction")
    with torch.inference_mode():
        summary = model.predict_cli(cfg, datamodule, out_dir)
    print(json.dumps(summary, indent=2, default=str))
    print(f"Outputs: {out_dir}")
    return summary

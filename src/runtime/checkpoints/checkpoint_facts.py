"""What a checkpoint says about itself: the composed model config and the data facts to rebuild it.

The callback `CheckpointFacts` (src/runtime/callbacks/checkpoint_facts.py, added to every training run's
callbacks by the pipeline) stores, under `checkpoint["imagelab"]`:
- `model_name`: the `model=` option the run was composed with (`unet`, `yolo`, ...);
- `model`: the resolved model config (`_target_` and every key), so `eval.py` / `predict.py` rebuild
  the same network from `ckpt_path` alone;
- `data`: `image_size`, `num_classes`, `class_names`, `in_channels`, `mean`, `std` and, where the
  task has them, `resize` (detection), `category_ids` (detection), `crop` (verification).
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

KEY = "imagelab"


def model_choice(cfg: DictConfig) -> str | None:
    """The `model=` option of a composed config (Hydra's runtime choices), else the target's class name."""
    choices = None
    if "hydra" in cfg:
        choices = OmegaConf.select(cfg, "hydra.runtime.choices", default=None)
    if choices is None:
        try:
            from hydra.core.hydra_config import HydraConfig

            choices = HydraConfig.get().runtime.choices
        except ValueError:
            choices = None
    name = choices.get("model") if choices is not None else None
    if name:
        return str(name)
    target = OmegaConf.select(cfg, "model._target_", default=None)
    return str(target).rsplit(".", 1)[-1].lower() if target else None


def plain(value):
    """Tuples, lists and numbers as plain Python values (a checkpoint loads with weights_only=True)."""
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def data_facts(datamodule, model_cfg: dict | None = None) -> dict:
    """The facts prediction needs from the data a model was trained on (missing ones are left out)."""
    facts = {}
    for key in ("image_size", "num_classes", "class_names", "mean", "std", "resize", "category_ids", "crop"):
        value = getattr(datamodule, key, None)
        if value is not None:
            facts[key] = plain(value)
    model_cfg = model_cfg or {}
    channels = model_cfg.get("in_channels") or 3  # the detectors take RGB
    facts["in_channels"] = int(channels)
    return facts


def facts_of(checkpoint: dict) -> dict:
    return checkpoint.get(KEY) or {}

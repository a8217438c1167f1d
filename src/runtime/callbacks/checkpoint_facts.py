"""The callback that writes what a checkpoint says about itself (src/runtime/checkpoints/checkpoint_facts.py).

Apart from the facts' reader so that reading a checkpoint's model (eval.py, predict.py) needs no Lightning.
"""

from __future__ import annotations

from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig, OmegaConf

from src.runtime.checkpoints.checkpoint_facts import KEY, data_facts, model_choice


class CheckpointFacts(Callback):
    """Writes `checkpoint["imagelab"]` (see the module docstring) into every checkpoint saved."""

    def __init__(self, model_name: str | None, model_cfg: dict, image_size=None):
        self.model_name, self.model_cfg, self.image_size = model_name, model_cfg, image_size

    @classmethod
    def from_config(cls, cfg: DictConfig) -> CheckpointFacts:
        size = OmegaConf.select(cfg, "data.image_size", default=None)  # as written (the config's form)
        size = OmegaConf.to_container(size) if OmegaConf.is_config(size) else size
        return cls(model_choice(cfg), OmegaConf.to_container(cfg.model, resolve=True), size)

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        datamodule = getattr(trainer, "datamodule", None)
        data = data_facts(datamodule, self.model_cfg) if datamodule is not None else {}
        if self.image_size is not None:
            data["image_size"] = self.image_size
        checkpoint[KEY] = {"model_name": self.model_name, "model": self.model_cfg, "data": data}

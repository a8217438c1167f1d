"""A cheap Hydra task for the sweeper tests (no torch): the official plugin's example objectives.

`python tests/optuna_task/objective.py -m [--config-name sphere|custom|multi] [overrides]`. Every job
writes `job.json` (its config and pid) in its run folder, sleeps `sleep` seconds, then returns
x² + y² (+ z² + w² when set), or the Binh-Korn pair for `objective=binh_korn`.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf


@hydra.main(version_base=None, config_path="conf", config_name="sphere")
def main(cfg: DictConfig):
    out = Path(HydraConfig.get().runtime.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "job.json").write_text(json.dumps({"cfg": OmegaConf.to_container(cfg), "pid": os.getpid()}))
    time.sleep(float(cfg.get("sleep", 0)))
    if cfg.get("error", False):
        raise RuntimeError("cfg.error is True")
    x, y = float(cfg.x), float(cfg.y)
    if cfg.get("objective") == "binh_korn":
        return 4 * x**2 + 4 * y**2, (x - 5) ** 2 + (y - 5) ** 2
    return x**2 + y**2 + float(cfg.get("z", 0)) ** 2 + float(cfg.get("w", 0)) ** 2


def configure(cfg: DictConfig, trial) -> None:
    """custom_search_space: z near x (a derived range), and a new key w (`+w`)."""
    x = trial.params["x"]
    trial.suggest_float("z", x - cfg.max_z_difference_from_x, x + cfg.max_z_difference_from_x)
    trial.suggest_float("+w", 0.0, 1.0)


if __name__ == "__main__":
    main()

"""One trained tiny run per model, shared by the tools' tests (the session fixture `trained_runs` of
tests/conftest.py: trained once), and the composition of a tool's config (conf/<tool>.yaml) writing into a test folder."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from tests.conftest import CONF, make_cfg, run_train
from tests.tiny_models import TINY, tiny

TOOL_MODELS = ["unet", "yolo", "siamese"]
# two epochs (a curve for `compare`), every evaluation plotted, no early stop
EPOCHS = ["trainer.max_epochs=2", "seed=0", "model.plot_every_n_epochs=1"]


def tiny_overrides(model: str, *extra: str) -> list[str]:
    return [f"model={model}", *TINY[model], *extra]


def tool_cfg(out_dir: Path, tool: str, overrides: list[str]) -> DictConfig:
    """conf/<tool>.yaml with `overrides`, its outputs in `out_dir`, set as the running Hydra config."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name=tool, overrides=list(overrides), return_hydra_config=True)
    GlobalHydra.instance().clear()
    with open_dict(cfg):
        cfg.paths.output_dir = str(out_dir)
        cfg.hydra.runtime.output_dir = str(out_dir)
        if cfg.get("trainer") is not None:
            cfg.trainer.accelerator = "cpu"
            cfg.trainer.enable_progress_bar = False
    HydraConfig.instance().set_config(cfg)
    return cfg


def write_hydra_files(run_dir: Path, cfg: DictConfig, overrides: list[str]) -> None:
    """The `.hydra/` a command-line run has (the compose API writes none)."""
    folder = run_dir / ".hydra"
    folder.mkdir(parents=True, exist_ok=True)
    plain = OmegaConf.to_container(cfg, resolve=False)
    plain.pop("hydra", None)
    OmegaConf.save(OmegaConf.create(plain), folder / "config.yaml")
    OmegaConf.save(OmegaConf.create(list(overrides)), folder / "overrides.yaml")


def train_tool_runs(root: Path) -> dict[str, Path]:
    """model name -> a run folder under `root` trained on its tiny synthetic data (checkpoints,
    metrics.json, csv/, .hydra/); the session fixture `trained_runs` (tests/conftest.py) calls it once."""
    runs = {}
    for model in TOOL_MODELS:
        run_dir = root / model
        overrides = tiny_overrides(model, *EPOCHS)
        cfg = make_cfg(run_dir, overrides)
        write_hydra_files(run_dir, cfg, tiny(model, *EPOCHS))  # as typed: plots on (EPOCHS last)
        run_train(cfg)
        runs[model] = run_dir
    return runs

"""Shared fixtures: Hydra configs composed with the compose API, writing into tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

ROOT = Path(__file__).resolve().parents[1]
CONF = str(ROOT / "conf")

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")


def make_cfg(tmp_path: Path, overrides: list[str] | None = None, config_name: str = "train") -> DictConfig:
    """Compose conf/<config_name>.yaml with `overrides`; outputs go to tmp_path; fast CPU settings."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=list(overrides or []), return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path)
        cfg.paths.log_dir = str(tmp_path / "logs")
        cfg.hydra.runtime.output_dir = str(tmp_path)
        cfg.trainer.accelerator = "cpu"
        cfg.trainer.enable_progress_bar = False
        if cfg.get("callbacks"):
            cfg.callbacks.pop("rich_progress_bar", None)
    GlobalHydra.instance().clear()
    return cfg


def augment_block(option: str, **values) -> dict:
    """conf/data/augment/<option>.yaml (`image` or `detection`, its defaults merged) with `values` changed."""
    import yaml

    folder = ROOT / "conf" / "data" / "augment"
    block = {}
    for name in ["image", option] if option != "image" else ["image"]:
        block.update(
            {
                k: v
                for k, v in yaml.safe_load((folder / f"{name}.yaml").read_text()).items()
                if k != "defaults"
            }
        )
    return {**block, **values}


def run_train(cfg: DictConfig):
    """Run the training pipeline on a composed config, with HydraConfig set as in a real run."""
    from hydra.core.hydra_config import HydraConfig

    from src.pipeline import train

    HydraConfig.instance().set_config(cfg)
    return train(cfg)


@pytest.fixture(scope="session")
def trained_runs(tmp_path_factory) -> dict:
    """model name -> a tiny run folder trained once per session, shared by the tests that need *a* trained
    run (tools, checkpoint contents). Under xdist its tests form one group (below): trained on one worker."""
    from tests.tool_runs import train_tool_runs

    return train_tool_runs(tmp_path_factory.mktemp("tool_runs"))


@pytest.hookimpl(wrapper=True)  # around xdist's own hook, which reads the groups (`--dist loadgroup`)
def pytest_collection_modifyitems(items):
    """The tests of the session-trained runs on one xdist worker, so that those runs are trained once.

    After xdist's hook: pytest >= 9.2 reads a node's id from its structured `_id`, while xdist (3.8) writes
    the group suffix (`@trained_runs`) into the legacy `_nodeid`; without the copy below `loadgroup` silently
    ignores the group and each worker trains the runs (pytest-dev/pytest-xdist#1386)."""
    for item in items:
        if "trained_runs" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("trained_runs"))
    result = yield
    for item in items:
        legacy = getattr(item, "_nodeid", None)
        if isinstance(legacy, str) and legacy != item.nodeid and hasattr(item, "_id"):
            item._id = type(item._id).parse(legacy)
    return result


@pytest.fixture
def cfg_factory(tmp_path):
    return lambda overrides=None, name="train": make_cfg(tmp_path, overrides, name)

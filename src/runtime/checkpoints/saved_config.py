"""A resumed run must be the run its folder holds: compare the command's config with `.hydra/config.yaml`.

Hydra rewrites `.hydra/config.yaml` when the job starts, so this runs before (`RunGuard.on_run_start`).
Only what shapes the weights is compared (the `model` block, and the data's kind, classes and image
size); training length, loggers and callbacks may change on resume.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from src.errors import ConfigError

COMPARED = ("model", "data._target_", "data.num_classes", "data.image_size")


def _flat(node, prefix: str) -> dict[str, object]:
    if isinstance(node, dict):
        out: dict[str, object] = {}
        for key, value in node.items():
            out.update(_flat(value, f"{prefix}.{key}"))
        return out
    return {prefix: node}


def _compared(cfg: DictConfig) -> dict[str, object]:
    out: dict[str, object] = {}
    for key in COMPARED:
        node = OmegaConf.select(cfg, key, default=None, throw_on_resolution_failure=False)
        value = OmegaConf.to_container(node, resolve=False) if OmegaConf.is_config(node) else node
        out.update(_flat(value, key))
    return out


def check_resume_config(run_dir: str | Path, cfg: DictConfig) -> None:
    """Raise ConfigError naming the differing keys if `cfg` is not the config the run folder was started with."""
    saved_path = Path(run_dir) / ".hydra" / "config.yaml"
    if not saved_path.is_file():
        return
    saved = _compared(OmegaConf.load(saved_path))
    now = _compared(cfg)
    differ = sorted(k for k in saved.keys() | now.keys() if saved.get(k) != now.get(k))
    if differ:
        shown = ", ".join(f"{k}={saved.get(k)!r} (now {now.get(k)!r})" for k in differ[:6])
        more = f" and {len(differ) - 6} more" if len(differ) > 6 else ""
        raise ConfigError(
            "ckpt_path",
            f"{run_dir} was trained with {shown}{more}; resume with the same model and data overrides,"
            " or train into a new hydra.run.dir",
        )

"""A resumed run must be the run its folder holds: compare the command's config with `.hydra/config.yaml`.

Hydra rewrites `.hydra/config.yaml` when the job starts, so this runs before (`RunGuard.on_run_start`):
a refused resume leaves the folder's record as it was. Every key is compared — the model, the data and
its reader (batch size, seeds, augmentation), the seed, the Trainer's numerics — except those in
`MAY_CHANGE`, which do not change what is trained: how long (to train longer), where and how fast it
runs, what is logged and shown.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from src.errors import ConfigError

# keys (and the keys below them) a resume may give other values (docs/errors.md lists them)
MAY_CHANGE = (
    "ckpt_path",
    "trainer.max_epochs",
    "trainer.max_steps",
    "trainer.max_time",
    "trainer.min_epochs",
    "trainer.accelerator",
    "trainer.devices",
    "trainer.enable_progress_bar",
    "trainer.enable_model_summary",
    "trainer.log_every_n_steps",
    "callbacks",  # early stopping, checkpoints, progress bar, monitors (but not `KEPT`)
    "logger",
    "data.num_workers",
    "data.pin_memory",
    "data.persistent_workers",
    "cpu_threads",
    "tags",
    "test",
    "sweep_continue_on_error",
    "sweep_resume",
    "paths",
)
KEPT = ("callbacks.ema",)  # callbacks that change the weights: compared even so
SHOWN = 6  # differing keys named in the one line


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


def _flat(node, prefix: str) -> dict[str, object]:
    if isinstance(node, dict):
        out: dict[str, object] = {}
        for key, value in node.items():
            out.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: node}


def _under(key: str, prefixes: tuple[str, ...]) -> bool:
    return any(key == p or key.startswith(f"{p}.") for p in prefixes)


def _may_change(key: str) -> bool:
    return _under(key, MAY_CHANGE) and not _under(key, KEPT)


def _compared(cfg: DictConfig) -> dict[str, object]:
    plain = OmegaConf.to_container(cfg, resolve=False)
    plain.pop("hydra", None)
    return {k: v for k, v in _flat(plain, "").items() if not _may_change(k)}


def check_resume_config(run_dir: str | Path, cfg: DictConfig) -> None:
    """Raise ConfigError naming the differing keys if `cfg` is not the config the run folder was started with."""
    saved_path = Path(run_dir) / ".hydra" / "config.yaml"
    if not saved_path.is_file():
        return
    saved = _compared(OmegaConf.load(saved_path))
    now = _compared(cfg)
    # the model's keys first (a network of another shape), then the others, each group sorted
    differ = sorted(
        (k for k in saved.keys() | now.keys() if saved.get(k) != now.get(k)),
        key=lambda k: (not k.startswith("model."), k),
    )
    if differ:
        absent = _Absent()
        shown = ", ".join(
            f"{k}={saved.get(k, absent)!r} (now {now.get(k, absent)!r})" for k in differ[:SHOWN]
        )
        more = f" and {len(differ) - SHOWN} more" if len(differ) > SHOWN else ""
        raise ConfigError(
            "ckpt_path",
            f"{run_dir} was trained with {shown}{more}; a resume keeps what is trained (only the training"
            " length, hardware, loggers, progress and loader workers may change: docs/errors.md),"
            " or train into a new hydra.run.dir",
        )

"""`logger=wandb`: Lightning's WandbLogger, offline without an API key, one W&B run per run folder.

- mode `auto`: online when an API key is configured (WANDB_API_KEY, or `wandb login`'s netrc entry),
  offline otherwise (sync later: `wandb sync <run folder>/wandb/offline-run-*`); WANDB_MODE wins if set.
- The W&B run id is stored in `<run folder>/wandb_run_id.txt`: rerunning in the same folder
  (`hydra.run.dir=<run folder> ckpt_path=last`) continues the same W&B run.
- In a multirun every job is its own run, grouped by the sweep (group = the sweep folder's name),
  named `<model>-<job number>`, with the job's overrides in the config (`overrides`, `job_num`) next
  to the whole composed config (logged as nested keys by the pipeline).
- Pictures the task modules save (`TaskModule.save_figure`: predictions, ROC/PR curves, embeddings)
  arrive through `log_image`; `log_media: false` keeps them out of W&B.
"""

from __future__ import annotations

import os
import secrets
import string
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import WandbLogger

from src.errors import ConfigError
from src.runtime.config.wandb_key import has_api_key

RUN_ID_FILE = "wandb_run_id.txt"
MODES = ("auto", "online", "offline", "disabled")


def resolve_mode(mode: str) -> str:
    if mode not in MODES:
        raise ConfigError("mode", f"expected one of {list(MODES)} (got {mode!r})")
    if mode != "auto":
        return mode
    env = os.environ.get("WANDB_MODE")
    if env in ("online", "offline", "disabled", "dryrun"):
        return "offline" if env == "dryrun" else env
    return "online" if has_api_key() else "offline"


def run_id_for(save_dir: Path) -> str:
    """The W&B run id of this run folder: read back if stored, else a new one (stored now)."""
    path = save_dir / RUN_ID_FILE
    if path.is_file() and path.read_text().strip():
        return path.read_text().strip()
    run_id = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))
    save_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(run_id + "\n")
    return run_id


def hydra_job() -> dict[str, Any]:
    """This job's sweep name, number and overrides (empty outside a Hydra multirun)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    try:
        hc = HydraConfig.get()
    except ValueError:
        return {}
    if hc.mode != RunMode.MULTIRUN:
        return {"overrides": list(hc.overrides.task)}
    return {
        "sweep": Path(hc.sweep.dir).name,
        "job_num": int(hc.job.num),
        "overrides": list(hc.overrides.task),
    }


class ImagelabWandbLogger(WandbLogger):
    """WandbLogger whose images can be switched off (`log_media`)."""

    def __init__(self, *args, log_media: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.log_media = log_media

    def log_image(self, key: str, images: list[Any], step: int | None = None, **kwargs: Any) -> None:
        if self.log_media:
            super().log_image(key=key, images=images, step=step, **kwargs)


def make_wandb_logger(
    project: str = "imagelab",
    entity: str | None = None,
    group: str | None = None,
    name: str | None = None,
    tags: list[str] | None = None,
    save_dir: str = ".",
    mode: str = "auto",
    log_model: bool | str = False,
    log_media: bool = True,
    job_type: str | None = None,
    notes: str | None = None,
    model_name: str | None = None,
) -> ImagelabWandbLogger:
    """Build the W&B logger for this run folder (see the module docstring for what each key does)."""
    mode = resolve_mode(mode)
    save_path = Path(save_dir)
    job = hydra_job()
    is_sweep = "sweep" in job
    if group is None and is_sweep:
        group = job["sweep"]
    if name is None:
        prefix = model_name or "run"
        name = f"{prefix}-{job['job_num']}" if is_sweep else None
    config = {"overrides": job.get("overrides", [])}
    if is_sweep:
        config["job_num"] = job["job_num"]
    return ImagelabWandbLogger(
        project=project,
        entity=entity,
        group=group,
        name=name,
        tags=list(tags or []),
        save_dir=str(save_path),
        id=run_id_for(save_path),
        resume="allow",
        mode=mode,
        log_model=log_model,
        log_media=log_media,
        job_type=job_type,
        notes=notes,
        config=config,
        reinit="finish_previous",  # jobs of a multirun share a process: each must be its own W&B run
    )

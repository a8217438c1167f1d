"""A sweep's summary in W&B: with `logger=wandb` (or `many`), the end of a multirun logs one more run in
the sweep's group (the jobs' group: the sweep folder's name) holding `summary.csv` as a table (the mean ±
std rows of seeded settings included), `summary.png` as an image, and the three summary files as an
artifact, so the dashboard shows what `summary.md` shows. Offline without an API key, like the jobs."""

from __future__ import annotations

import csv
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from src.loggers.wandb_logger import resolve_mode

SUMMARY_FILES = ("summary.csv", "summary.md", "summary.png")


def wandb_node(config: DictConfig) -> DictConfig | None:
    """The W&B logger node of the sweep's config, if its loggers include W&B."""
    loggers = OmegaConf.select(config, "logger", default=None)
    if not isinstance(loggers, DictConfig):
        return None
    for name in loggers:
        node = loggers._get_node(name)
        if isinstance(node, DictConfig) and "wandb" in str(node.get("_target_", "")):
            return node
    return None


def table_columns(path: Path) -> tuple[list[str], list[list]]:
    """summary.csv as (columns, rows): a column of numbers as floats (blank = None), others as text."""
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        columns, rows = list(reader.fieldnames or []), list(reader)

    def numeric(column: str) -> bool:
        values = [r[column] for r in rows if r[column] not in ("", None)]
        try:
            [float(v) for v in values]
        except ValueError:
            return False
        return True

    kinds = {c: numeric(c) for c in columns}
    data = [
        [(float(r[c]) if r[c] not in ("", None) else None) if kinds[c] else str(r[c] or "") for c in columns]
        for r in rows
    ]
    return columns, data


def log_sweep_summary(sweep_dir: Path, node: DictConfig) -> str | None:
    """Log the sweep folder's summary as a W&B run of the sweep's group; returns the run's id."""
    import wandb

    mode = resolve_mode(str(node.get("mode", "auto")))
    if mode == "disabled" or not (sweep_dir / "summary.csv").is_file():
        return None
    run = wandb.init(
        project=node.get("project") or "imagelab",
        entity=node.get("entity"),
        group=sweep_dir.name,
        name=f"{sweep_dir.name}-summary",
        job_type="sweep-summary",
        dir=str(sweep_dir),
        mode=mode,
        reinit="finish_previous",
        config={"sweep_dir": str(sweep_dir)},
    )
    columns, data = table_columns(sweep_dir / "summary.csv")
    logged = {"sweep/summary": wandb.Table(columns=columns, data=data)}
    if (sweep_dir / "summary.png").is_file():
        logged["sweep/summary_plot"] = wandb.Image(str(sweep_dir / "summary.png"))
    run.log(logged)
    artifact = wandb.Artifact(f"sweep-{sweep_dir.name}-summary", type="sweep-summary")
    for name in SUMMARY_FILES:
        if (sweep_dir / name).is_file():
            artifact.add_file(str(sweep_dir / name))
    run.log_artifact(artifact)
    run_id = run.id
    run.finish()
    return run_id

"""One job of a sweep as read back from its run folder, shared by the sweep report and its plot."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Job:
    """One job of a sweep, as read back from its run folder."""

    name: str  # the run folder's name (Hydra's job number, or an Optuna trial number)
    path: Path
    overrides: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float | None] = field(default_factory=dict)
    status: str = "running"
    error: str = ""
    runtime_s: float | None = None
    monitor: str | None = None
    resume: str = ""  # what a resumed sweep did with the job: skipped | resumed | rerun


def as_number(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None

"""`python tools.py compare runs=[...]`: curves and a table of several runs from their own CSV history.

Each run folder's `csv/metrics.csv` (written by `logger=csv`) gives the metric histories; `.hydra/`
gives the overrides and the main metric (`model.monitor`, in the direction `monitor_mode`),
`status.json` the wall time. A sweep folder stands for all its jobs. Outputs: `compare.png` (one
panel per metric, one line per run) and `compare.md` (the table, also printed).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from omegaconf import DictConfig, ListConfig

from src.errors import ConfigError
from src.outputs.sweep_report import find_jobs, read_job, varied_keys

HISTORY = Path("csv") / "metrics.csv"
AXES = {"epoch": "epoch", "step": "step", "time": "time/elapsed_s"}
TIME = "time/elapsed_s"
LOWER_IS_BETTER = ("loss", "eer", "time")  # names of metrics whose best value is the smallest


@dataclass
class RunHistory:
    """One run's CSV history: metric -> [(epoch, step, seconds, value)] in the order logged (epochs from 0,
    as in metrics.csv and the checkpoints' names)."""

    name: str
    path: Path
    rows: dict[str, list[tuple[int, int, float | None, float]]] = field(default_factory=dict)
    overrides: dict[str, str] = field(default_factory=dict)
    monitor: str | None = None
    monitor_mode: str = "max"
    runtime_s: float | None = None


def number(text) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def step_seconds(rows: list[dict]) -> dict[int, float]:
    """step -> seconds of training: the logged time/elapsed_s, summed over resumes (a drop = a restart)."""
    out, offset, last = {}, 0.0, 0.0
    for row in rows:
        value = number(row.get(TIME))
        if value is None:
            continue
        if value < last:  # a resumed run's process counts again from 0
            offset += last
        last = value
        out[int(float(row["step"]))] = offset + value
    return out


def read_history(path: Path, name: str) -> RunHistory:
    file = path / HISTORY
    if not file.is_file():
        raise ConfigError(
            "runs", f"{path} has no CSV history ({HISTORY}): train it with logger=csv (the default) or many"
        )
    with file.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    seconds = step_seconds(rows)
    history = RunHistory(name, path)
    for row in rows:
        step, epoch = number(row.get("step")), number(row.get("epoch"))
        if step is None:
            continue
        for key, text in row.items():
            value = number(text)
            if key in ("step", "epoch") or value is None:
                continue
            point = (int(epoch) if epoch is not None else -1, int(step), seconds.get(int(step)), value)
            history.rows.setdefault(key, []).append(point)
    trained = [p[0] for p in history.rows.get("train/loss_epoch", [])]
    if trained:  # the validate/test of the best checkpoint after fit logs at epoch = epochs: not history
        history.rows = {k: [p for p in v if p[0] <= max(trained)] for k, v in history.rows.items()}
        history.rows = {k: v for k, v in history.rows.items() if v}
    job = read_job(path)
    history.overrides, history.monitor, history.runtime_s = job.overrides, job.monitor, job.runtime_s
    try:
        saved = yaml.safe_load((path / ".hydra" / "config.yaml").read_text()) or {}
        history.monitor_mode = str(saved.get("monitor_mode") or "max")
    except (OSError, yaml.YAMLError):
        pass
    return history


def run_folders(paths) -> list[tuple[str, Path]]:
    """(name, folder) of every run: a run folder as given, a sweep folder's jobs as `<sweep>/<job>`."""
    if isinstance(paths, str | Path):
        paths = [paths]
    if not isinstance(paths, list | tuple | ListConfig) or not paths:
        raise ConfigError("runs", f"expected run or sweep folders, runs=[a,b] (got {paths!r})")
    found = []
    for given in map(Path, map(str, paths)):
        if not given.is_dir():
            raise ConfigError("runs", f"{given} is not a folder")
        if (given / HISTORY).is_file() or (given / ".hydra").is_dir():
            found.append((given.name, given))
            continue
        jobs = find_jobs(given)
        if not jobs:
            raise ConfigError("runs", f"{given} is neither a run folder nor a sweep folder of run folders")
        found += [(f"{given.name}/{job.name}", job.path) for job in jobs]
    return found


def is_better(metric: str, mode: str):
    """How to pick the best value of `metric`: the monitor follows its run's monitor_mode."""
    lower = mode == "min" or any(word in metric.split("/")[-1] for word in LOWER_IS_BETTER)
    return min if lower else max


def summary_row(run: RunHistory, metric: str, keys: list[str]) -> dict:
    points = run.rows.get(metric, [])
    mode = run.monitor_mode if metric == run.monitor else "max"
    best = is_better(metric, mode)(points, key=lambda p: p[3]) if points else None
    seconds = (
        run.runtime_s
        if run.runtime_s is not None
        else max((p[2] or 0.0 for p in run.rows.get(TIME, [])), default=None)
    )
    return {
        "run": run.name,
        **{k: run.overrides.get(k, "") for k in keys},
        f"best {metric}": best[3] if best else None,
        "best epoch": best[0] if best else None,
        f"last {metric}": points[-1][3] if points else None,
        "epochs": max((p[0] for pts in run.rows.values() for p in pts), default=-1) + 1,
        "wall time (s)": None if seconds is None else round(float(seconds), 1),
    }


def chosen_metrics(cfg_metrics, runs: list[RunHistory]) -> list[str]:
    if cfg_metrics is None:
        monitors = [r.monitor for r in runs if r.monitor]
        wanted = [*dict.fromkeys(monitors), "train/loss_epoch", "val/loss"]
        return [m for m in wanted if any(m in r.rows for r in runs)]
    wanted = [str(m) for m in ([cfg_metrics] if isinstance(cfg_metrics, str) else cfg_metrics)]
    logged = sorted({k for r in runs for k in r.rows})
    for metric in wanted:
        if not any(metric in r.rows for r in runs):
            raise ConfigError("metrics", f"{metric!r} is in no run's history; logged: {logged}")
    return wanted


def plot(runs: list[RunHistory], metrics: list[str], axis: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    column = {"epoch": 0, "step": 1, "time": 2}[axis]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for run in runs:
            points = [p for p in run.rows.get(metric, []) if p[column] is not None]
            if points:
                xs = [
                    p[column] for p in points
                ]  # epochs count from 0, as in metrics.csv and checkpoint names
                ax.plot(xs, [p[3] for p in points], marker="o", ms=3, label=run.name)
        ax.set_title(metric, fontsize=9)
        ax.set_xlabel({"epoch": "epoch", "step": "step", "time": "seconds of training"}[axis])
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def cell(value) -> str:
    if value is None:
        return ""
    return f"{value:.4f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def markdown(table: list[dict], metric: str) -> str:
    """One table per metric: text columns left-aligned, numbers right-aligned."""
    cols = list(table[0])
    numeric = {c: all(isinstance(r[c], int | float) or r[c] is None for r in table) for c in cols}
    lines = [f"## {metric}", "", "| " + " | ".join(cols) + " |"]
    lines.append("|" + "|".join("---:" if numeric[c] else "---" for c in cols) + "|")
    lines += ["| " + " | ".join(cell(r[c]) for c in cols) + " |" for r in table]
    return "\n".join(lines) + "\n"


def compare(cfg: DictConfig) -> dict:
    axis = cfg.get("x", "epoch")
    if axis not in AXES:
        raise ConfigError("x", f"expected one of {list(AXES)} (got {axis!r})")
    runs = [read_history(path, name) for name, path in run_folders(cfg.runs)]
    metrics = chosen_metrics(cfg.get("metrics"), runs)
    if not metrics:
        raise ConfigError("metrics", "the runs logged none of the default metrics; name some: metrics=[...]")
    if axis == "time" and not any(TIME in r.rows for r in runs):
        raise ConfigError("x", f"no run logged {TIME} (runs from before it was logged): x=epoch or step")
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    keys = varied_keys([read_job(r.path) for r in runs])
    tables = {metric: [summary_row(r, metric, keys) for r in runs] for metric in metrics}
    text = "\n".join(markdown(table, metric) for metric, table in tables.items())
    (out_dir / "compare.md").write_text(text)
    picture = plot(runs, metrics, axis, out_dir / "compare.png")
    print(text)
    print(f"Outputs: {picture} {out_dir / 'compare.md'}")
    return {"runs": [str(r.path) for r in runs], "metrics": metrics, "tables": tables}

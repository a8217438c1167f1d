"""The sweep folder's summary: one row per job (varied overrides, final metrics, run time, status).

A sweep folder (Hydra's `hydra.sweep.dir`) holds one run folder per job, each with `.hydra/overrides.yaml`,
`.hydra/config.yaml`, `metrics.json` (when it finished) and `status.json` (written by
`src.utils.entry.run_task`: running | ok | failed | interrupted, the error, the run time). From these
`write_summary(sweep_dir)` writes `summary.csv` (every metric), `summary.md` (the headline metrics) and
`summary.png` (the main metric against the first swept key, one line per value of the other varied keys).
It works on any sweep folder, finished or still running, and on any model: the main metric is read
from each job's `model.monitor`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

STATUS_FILE = "status.json"
METRICS_FILE = "metrics.json"


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


def _sort_key(name: str):
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


def parse_overrides(lines: list[str]) -> dict[str, str]:
    """`["model.depth=2", "+x=1", "~y"]` → `{"model.depth": "2", "x": "1"}` (Hydra's own keys dropped)."""
    out = {}
    for line in lines or []:
        key, sep, value = str(line).partition("=")
        if not sep:
            continue
        key = key.lstrip("+~")
        if key.startswith("hydra.") or key.startswith("hydra/"):
            continue
        out[key] = value
    return out


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _monitor_of(run_dir: Path) -> str | None:
    """The job's main metric: `model.monitor` (or `optimized_metric`) of its composed config."""
    try:
        cfg = yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    monitor = (cfg.get("model") or {}).get("monitor")
    if not monitor or "${" in str(monitor):
        monitor = cfg.get("optimized_metric")
    return None if monitor is None or "${" in str(monitor) else str(monitor)


def read_job(run_dir: Path) -> Job:
    """Read one run folder of a sweep (a job still running has no metrics yet)."""
    job = Job(name=run_dir.name, path=run_dir)
    try:
        job.overrides = parse_overrides(
            yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text()) or []
        )
    except (OSError, yaml.YAMLError):
        pass
    job.metrics = _read_json(run_dir / METRICS_FILE)
    status = _read_json(run_dir / STATUS_FILE)
    job.status = status.get("status") or ("ok" if job.metrics else "running")
    job.error = " ".join(str(status.get("error") or "").split())
    job.runtime_s = status.get("runtime_s")
    job.monitor = _monitor_of(run_dir)
    return job


def find_jobs(sweep_dir: Path) -> list[Job]:
    """Every run folder directly under the sweep folder (a folder with a `.hydra/` subfolder)."""
    sweep_dir = Path(sweep_dir)
    dirs = [p for p in sweep_dir.iterdir() if p.is_dir() and (p / ".hydra").is_dir()]
    return [read_job(p) for p in sorted(dirs, key=lambda p: _sort_key(p.name))]


def varied_keys(jobs: list[Job]) -> list[str]:
    """Override keys whose value differs between jobs (all of a lone job's overrides), in first-seen order."""
    keys: list[str] = []
    for job in jobs:
        keys += [k for k in job.overrides if k not in keys]
    if len(jobs) <= 1:
        return keys
    return [k for k in keys if len({job.overrides.get(k) for job in jobs}) > 1]


def main_metric(jobs: list[Job]) -> str | None:
    monitors = [j.monitor for j in jobs if j.monitor]
    return max(set(monitors), key=monitors.count) if monitors else None


def metric_columns(jobs: list[Job], monitor: str | None, headline_only: bool) -> list[str]:
    """val/* then test/* metrics (the main metric and its test twin first); headline = no per-class ones."""
    names = sorted({k for j in jobs for k in j.metrics})
    if headline_only:
        names = [n for n in names if "_" not in n.split("/", 1)[-1]]
    first = [m for m in (monitor, monitor and monitor.replace("val/", "test/", 1)) if m in names]
    rest = [n for n in names if n not in first]
    return first + sorted(rest, key=lambda n: (not n.startswith("val/"), n))


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return ""
    if isinstance(value, str) and "." in value and _as_number(value) is not None:
        return f"{float(value):.4g}"  # a swept float such as an Optuna learning rate
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def rows(jobs: list[Job], keys: list[str], metrics: list[str]) -> list[dict]:
    out = []
    for job in jobs:
        row = {"job": job.name, **{k: job.overrides.get(k, "") for k in keys}}
        row.update({m: job.metrics.get(m) for m in metrics})
        row.update(
            {
                "runtime_s": None if job.runtime_s is None else round(float(job.runtime_s), 1),
                "status": job.status,
                "error": job.error,
            }
        )
        out.append(row)
    return out


def to_csv(table: list[dict]) -> str:
    buf = io.StringIO()
    if table:
        writer = csv.DictWriter(buf, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows([{k: ("" if v is None else v) for k, v in r.items()} for r in table])
    return buf.getvalue()


def to_markdown(table: list[dict], title: str, note: str = "") -> str:
    lines = [f"# {title}", ""]
    if note:
        lines += [note, ""]
    if not table:
        return "\n".join([*lines, "No jobs yet.", ""])
    cols = list(table[0])
    lines.append("| " + " | ".join(cols) + " |")
    lines.append("|" + "|".join("---:" if c not in ("job", "status", "error") else "---" for c in cols) + "|")
    for r in table:
        cells = [_fmt(r[c], 1 if c == "runtime_s" else 4) for c in cols]
        cells[-1] = cells[-1][:160].replace("|", "\\|")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _as_number(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def plot(jobs: list[Job], keys: list[str], metric: str, path: Path) -> Path | None:
    """The main metric against the first varied key; one line per combination of the other varied keys."""
    done = [j for j in jobs if j.metrics.get(metric) is not None]
    if not done:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xkey = next((k for k in keys if all(_as_number(j.overrides.get(k)) is not None for j in done)), None)
    xkey = xkey or (keys[0] if keys else None)
    others = [k for k in keys if k != xkey]
    groups: dict[str, list[Job]] = {}
    for job in done:
        label = ", ".join(f"{k}={job.overrides.get(k, '')}" for k in others)
        groups.setdefault(label, []).append(job)
    categorical = xkey is not None and any(_as_number(j.overrides.get(xkey)) is None for j in done)
    cats = sorted({j.overrides.get(xkey, "") for j in done}) if categorical else []

    def x_of(job: Job) -> float:
        if xkey is None:
            return float(done.index(job))
        value = job.overrides.get(xkey, "")
        return float(cats.index(value)) if categorical else float(value)

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    many = len(groups) > 8  # e.g. an Optuna search: every trial its own combination → a scatter plot
    if many:
        ax.scatter([x_of(j) for j in done], [j.metrics[metric] for j in done], s=22)
    else:
        for label, group in groups.items():
            group = sorted(group, key=x_of)
            ax.plot([x_of(j) for j in group], [j.metrics[metric] for j in group], "o-", label=label or None)
        if any(groups):
            ax.legend(fontsize=8)
    if categorical:
        ax.set_xticks(range(len(cats)), cats)
    ax.set_xlabel(xkey or "job")
    ax.set_ylabel(metric)
    failed = sum(j.status == "failed" for j in jobs)
    ax.set_title(f"{metric} per job ({len(done)} done, {failed} failed)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file + rename, so parallel jobs never leave a half-written summary."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def write_summary(sweep_dir: str | Path) -> dict:
    """Write summary.csv / summary.md / summary.png into `sweep_dir`; returns what was written."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"{sweep_dir}: not a folder")
    jobs = find_jobs(sweep_dir)
    keys = varied_keys(jobs)
    monitor = main_metric(jobs)
    table_csv = rows(jobs, keys, metric_columns(jobs, monitor, headline_only=False))
    table_md = rows(jobs, keys, metric_columns(jobs, monitor, headline_only=True))
    counts = {s: sum(j.status == s for j in jobs) for s in ("ok", "failed", "running", "interrupted")}
    note = f"{len(jobs)} job{'s' if len(jobs) != 1 else ''}: " + ", ".join(
        f"{n} {s}" for s, n in counts.items() if n
    )
    if monitor:
        note += f". Main metric: `{monitor}` (maximised)"
        best = max(
            (j for j in jobs if j.metrics.get(monitor) is not None),
            key=lambda j: j.metrics[monitor],
            default=None,
        )
        if best is not None:
            best_desc = " ".join(f"{k}={best.overrides.get(k)}" for k in keys) or "-"
            note += f"; best: job {best.name} ({best_desc}) = {best.metrics[monitor]:.4f}"
    _write_atomic(sweep_dir / "summary.csv", to_csv(table_csv))
    _write_atomic(sweep_dir / "summary.md", to_markdown(table_md, f"Sweep {sweep_dir.name}", note + "."))
    png = plot(jobs, keys, monitor, sweep_dir / "summary.png") if monitor else None
    return {"jobs": jobs, "varied": keys, "monitor": monitor, "png": png, "counts": counts}

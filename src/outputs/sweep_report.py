"""The sweep folder's summary: one row per job (varied overrides, final metrics, run time, status).

A sweep folder (Hydra's `hydra.sweep.dir`) holds one run folder per job, each with `.hydra/overrides.yaml`,
`.hydra/config.yaml`, `metrics.json` (when it finished) and `status.json` (written by
`src.runtime.runs.entry.run_task`: running | ok | failed | interrupted, the error, the run time). From these
`write_summary(sweep_dir)` writes `summary.csv` (every metric), `summary.md` (the headline metrics) and
`summary.png` (the main metric against the first swept key, one line per value of the other varied keys).
It works on any sweep folder, finished or still running, and on any model: the main metric is read
from each job's `model.monitor`. A job whose status says `running` but whose process (on this machine)
is gone shows `interrupted`. When the sweep varies `seed`, the jobs that differ only in `seed` are also
summarised as one setting (mean ± std, n: `src.outputs.seed_stats`) and the plot draws those means
with error bars. A resumed sweep (`sweep_resume`) says per job what was skipped, resumed and rerun.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import socket
from pathlib import Path

import yaml

from src.outputs import seed_stats
from src.outputs.sweep_job import Job, as_number
from src.outputs.sweep_plot import plot

STATUS_FILE = "status.json"
METRICS_FILE = "metrics.json"


def _sort_key(name: str):
    """Natural order: 2 < 10, `3_seed1` < `3_seed2` < `10_seed1`."""
    return [
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name) if part
    ]


def parse_overrides(lines: list[str]) -> dict[str, str]:
    """`["model.net.depth=2", "+x=1", "~y"]` → `{"model.net.depth": "2", "x": "1"}` (Hydra's own keys dropped)."""
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


def process_gone(status: dict) -> bool:
    """True when a `running` job's process was on this machine and no longer exists (killed, crashed)."""
    pid, host = status.get("pid"), status.get("host")
    if not isinstance(pid, int) or host != socket.gethostname() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def read_job(run_dir: Path) -> Job:
    """Read one run folder of a sweep (a job still running has no metrics yet)."""
    job = Job(name=run_dir.name, path=run_dir)
    try:
        job.overrides = parse_overrides(
            yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text()) or []
        )
    except (OSError, yaml.YAMLError):
        pass
    # the numbers (a confusion matrix, {"labels", "matrix"}, stays in the run's metrics.json and plots/)
    job.metrics = {
        k: v for k, v in _read_json(run_dir / METRICS_FILE).items() if v is None or isinstance(v, int | float)
    }
    status = _read_json(run_dir / STATUS_FILE)
    job.status = status.get("status") or ("ok" if job.metrics else "running")
    job.error = " ".join(str(status.get("error") or "").split())
    if job.status == "running" and process_gone(status):
        job.status, job.error = "interrupted", f"its process ({status['host']}:{status['pid']}) is gone"
    job.resume = str(status.get("resume") or "")
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
    if isinstance(value, str) and "." in value and as_number(value) is not None:
        return f"{float(value):.4g}"  # a swept float such as an Optuna learning rate
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def rows(jobs: list[Job], keys: list[str], metrics: list[str]) -> list[dict]:
    out = []
    resumed = any(job.resume for job in jobs)
    for job in jobs:
        row = {"job": job.name, **{k: job.overrides.get(k, "") for k in keys}}
        row.update({m: job.metrics.get(m) for m in metrics})
        row["runtime_s"] = None if job.runtime_s is None else round(float(job.runtime_s), 1)
        if resumed:
            row["resume"] = job.resume
        row.update({"status": job.status, "error": job.error})
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
    lines.append(
        "|" + "|".join("---:" if c not in ("job", "resume", "status", "error") else "---" for c in cols) + "|"
    )
    for r in table:
        cells = [_fmt(r[c], 1 if c == "runtime_s" else 4) for c in cols]
        cells[-1] = cells[-1][:160].replace("|", "\\|")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


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
    all_metrics = metric_columns(jobs, monitor, headline_only=False)
    headline = metric_columns(jobs, monitor, headline_only=True)
    table_csv = rows(jobs, keys, all_metrics)
    table_md = rows(jobs, keys, headline)
    counts = {s: sum(j.status == s for j in jobs) for s in ("ok", "failed", "running", "interrupted")}
    note = f"{len(jobs)} job{'s' if len(jobs) != 1 else ''}: " + ", ".join(
        f"{n} {s}" for s, n in counts.items() if n
    )
    resumed = {r: sum(j.resume == r for j in jobs) for r in ("skipped", "resumed", "rerun")}
    if any(resumed.values()):
        note += " (this run of the sweep: " + ", ".join(f"{n} {r}" for r, n in resumed.items() if n) + ")"
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
    md = to_markdown(table_md, f"Sweep {sweep_dir.name}", note + ".")
    settings = seed_stats.aggregate(jobs, keys, all_metrics)
    if settings is not None:  # one more row per setting: mean, std and n of every metric over its seeds
        md += "\n" + seed_stats.to_markdown(settings, keys, headline)
        extra = [c for m in all_metrics for c in (f"{m}_std", f"{m}_n")] + ["n", "seeds"]
        table_csv = [{**r, **dict.fromkeys(extra)} for r in table_csv]
        for r in settings:
            row = dict.fromkeys(table_csv[0]) if table_csv else {}
            row.update({k: v for k, v in r.items() if k in row or not table_csv}, job="mean", status="")
            table_csv.append(row)
    _write_atomic(sweep_dir / "summary.csv", to_csv(table_csv))
    _write_atomic(sweep_dir / "summary.md", md)
    png = plot(jobs, keys, monitor, sweep_dir / "summary.png") if monitor else None
    return {
        "jobs": jobs,
        "varied": keys,
        "monitor": monitor,
        "png": png,
        "counts": counts,
        "resumed": resumed,
        "settings": settings,
    }

"""What every study runner shares: launch a Hydra sweep, read its jobs, aggregate, write tables and README.

A study's `run.py` launches `python train.py -m experiment=<study> hydra.sweep.dir=<dir>` (quick mode adds
overrides that shrink data and epochs), reads the sweep folder back with `src.outputs.sweep_report`
(`summary.csv` / `summary.md` / `summary.png` are written by the sweep itself), aggregates the jobs into
the study's table, and rewrites the part of the study's README between `<!-- results:begin -->` and
`<!-- results:end -->` from those numbers.
"""

from __future__ import annotations

import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from src.outputs.sweep_report import Job, find_jobs, write_summary

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def launch(script: str, overrides: list[str], sweep_dir: Path, run_dir: str | None = None) -> float:
    """Run `python <script> -m <overrides> hydra.sweep.dir=<sweep_dir>` from the repo root; wall seconds.

    With `run_dir` (a name), one plain run into `<sweep_dir>/<run_dir>` instead (its config's sweep
    params are then ignored). Torch gets one thread per process (OMP_NUM_THREADS=1: on a shared CPU two
    threads per job are slower than one; parallel jobs come from `launcher=joblib`). Output goes to
    `<sweep_dir>/launch.log`; a non-zero exit raises with its tail. The wall seconds are added to
    `<sweep_dir>/wall_s.txt`, so `--from` reports the time the sweep took.
    """
    sweep_dir = Path(sweep_dir).resolve()
    sweep_dir.mkdir(parents=True, exist_ok=True)
    if run_dir is None:
        cmd = [sys.executable, script, "-m", *overrides, f"hydra.sweep.dir={sweep_dir}"]
    else:
        cmd = [sys.executable, script, *overrides, f"hydra.run.dir={sweep_dir / run_dir}"]
    print("$", " ".join(cmd[1:]), flush=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    start = time.perf_counter()
    with open(sweep_dir / "launch.log", "a") as log:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    wall = time.perf_counter() - start
    with open(sweep_dir / "wall_s.txt", "a") as f:
        f.write(f"{wall:.1f}\n")
    if proc.returncode != 0:
        tail = (sweep_dir / "launch.log").read_text()[-3000:]
        raise RuntimeError(f"{' '.join(cmd[1:3])} exited {proc.returncode}; end of its log:\n{tail}")
    return wall


def sweep_root(study: str, quick: bool, sweep_dir: Path | None) -> Path:
    """`sweep_dir`, or the study's new timestamped folder: logs/experiments/<study>[_quick]/<time>."""
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    return Path(sweep_dir or ROOT / "logs" / "experiments" / f"{study}{'_quick' if quick else ''}" / stamp)


def wall_seconds(*sweep_dirs: Path) -> float:
    """The launches' total wall seconds recorded in each sweep folder's wall_s.txt."""
    total = 0.0
    for d in sweep_dirs:
        path = Path(d) / "wall_s.txt"
        if path.is_file():
            total += sum(float(x) for x in path.read_text().split())
    return total


def jobs_of(sweep_dir: Path, partial: bool = False) -> list[Job]:
    """The sweep's jobs (summary files refreshed); a failed job stops the study with its error.

    `partial`: the finished jobs only (a report of a sweep that is still running or was cut short).
    """
    write_summary(sweep_dir)
    jobs = find_jobs(sweep_dir)
    failed = [j for j in jobs if j.status != "ok"]
    if partial:
        return [j for j in jobs if j.status == "ok"]
    if failed:
        raise RuntimeError(
            "; ".join(f"job {j.name} ({j.overrides}) {j.status}: {j.error}" for j in failed)
            + f" — see {sweep_dir}"
        )
    return jobs


def copy_summary(sweep_dir: Path, out_dir: Path, prefix: str) -> None:
    """Keep the sweep's own summary (every job, every metric) next to the study: <prefix>_summary.*"""
    for ext in ("csv", "md", "png"):
        src = Path(sweep_dir) / f"summary.{ext}"
        if src.is_file():
            shutil.copyfile(src, Path(out_dir) / f"{prefix}_summary.{ext}")


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0 for a single value)."""
    values = [float(v) for v in values]
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def pm(values: list[float], digits: int = 3) -> str:
    """`0.912 ± 0.004` over the values (seeds)."""
    mean, std = mean_std(values)
    if math.isnan(mean):
        return "nan"
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if len(values) > 1 else f"{mean:.{digits}f}"


def paired_difference(
    values: dict[int, float], reference: dict[int, float]
) -> tuple[float, float, float, int]:
    """(mean over seeds of values − reference with the same seed, 95 % t interval low, high, seeds paired);
    the interval is nan with fewer than two pairs."""
    from scipy import stats

    seeds = sorted(set(values) & set(reference))
    diffs = [values[s] - reference[s] for s in seeds]
    mean = statistics.fmean(diffs) if diffs else float("nan")
    if len(diffs) < 2:
        return mean, float("nan"), float("nan"), len(diffs)
    half = stats.t.ppf(0.975, len(diffs) - 1) * statistics.stdev(diffs) / math.sqrt(len(diffs))
    return mean, mean - half, mean + half, len(diffs)


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    import csv

    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def machine() -> str:
    """One line: CPU, cores, torch, threads and the load average (the development machine is shared)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{cpu}, {os.cpu_count()} cores, {gpu}; Python {platform.python_version()}, torch {torch.__version__}; "
        f"load average at the end {load}"
    )


def footer(wall_s: float, command: str) -> str:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    shared = (
        " The 15-minute load average exceeded the core count: the machine was shared with other work, so "
        "the wall time is longer than on a quiet machine."
        if os.getloadavg()[2] > (os.cpu_count() or 1)
        else ""
    )
    return (
        f"*Generated by `{command}` on {when}: {machine()}; wall time of the whole study "
        f"{wall_s / 60:.1f} min.{shared}*\n"
    )


def rewrite_readme(out_dir: Path, template: Path, results: str) -> Path:
    """Put `results` between the README's results markers (the README is copied from `template` first
    when `out_dir` has none, e.g. a test writing into tmp_path)."""
    readme = Path(out_dir) / "README.md"
    if not readme.is_file():
        shutil.copyfile(template, readme)
    replace_block(readme, BEGIN, END, results)
    return readme


def replace_block(path: Path, begin: str, end: str, body: str) -> None:
    """Rewrite the text between the `begin` and `end` marker lines of a file (markers kept)."""
    text = path.read_text()
    if begin not in text or end not in text:
        raise RuntimeError(f"{path}: no {begin} … {end} block to rewrite")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{begin}\n{body.strip()}\n{end}{tail}")


def plt():
    """matplotlib.pyplot on the Agg backend (no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    return pyplot

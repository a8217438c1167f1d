"""Results over seeds: jobs of a sweep that differ only in `seed` are one setting, shown as mean ± std.

`python train.py -m seed=1,2,3 model.net.depth=2,3,4` → 3 settings of 3 jobs; for each setting and metric:
the mean, the sample standard deviation (n - 1; empty for a single job) and n (the jobs that have the
metric). Failed or unfinished jobs do not count. Used by `src.outputs.sweep_report` (summary.md / .csv /
.png) and by the studies in `experiments/`.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

SEED_KEY = "seed"


def by_setting(jobs: Sequence[Any], keys: list[str]) -> dict[tuple, list[Any]] | None:
    """Jobs grouped by their values of `keys` other than `seed`, in first-seen order; None unless the sweep
    varies `seed`."""
    if SEED_KEY not in keys:
        return None
    setting_keys = [k for k in keys if k != SEED_KEY]
    groups: dict[tuple, list[Any]] = {}
    for job in jobs:
        groups.setdefault(tuple(job.overrides.get(k, "") for k in setting_keys), []).append(job)
    return groups


def mean_std(values: list[float]) -> tuple[float | None, float | None, int]:
    """(mean, sample std, n); std is None for fewer than two values."""
    values = [float(v) for v in values if v is not None]
    if not values:
        return None, None, 0
    std = statistics.stdev(values) if len(values) > 1 else None
    return statistics.fmean(values), std, len(values)


def aggregate(jobs: Sequence[Any], keys: list[str], metrics: list[str]) -> list[dict] | None:
    """One row per setting: its keys, `n` (finished jobs), `seeds`, and `<metric>` / `<metric>_std` /
    `<metric>_n` per metric; None unless the sweep varies `seed`."""
    groups = by_setting(jobs, keys)
    if groups is None:
        return None
    setting_keys = [k for k in keys if k != SEED_KEY]
    out = []
    for setting, group in groups.items():
        done = [j for j in group if j.status == "ok"]
        row: dict[str, Any] = dict(zip(setting_keys, setting))
        row["n"] = len(done)
        row["seeds"] = " ".join(str(j.overrides.get(SEED_KEY, "")) for j in done)
        for m in metrics:
            mean, std, n = mean_std([j.metrics.get(m) for j in done])
            row.update({m: mean, f"{m}_std": std, f"{m}_n": n})
        out.append(row)
    return out


def cell(mean: float | None, std: float | None, digits: int = 4) -> str:
    if mean is None:
        return ""
    return f"{mean:.{digits}f}" if std is None else f"{mean:.{digits}f} ± {std:.{digits}f}"


def to_markdown(rows: list[dict], keys: list[str], metrics: list[str]) -> str:
    """The `mean ± std (n)` table of the settings (markdown, with its heading)."""
    setting_keys = [k for k in keys if k != SEED_KEY]
    cols = [*setting_keys, "n", *metrics]
    lines = [
        "## Mean ± std over seeds",
        "",
        "Jobs that differ only in `seed` are one setting: mean ± sample std over its finished jobs (n).",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "|".join("---:" for _ in cols) + "|",
    ]
    for r in rows:
        cells = [str(r[k]) for k in setting_keys] + [str(r["n"])]
        cells += [cell(r[m], r[f"{m}_std"]) for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"

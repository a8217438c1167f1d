"""The sweep folder's summary plot: the main metric against the swept values (error bars over seeds)."""

from __future__ import annotations

from pathlib import Path

from src.outputs import seed_stats
from src.outputs.sweep_job import Job, as_number


def plot(jobs: list[Job], keys: list[str], metric: str, path: Path) -> Path | None:
    """The main metric against the first varied key; one line per combination of the other varied keys.

    A sweep over seeds: one point per setting, the mean with the sample std as an error bar.
    """
    settings = seed_stats.aggregate(jobs, keys, [metric])
    if settings is not None:
        keys = [k for k in keys if k != seed_stats.SEED_KEY]
        points = [(r, r[metric], r[f"{metric}_std"]) for r in settings if r[metric] is not None]
        title = f"{metric}: mean ± std over seeds ({len(points)} settings)"
    else:
        points = [(j.overrides, j.metrics[metric], None) for j in jobs if j.metrics.get(metric) is not None]
        failed = sum(j.status == "failed" for j in jobs)
        title = f"{metric} per job ({len(points)} done, {failed} failed)"
    if not points:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xkey = next((k for k in keys if all(as_number(p[0].get(k)) is not None for p in points)), None)
    xkey = xkey or (keys[0] if keys else None)
    others = [k for k in keys if k != xkey]
    groups: dict[str, list[int]] = {}
    for i, (over, _, _) in enumerate(points):
        groups.setdefault(", ".join(f"{k}={over.get(k, '')}" for k in others), []).append(i)
    categorical = xkey is not None and any(as_number(p[0].get(xkey)) is None for p in points)
    cats = sorted({str(p[0].get(xkey, "")) for p in points}) if categorical else []

    def x_of(i: int) -> float:
        if xkey is None:
            return float(i)
        value = points[i][0].get(xkey, "")
        return float(cats.index(str(value))) if categorical else float(value)

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    if len(groups) > 8:  # e.g. an Optuna search: every trial its own combination → a scatter plot
        ax.scatter([x_of(i) for i in range(len(points))], [p[1] for p in points], s=22)
    else:
        for label, idx in groups.items():
            idx = sorted(idx, key=x_of)
            errs = [points[i][2] or 0.0 for i in idx]
            ax.errorbar(
                [x_of(i) for i in idx],
                [points[i][1] for i in idx],
                yerr=errs if settings is not None else None,
                fmt="o-",
                capsize=4 if settings is not None else 0,
                label=label or None,
            )
        if any(groups):
            ax.legend(fontsize=8)
    if categorical:
        ax.set_xticks(range(len(cats)), cats)
    elif xkey is not None:
        xs = sorted({x_of(i) for i in range(len(points))})
        if len(xs) <= 20 and all(x.is_integer() for x in xs):
            ax.set_xticks(xs, [str(int(x)) for x in xs])  # integer sweeps (depth, sizes): no 2.5 ticks
    ax.set_xlabel(xkey or "job")
    ax.set_ylabel(metric)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

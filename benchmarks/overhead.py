"""Framework overhead: training through our LightningModule + Trainer vs a plain PyTorch loop.

Fair by construction: the same model (one initial state, copied untimed for every run), the same
DataModule and loader (its workers started and ended inside each side's time, as a run does), the same
optimizer and per-step schedule, the same EMA where the config has one, the same torch threads, and the
same process (a garbage collection before every run, so neither side pays for the other's garbage). The
Trainer runs as a user runs it: the rich progress bar and the CSV logger on (checkpointing and
validation off in both, so only training is compared). Each run trains whole epochs of the model's
default data (`python train.py model=<name>`), as many as make a run of ~`--run-seconds` (from a warm-up
pair): a third of the shortest default fit (`trainer.max_epochs: 20`: ~60 s for the Siamese model, ~3 min
for the U-Net on this machine), so the once-per-fit costs (building the Trainer, starting and ending the
loader's workers and the progress bar's thread) weigh at least three times what they do in a default run.

Runs come in adjacent pairs (plain, ours, then ours, plain, ...); pairs continue until `--budget` seconds
per model. On a shared VM the speed of the same work moves by ~7–9 % from one second to the next, so the
wall-time ratio of one pair carries that noise in full. Both sides run the same model arithmetic (forward +
loss, backward, the optimizer's update: the same calls, timed where both loops make them), so each run's
wall time per second of its own arithmetic divides the machine's speed of the moment out: the normalised
ratio (ours over plain) is the cost of the loop around the model. It decides, provided the arithmetic
itself took the same time on both sides (its ratio's interval holds 1). Each ratio is the median of the
per-pair ratios with a distribution-free ~95 % confidence interval from their order statistics. Goal:
normalised ratio ≤ 1.03 (met when the interval's upper end is under it); the wall-time and main-process
CPU ratios are reported beside it.
`python -m benchmarks.overhead [--quick] [--budget 240] [--run-seconds 20]`.
"""

from __future__ import annotations

import copy
import gc
import json
import math
import os
import tempfile
import time
from pathlib import Path

from benchmarks._common import (
    MODELS,
    build_data_and_model,
    compose,
    median,
    parse_args,
    quiet,
    write_result,
)
from benchmarks._loops import lightning_fit, plain_epoch, trainer_config
from benchmarks._phases import MODEL_PHASES, instrument, reset, spent

GOAL = 1.03  # issue 23: with exact resume, the finite guard and per-sample seeding kept
MIN_PAIRS = 6  # the fewest pairs whose extreme ratios bound the median with ≥ 95 % confidence


def median_interval(values: list[float], level: float = 0.95) -> tuple[float, float, float]:
    """(low, high, coverage): the order statistics x_(k), x_(n+1-k) that hold the median with probability
    `coverage` (sign test: 1 - 2 P(Binomial(n, 1/2) < k)), k the largest with coverage ≥ `level`; the
    whole range (k = 1) when n is too small for `level`."""
    xs, n = sorted(values), len(values)

    def coverage(k: int) -> float:
        return 1 - 2 * sum(math.comb(n, j) for j in range(k)) / 2**n

    k = 1
    while k + 1 <= (n + 1) // 2 and coverage(k + 1) >= level:
        k += 1
    return xs[k - 1], xs[n - k], coverage(k)


RAW = {"seconds": "runs", "cpu": "cpu", "model": "model_s", "data": "data_wait_s"}  # per-run lists, JSON keys


def runs_of(row: dict | None) -> dict:
    """The per-run lists (`runs[side][key]`, key as in RAW) of a result row, or empty ones for None."""
    return {
        side: {key: list(row[f"{side}_{name}"]) if row else [] for key, name in RAW.items()}
        for side in ("plain", "ours")
    }


def run_once(fn, template) -> tuple[float, float, float, float]:
    """(wall seconds the side timed itself, main-process CPU seconds, wall seconds of the model's own
    arithmetic in it, wall seconds waiting for batches) of one run on a fresh model copy."""
    model = copy.deepcopy(template)
    gc.collect()
    reset()
    cpu0 = time.process_time()
    seconds = fn(model)
    cpu = time.process_time() - cpu0
    phases = spent()
    return float(seconds), cpu, sum(phases[p] for p in MODEL_PHASES), phases["data"]


def measure(
    model: str, budget_s: float, run_seconds: float, quick: bool, tmp: Path, earlier: dict | None = None
) -> dict:
    """Pairs of runs of `model` for `budget_s`; `earlier`: a kept row whose pairs these add to (its
    epochs per run)."""
    cfg = compose([f"model={model}", "callbacks=progress", "logger=csv"], tmp / model)
    dm, template = build_data_and_model(cfg)
    dm.setup("fit")
    instrument(type(template), time.perf_counter)
    max_batches = 4 if quick else None
    steps = min(len(dm.train_dataloader()), max_batches or 10**9)

    def sides(epochs: int) -> dict:
        run_cfg = trainer_config(cfg, tmp / model / "run", max_batches, epochs)
        return {
            "plain": lambda m: plain_epoch(m, dm, max_batches, epochs, run_cfg=cfg)["seconds"],
            "ours": lambda m: lightning_fit(run_cfg, m, dm),
        }

    # warm-up pair (one epoch each, untimed): fills caches, and sizes the runs and the number of pairs
    warm = {name: run_once(fn, template)[0] for name, fn in sides(1).items()}
    if earlier:
        epochs = earlier["epochs_per_run"]
    else:
        epochs = 1 if quick else max(1, round(run_seconds / warm["plain"]))
    pair_s = epochs * sum(warm.values())
    pairs = 2 if quick else max(MIN_PAIRS, int(budget_s // pair_s))
    fns = sides(epochs)
    runs = runs_of(earlier)
    start = len(runs["plain"]["seconds"])
    for i in range(start, start + pairs):
        for name in ("plain", "ours") if i % 2 == 0 else ("ours", "plain"):
            for key, value in zip(RAW, run_once(fns[name], template)):
                runs[name][key].append(value)

    return {
        "steps_per_epoch": steps,
        "epochs_per_run": epochs,
        "pairs": len(runs["plain"]["seconds"]),
        "batch_size": dm.batch_size if model != "siamese" else dm.p * dm.k,
        "num_workers": dm.num_workers,
        **{f"{side}_{RAW[key]}": runs[side][key] for side in runs for key in RAW},
        **summary(runs),
    }


def summary(runs: dict) -> dict:
    """Medians and intervals of the per-pair ratios from the runs' raw seconds
    (`runs[side][key]`, side plain/ours, key as in RAW)."""

    def per_pair(key: str) -> list[float]:
        return [o / p for o, p in zip(runs["ours"][key], runs["plain"][key])]

    ratios = {
        "ratio": per_pair("seconds"),
        "cpu_ratio": per_pair("cpu"),
        "model_ratio": per_pair("model"),
        "data_wait_ratio": per_pair("data"),
    }
    # each run's wall time per second of its own model arithmetic: the machine's speed of the moment
    # divides out, as both terms are measured over the same seconds
    ratios["normalised_ratio"] = [r / m for r, m in zip(ratios["ratio"], ratios["model_ratio"])]
    # the loop's own time (neither model arithmetic nor waiting for a batch), ours less plain, as % of
    # plain's run: the normalised ratio without the loader's noise (check: ours waits no longer for data)
    ratios["loop_pct"] = [
        100 * ((ow - om - od) - (pw - pm - pd)) / pw
        for ow, om, od, pw, pm, pd in zip(
            *(runs[side][key] for side in ("ours", "plain") for key in ("seconds", "model", "data"))
        )
    ]
    out = {"plain_s": median(runs["plain"]["seconds"]), "ours_s": median(runs["ours"]["seconds"])}
    for name, values in ratios.items():
        low, high, coverage = median_interval(values)
        out |= {name: median(values), f"{name}_ci": [low, high], f"{name}_values": values}
    out["ci_coverage"] = coverage
    return out


def verdict(r: dict) -> str:
    """Decided on the speed-normalised ratio, provided the two sides' model arithmetic took the same time
    (its interval holds 1): otherwise the normalisation would hide a slowdown of the model itself."""
    model_low, model_high = r["model_ratio_ci"]
    if not model_low <= 1 <= model_high:
        return "undecided (the model's arithmetic took different times)"
    low, high = r["normalised_ratio_ci"]
    if high <= GOAL:
        return "met"
    if low > GOAL:
        return "not met"
    return "undecided (interval holds the goal)"


def plot(results: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    names = list(results)
    for i, name in enumerate(names):
        r = results[name]
        for dx, key, colour in ((-0.12, "", "tab:grey"), (0.12, "normalised_", "tab:orange")):
            values, mid, (low, high) = r[f"{key}ratio_values"], r[f"{key}ratio"], r[f"{key}ratio_ci"]
            ax.scatter([i + dx - 0.05] * len(values), values, c=colour, s=10, alpha=0.6)
            ax.errorbar([i + dx + 0.03], [mid], yerr=[[mid - low], [high - mid]], fmt="o", c="k", capsize=3)
        ax.annotate(
            f"×{r['normalised_ratio']:.3f}", (i + 0.2, r["normalised_ratio"]), va="center", fontsize=8
        )
    ax.axhline(GOAL, c="tab:red", ls="--", lw=1, label=f"goal ≤ {GOAL}")
    ax.axhline(1.0, c="grey", lw=0.8)
    ax.scatter([], [], c="tab:grey", label="one pair: wall-time ratio")
    ax.scatter([], [], c="tab:orange", label="one pair: speed-normalised ratio")
    ax.errorbar([], [], fmt="o", c="k", label="median, ~95 % interval")
    ax.set_xticks(range(len(names)), names)
    ax.set_xlim(-0.5, len(names) - 0.2)
    ax.set_ylabel("time ratio (ours / plain loop)")
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title("Framework overhead per pair of adjacent runs")
    return fig


def earlier_results(path: Path, quick: bool) -> dict:
    """The last result's rows per model (those with the normalised ratio), to keep beside a `--models` run."""
    if quick or not path.exists():
        return {}
    earlier = json.loads(path.read_text())
    if earlier.get("quick"):
        return {}
    date = earlier["machine"]["date"]
    kept = {}
    for model, r in earlier.get("details", {}).items():
        if all(f"{side}_{key}" in r for side in ("plain", "ours") for key in RAW.values()):
            kept[model] = {"measured_at": date, **r, **summary(runs_of(r))}
    return kept


def interval(r: dict, key: str) -> str:
    low, high = r[f"{key}_ci"]
    return f"{r[key]:.3f} ({low:.3f}–{high:.3f})"


def main() -> None:
    def extra(parser):
        parser.add_argument(
            "--budget",
            type=float,
            default=240,
            help="seconds of measured pairs per model (default %(default)s)",
        )
        parser.add_argument(
            "--models",
            nargs="+",
            choices=MODELS,
            default=list(MODELS),
            help="models to measure (default: all); the others' rows are kept from the last result",
        )
        parser.add_argument(
            "--add",
            action="store_true",
            help="add the new pairs to the last result's pairs of the named models (at its epochs per run)",
        )
        parser.add_argument(
            "--run-seconds",
            type=float,
            default=20,
            help="whole epochs per run, as many as take about this long (default %(default)s)",
        )

    args = parse_args(__doc__, extra)
    quiet()
    kept = earlier_results(args.out / "overhead.json", args.quick)
    results = {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_overhead_") as tmp:
        for model in MODELS:
            if model not in args.models:
                if model in kept:
                    results[model] = kept[model]
                continue
            started, load = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.getloadavg()[0]
            earlier = kept.get(model) if args.add else None
            results[model] = r = measure(model, args.budget, args.run_seconds, args.quick, Path(tmp), earlier)
            r["measured_at"], r["load_at_start"] = started, round(load, 2)
            if earlier:
                r["measured_at"] = f"{earlier['measured_at']} + {started}"
            print(
                f"{model}: plain {r['plain_s']:.2f}s  ours {r['ours_s']:.2f}s  ratio {r['ratio']:.3f} "
                f"[{r['ratio_ci'][0]:.3f}, {r['ratio_ci'][1]:.3f}]  model {r['model_ratio']:.3f}  "
                f"normalised {r['normalised_ratio']:.3f} "
                f"[{r['normalised_ratio_ci'][0]:.3f}, {r['normalised_ratio_ci'][1]:.3f}]"
            )
    elapsed = time.perf_counter() - t0
    rows = [
        [
            m,
            r["measured_at"],
            r["steps_per_epoch"],
            r["epochs_per_run"],
            r["batch_size"],
            r["num_workers"],
            r["pairs"],
            r["plain_s"],
            r["ours_s"],
            interval(r, "ratio"),
            interval(r, "cpu_ratio"),
            interval(r, "model_ratio"),
            interval(r, "data_wait_ratio"),
            f"{r['loop_pct']:+.2f} ({r['loop_pct_ci'][0]:+.2f}–{r['loop_pct_ci'][1]:+.2f})",
            f"{r['normalised_ratio']:.3f}",
            "–".join(f"{v:.3f}" for v in r["normalised_ratio_ci"]),
            verdict(r),
        ]
        for m, r in results.items()
    ]
    headers = [
        "model",
        "measured",
        "steps/epoch",
        "epochs/run",
        "batch",
        "workers",
        "pairs",
        "plain loop s",
        "ours s",
        "wall ratio (interval)",
        "CPU ratio (interval)",
        "model arithmetic ratio (interval)",
        "data wait ratio (interval)",
        "loop % (interval)",
        "normalised ratio",
        "~95 % interval",
        f"goal ≤ {GOAL}",
    ]
    coverage = min(r["ci_coverage"] for r in results.values())
    notes = (
        f"One torch thread per process (`--threads`). Each run trains whole epochs of the model's default config "
        "and data (`python train.py model=<name>`), as many as take about "
        f"{args.run_seconds:g} s, from a fresh copy of the model (copied untimed); a warm-up pair first. Ours = "
        "building the Trainer (callbacks, loggers) and `trainer.fit`, with the rich progress bar and the CSV "
        "logger; plain = building the optimizer and the loader, the loop, ending the loader's workers. Runs in "
        "adjacent pairs, alternating which side goes first. Each ratio is the median of the per-pair ratios "
        f"ours/plain, its interval the order statistics holding the median with ≥ {coverage:.1%} confidence "
        "(sign test). Wall ratio: the runs' wall times; CPU ratio: the main process's CPU seconds (loader workers "
        "excluded); model arithmetic ratio: the wall seconds spent in the model's own forward + loss, backward "
        "and optimizer update (the same calls on both sides); data wait ratio: the wall seconds spent waiting for a batch; loop %: the wall seconds that are neither model arithmetic nor waiting for a batch, ours less plain, as % of the plain run (the loop's own cost without the loader's noise, provided ours waits no longer for data); normalised ratio: each run's wall time per second "
        "of its model arithmetic, ours over plain — the time the loop around the model costs, with the "
        "machine's speed of the moment divided out (on this shared VM the same work's speed moves ~7–9 % "
        "between adjacent seconds, which the wall ratio of single pairs carries in full). Met when the "
        "normalised ratio's upper end is ≤ the goal and the model-arithmetic interval holds 1 (else the "
        f"normalisation could hide a slower model). Measured: when each model's runs began (rows from an earlier "
        f"run are kept when `--models` names others; `--add` adds pairs to a row: its two start times). {elapsed / 60:.1f} min in all."
    )
    write_result(
        "overhead",
        "Framework overhead: LightningModule + Trainer vs a plain PyTorch loop",
        [("", headers, rows)],
        {
            "ratio": {m: r["normalised_ratio"] for m, r in results.items()},
            "ratio_ci": {m: r["normalised_ratio_ci"] for m, r in results.items()},
            "wall_ratio": {m: r["ratio"] for m, r in results.items()},
            "wall_ratio_ci": {m: r["ratio_ci"] for m, r in results.items()},
            "goal": GOAL,
            "details": results,
        },
        args.out,
        notes,
        plot(results),
        args.quick,
    )


if __name__ == "__main__":
    main()

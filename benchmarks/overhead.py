"""Framework overhead: one training epoch through our LightningModule + Trainer vs a plain PyTorch loop.

Same model (one initial state copied for every run), same DataModule and loader, same optimizer and
per-step schedule, same threads. The Trainer runs as a user runs it: the rich progress bar and the CSV
logger on (checkpointing and validation off in both, so only the training epoch is compared). The two
are run in turn (plain, ours, ours, plain, ...) after a warm-up; the ratio of the medians is the
overhead. Goal: ratio ≤ 1.03. `python -m benchmarks.overhead [--quick]`.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

from benchmarks._common import (
    MODELS,
    build_data_and_model,
    compose,
    interleaved,
    median,
    parse_args,
    quiet,
    write_result,
)
from benchmarks._loops import lightning_fit, plain_epoch, trainer_config

GOAL = 1.03  # issue 23: with exact resume, the finite guard and per-sample seeding kept


def measure(model: str, repeats: int, max_batches: int | None, tmp: Path) -> dict:
    cfg = compose([f"model={model}", "callbacks=progress", "logger=csv"], tmp / model)
    dm, template = build_data_and_model(cfg)
    dm.setup("fit")
    steps = min(len(dm.train_dataloader()), max_batches or 10**9)
    run_cfg = trainer_config(cfg, tmp / model / "run", max_batches)
    # each side times itself from a fresh copy of the model (copied untimed: the harness's work, not the
    # framework's): the plain loop from its optimizer and loader, ours from building the Trainer
    fns = {
        "plain": lambda: plain_epoch(copy.deepcopy(template), dm, max_batches, run_cfg=cfg)["seconds"],
        "ours": lambda: lightning_fit(run_cfg, copy.deepcopy(template), dm),
    }
    # short epochs (the Siamese one is ~2 s) get more rounds, so every median rests on ~30 s of runs
    warm = sum(fn() for fn in fns.values())
    repeats = max(repeats, min(3 * repeats, round(30 / max(warm, 1e-3))))
    times = interleaved(fns, repeats, warmup=0, own_seconds=True)
    plain, ours = median(times["plain"]), median(times["ours"])
    return {
        "steps": steps,
        "repeats": repeats,
        "batch_size": dm.batch_size if model != "siamese" else dm.p * dm.k,
        "num_workers": dm.num_workers,
        "plain_s": plain,
        "ours_s": ours,
        "ratio": ours / plain,
        "ratios": [o / p for o, p in zip(times["ours"], times["plain"])],
        "plain_runs": times["plain"],
        "ours_runs": times["ours"],
    }


def plot(results: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    names = list(results)
    for i, name in enumerate(names):
        r = results[name]
        ax.scatter([i - 0.1] * len(r["plain_runs"]), r["plain_runs"], c="tab:blue", s=14)
        ax.scatter([i + 0.1] * len(r["ours_runs"]), r["ours_runs"], c="tab:orange", s=14)
        ax.annotate(
            f"×{r['ratio']:.3f}", (i, max(r["ours_runs"] + r["plain_runs"])), ha="center", va="bottom"
        )
    ax.scatter([], [], c="tab:blue", label="plain PyTorch loop")
    ax.scatter([], [], c="tab:orange", label="LightningModule + Trainer")
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("seconds per epoch")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("One training epoch, every run (ratio of medians above)")
    return fig


def main() -> None:
    args = parse_args(__doc__)
    quiet()
    repeats, max_batches = (2, 4) if args.quick else (3, 40)
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench_overhead_") as tmp:
        for model in MODELS:
            results[model] = measure(model, repeats, max_batches, Path(tmp))
            r = results[model]
            print(f"{model}: plain {r['plain_s']:.2f}s  ours {r['ours_s']:.2f}s  ratio {r['ratio']:.3f}")
    rows = [
        [
            m,
            r["steps"],
            r["batch_size"],
            r["num_workers"],
            r["plain_s"],
            r["ours_s"],
            f"{r['ratio']:.3f}",
            f"{min(r['ratios']):.2f}–{max(r['ratios']):.2f}",
            "met" if r["ratio"] <= GOAL else "not met",
        ]
        for m, r in results.items()
    ]
    headers = [
        "model",
        "steps",
        "batch",
        "workers",
        "plain loop s",
        "ours s",
        "ratio",
        "ratio range (pairs)",
        f"goal ≤ {GOAL}",
    ]
    notes = (
        "One torch thread per process (`--threads`). Medians of interleaved runs per side after one warm-up round "
        f"({repeats} rounds, more for short epochs, so each median covers ~30 s of runs); each run is one "
        "training epoch of the model's default config and data (`python train.py model=<name>`), "
        f"including loader start-up, of at most {max_batches} steps. Ours = building the Trainer (callbacks, loggers) "
        "and `trainer.fit`, with the rich progress bar and the CSV logger; plain = building the optimizer and the "
        "loader and the loop. Each side times itself from a fresh copy of the model, copied untimed."
    )
    write_result(
        "overhead",
        "Framework overhead: LightningModule + Trainer vs a plain PyTorch loop",
        [("", headers, rows)],
        {"ratio": {m: r["ratio"] for m, r in results.items()}, "goal": GOAL, "details": results},
        args.out,
        notes,
        plot(results),
        args.quick,
    )


if __name__ == "__main__":
    main()

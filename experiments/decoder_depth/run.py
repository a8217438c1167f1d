"""Study 3: how deep should a U-Net be? Our U-Net at depths 2–4, each run trained to its plateau, with seeds
that pair the depths, on the synthetic shapes and on real images.

Launches `python train.py -m experiment=decoder_depth` (conf/experiment/decoder_depth.yaml: depth 2..4 ×
seed 1..4, early stopping on val/miou) once per data set, then reads every run back: its best checkpoint's
test mIoU, its val/miou history (to show the plateau: epochs trained, the gain over its last epochs), and
measures each depth's network once (parameters, median time of one training step, one CPU thread). The
depths are compared **paired by seed** (same seed = same initialisation draw order and data order): the
mean difference to the best depth with its 95 % t confidence interval over the seeds. Writes
`results.md` / `results.csv`, `decoder_depth.png`, each sweep's `<data>_summary.*`, and the results
block of README.md (tables and reading, generated from the numbers).

    python -m experiments.decoder_depth.run                  # both data sets (~40 min on a quiet 2-core CPU)
    python -m experiments.decoder_depth.run --data synthetic # one of them
    python -m experiments.decoder_depth.run --quick          # depths 2-3, 2 seeds, 2 batches (smoke test)
    python -m experiments.decoder_depth.run --from logs/experiments/decoder_depth/<time>   # re-report

The real data are the real-image benchmark's mask folder (Fashion-MNIST objects on scikit-image photographs,
11 classes), prepared once by `python -m benchmarks._real_data --fetch && python -m benchmarks._real_data`.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf

from experiments import common, top_readme

HERE = Path(__file__).resolve().parent
COMMAND = "python -m experiments.decoder_depth.run"
REAL_ROOT = common.ROOT / "data" / "real" / "fashion_seg"
LAST = 4  # the plateau check: the best val/miou gained over a run's last LAST epochs
PLATEAU = 0.01  # a run that gained more than this over its last LAST epochs is called still rising
DATASETS = {  # name -> (overrides on top of the experiment, the metric compared, what it is)
    "synthetic": (
        [],
        "test/miou",
        "synthetic shapes (conf/data/shapes_seg.yaml): 64×64, 4 classes (background + 3 shapes), "
        "1000 train / 200 val / 200 test images; the table's metric is the test split's",
    ),
    "real": (
        [
            "data=mask_folder",
            f"data.root={REAL_ROOT}",
            "data.image_size=64",
            "data.reader.classes=[background,object]",
            "data.reader.value_map={" + ",".join(f"{c}:1" for c in range(1, 11)) + "}",
            "trainer.min_epochs=8",
            "trainer.max_epochs=30",
        ],
        "val/miou",
        "real images (the real-image benchmark's mask folder: Fashion-MNIST photographs of products pasted "
        "on scikit-image photographs, masks from the objects' own pixels), resized 128→64, object vs "
        "background (the 10 product classes mapped to one with `data.reader.value_map`: with 11 classes "
        "every network, ours and smp's, stays at chance level within CPU minutes — "
        "benchmarks/results/real_time_to_quality.md), 480 train / 96 val images, the random-resized-crop "
        "augmentation of conf/data/mask_folder.yaml, at least 8 epochs before early stopping may end a run "
        "(the runs sit on a background-only plateau first); the set has no test split, so the metric is "
        "the best checkpoint's val/miou (the same selection for every depth, so the comparison stays fair; "
        "the absolute values are optimistic)",
    ),
}
QUICK = [
    "model.net.depth=2,3",
    "model.plot_every_n_epochs=null",  # no per-run plots: the study draws its own from the numbers
    "seed=1,2",
    "trainer.max_epochs=2",
    "+trainer.limit_train_batches=2",
    "data.reader.num_train=16",
    "data.reader.num_val=8",
    "data.reader.num_test=8",
]


def step_time_ms(job, cfg, repeats: int, warmup: int = 2) -> tuple[int, float]:
    """(parameters, median ms of one training step) of the job's network: one thread, a random batch of the
    training shape, forward + CE+Dice loss + backward + AdamW."""
    from src.runtime.checkpoints.checkpoint_facts import facts_of
    from src.runtime.config.instantiate import build

    if not isinstance(cfg["model"]["num_classes"], int):  # `auto`: the count the run read from its data
        ckpt = torch.load(job.path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
        cfg.model.num_classes = facts_of(ckpt)["data"]["num_classes"]
    model = build(cfg.model, "model")
    model.train()
    n_params = sum(p.numel() for p in model.net.parameters())
    size = int(cfg["data"]["image_size"])
    bs = int(cfg["data"]["batch_size"])
    images = torch.randn(bs, int(cfg["model"]["in_channels"]), size, size)
    masks = torch.randint(0, int(cfg["model"]["num_classes"]), (bs, size, size))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        times = []
        for i in range(warmup + repeats):
            start = time.perf_counter()
            loss = model.compute_losses((images, masks))["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if i >= warmup:
                times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    return n_params, 1000 * statistics.median(times)


def history(job) -> dict:
    """The run's val/miou per epoch (from its csv/metrics.csv): epochs trained, best epoch, the plateau gain."""
    from src.tools.compare import read_history

    curve = [
        (epoch, value) for epoch, _, _, value in read_history(job.path, job.name).rows.get("val/miou", [])
    ]
    values = [v for _, v in curve]
    epochs = len(values)
    before = max(values[: epochs - LAST], default=float("nan")) if epochs > LAST else float("nan")
    return {
        "curve": values,
        "epochs": epochs,
        "best_epoch": 1 + max(range(epochs), key=values.__getitem__) if values else 0,
        "last_gain": max(values) - before if values and not math.isnan(before) else float("nan"),
    }


def paired(values: dict[int, dict[int, float]], best: int) -> dict[int, tuple[float, float, float, int]]:
    """depth -> (mean difference to the best depth, 95 % CI low, high, seeds paired), paired by seed."""
    out = {}
    for depth, by_seed in values.items():
        diff = common.paired_difference(by_seed, values[best])
        out[depth] = (diff[0], float("nan"), float("nan"), diff[3]) if depth == best else diff
    return out


def measure(name: str, jobs, repeats: int) -> list[dict]:
    """One row per depth of one data set: the metric per seed, the paired difference to the best depth,
    the plateau facts of its runs, the network measured once."""
    metric = DATASETS[name][1]
    groups: dict[int, list] = {}
    for job in jobs:
        cfg = OmegaConf.load(job.path / ".hydra" / "config.yaml")  # interpolations resolve within it
        groups.setdefault(int(cfg["model"]["net"]["depth"]), []).append((job, cfg, history(job)))
    values = {d: {int(c["seed"]): j.metrics[metric] for j, c, _ in g} for d, g in groups.items()}
    best = max(values, key=lambda d: statistics.fmean(values[d].values()))
    diffs = paired(values, best)
    rows = []
    for depth, group in sorted(groups.items()):
        cfg = group[0][1]
        params, ms = step_time_ms(group[0][0], cfg, repeats)
        runtimes = [j.runtime_s for j, _, _ in group if j.runtime_s is not None]
        rows.append(
            {
                "data": name,
                "depth": depth,
                "n": len(group),
                "seeds": " ".join(str(s) for s in sorted(values[depth])),
                "metric": metric,
                "values": [values[depth][s] for s in sorted(values[depth])],
                "mean": statistics.fmean(values[depth].values()),
                "best": depth == best,
                "diff": diffs[depth][0],
                "ci_low": diffs[depth][1],
                "ci_high": diffs[depth][2],
                "epochs": [h["epochs"] for _, _, h in group],
                "best_epochs": [h["best_epoch"] for _, _, h in group],
                "gains": [h["last_gain"] for _, _, h in group],
                "last_gain": max((h["last_gain"] for _, _, h in group), default=float("nan")),
                "max_epochs": int(cfg["trainer"]["max_epochs"]),
                "patience": int(cfg["callbacks"]["early_stopping"]["patience"]),
                "curves": [h["curve"] for _, _, h in group],
                "params": params,
                "step_ms": ms,
                "batch": f"{cfg['data']['batch_size']}×{cfg['data']['image_size']}²",
                "runtime_s": statistics.fmean(runtimes) if runtimes else None,
            }
        )
    return rows


def span(values: list[int]) -> str:
    return f"{statistics.fmean(values):.0f} ({min(values)}–{max(values)})" if values else ""


def difference(row: dict) -> str:
    if row["best"]:
        return "best"
    if math.isnan(row["ci_low"]):
        return f"{row['diff']:+.3f}"
    return f"{row['diff']:+.3f} [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]"


def table(rows: list[dict]) -> str:
    header = [
        "data",
        "depth",
        "seeds",
        "metric",
        "mean ± std",
        "Δ to best, paired [95 % CI]",
        "epochs run; best epoch",
        f"gain in last {LAST} epochs",
        "parameters",
        "step ms",
        "run s",
    ]
    body = [
        [
            r["data"],
            r["depth"],
            r["n"],
            r["metric"],
            common.pm(r["values"]),
            difference(r),
            f"{span(r['epochs'])}; best {span(r['best_epochs'])}",
            "" if math.isnan(r["last_gain"]) else f"≤ {r['last_gain']:.3f}",
            f"{r['params']:,}",
            f"{r['step_ms']:.1f}",
            "" if r["runtime_s"] is None else f"{r['runtime_s']:.0f}",
        ]
        for r in rows
    ]
    return common.markdown_table(header, body)


def reading(name: str, rows: list[dict]) -> str:
    """What the numbers say, generated from them: the plateau, which differences are real, the cost."""
    if not rows:
        return ""
    best = next(r for r in rows if r["best"])
    runs = sum(r["n"] for r in rows)
    capped = sum(e >= r["max_epochs"] for r in rows for e in r["epochs"])
    gain = max((r["last_gain"] for r in rows if not math.isnan(r["last_gain"])), default=float("nan"))
    lines = [
        f"- **Plateau.** {runs - capped} of {runs} runs stopped early ({rows[0]['patience']} epochs without a val mIoU "
        f"gain ≥ min_delta), {capped} reached the {rows[0]['max_epochs']}-epoch ceiling; "
        + (
            f"too few epochs to check a plateau over the last {LAST}."
            if math.isnan(gain)
            else f"over their last {LAST} epochs no run's best val mIoU rose by more than {gain:.3f}."
        )
    ]
    rising = [(r["depth"], g) for r in rows for g in r["gains"] if g > PLATEAU]
    if rising:
        lines[0] += (
            f" {len(rising)} run(s) still gained more than {PLATEAU} there ("
            + ", ".join(f"depth {d}: +{g:.3f}" for d, g in rising)
            + "): not on a plateau yet, or a noisy validation set moving the best value late — read those "
            "depths' rows with that in mind."
        )
    worse = [r for r in rows if not r["best"] and r["ci_high"] < 0]
    tied = [r for r in rows if not r["best"] and not (r["ci_high"] < 0)]
    lines.append(
        f"- **Depth {best['depth']} has the best mean** ({common.pm(best['values'])} {best['metric']} over "
        f"{best['n']} seeds)."
        + (
            " Worse, paired by seed (the 95 % interval of the difference lies below 0): "
            + ", ".join(f"depth {r['depth']} ({r['diff']:+.3f})" for r in worse)
            + "."
            if worse
            else ""
        )
        + (
            " Not distinguishable from it at this number of seeds (the interval contains 0): "
            + ", ".join(f"depth {r['depth']} ({difference(r)})" for r in tied)
            + "."
            if tied
            else ""
        )
    )
    if not worse:
        bound = max(max(abs(r["ci_low"]), abs(r["ci_high"])) for r in tied) if tied else float("nan")
        lines.append(
            f"- **No difference between depths is resolved** with {best['n']} paired seeds: every interval "
            f"contains 0. What the intervals rule out is a loss of more than {bound:.3f} from choosing "
            "another depth than the best"
            + (
                " — on this data, depth does not matter at that resolution."
                if bound <= 0.05
                else "; a finer answer needs more seeds or a less noisy validation set."
            )
        )
    cheapest = min(rows, key=lambda r: r["params"])
    lines.append(
        f"- **Cost.** Parameters grow {rows[0]['params']:,} → {rows[-1]['params']:,} and the training step "
        f"{rows[0]['step_ms']:.0f} → {rows[-1]['step_ms']:.0f} ms from depth {rows[0]['depth']} to "
        f"{rows[-1]['depth']}"
        + (
            f"; depth {cheapest['depth']}, the cheapest, is the best."
            if cheapest is best
            else f"; depth {cheapest['depth']}, the cheapest, is not resolved from the best."
            if cheapest in tied
            else "."
        )
    )
    return f"**{name}:**\n\n" + "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    plt = common.plt()
    names = list(dict.fromkeys(r["data"] for r in rows))
    fig, axes = plt.subplots(len(names), 3, figsize=(15, 4.0 * len(names)), squeeze=False)
    colours = plt.get_cmap("viridis")
    for ax_row, name in zip(axes, names):
        sel = [r for r in rows if r["data"] == name]
        depths = [r["depth"] for r in sel]
        colour = {d: colours(i / max(1, len(depths) - 1)) for i, d in enumerate(depths)}
        for k in range(max(r["n"] for r in sel)):  # one line per seed across the depths: the pairing
            ys = [r["values"][k] if k < len(r["values"]) else math.nan for r in sel]
            ax_row[0].plot(
                depths, ys, "o-", color="grey", alpha=0.5, lw=1, label="one seed" if k == 0 else None
            )
        ax_row[0].plot(depths, [r["mean"] for r in sel], "s-", color="black", lw=2, label="mean")
        ax_row[0].set_title(f"{name}: {sel[0]['metric']} per seed", fontsize=10)
        ax_row[0].set_xticks(depths)
        ax_row[0].legend(fontsize=8)
        for r in sel:
            for k, curve in enumerate(r["curves"]):
                label = f"depth {r['depth']}" if k == 0 else None
                ax_row[1].plot(
                    range(1, len(curve) + 1), curve, color=colour[r["depth"]], alpha=0.7, label=label
                )
        ax_row[1].set_title(f"{name}: val mIoU per epoch (every run)", fontsize=10)
        ax_row[1].set_xlabel("epoch")
        ax_row[1].legend(fontsize=8)
        for r in sel:
            low, high = r["ci_low"], r["ci_high"]
            err = [[r["diff"] - low], [high - r["diff"]]] if not math.isnan(low) else None
            ax_row[2].errorbar(
                [r["depth"]], [r["diff"]], yerr=err, fmt="o", capsize=5, color=colour[r["depth"]]
            )
        ax_row[2].axhline(0, color="black", lw=0.8)
        ax_row[2].set_title(f"{name}: difference to the best depth, paired (95 % CI)", fontsize=10)
        ax_row[2].set_xticks(depths)
        for ax in ax_row:
            ax.grid(alpha=0.3)
        ax_row[0].set_xlabel("depth (levels)")
        ax_row[2].set_xlabel("depth (levels)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def report(
    sweeps: dict[str, Path], out_dir: Path, command: str, repeats: int, partial: bool = False
) -> list[dict]:
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, readings = [], []
    for name, sweep_dir in sweeps.items():
        jobs = common.jobs_of(sweep_dir, partial)
        data_rows = measure(name, jobs, repeats)
        readings.append(reading(name, data_rows))
        rows += data_rows
        common.copy_summary(sweep_dir, out_dir, name)
    (out_dir / "results.md").write_text(table(rows))
    keys = ["data", "depth", "n", "seeds", "metric", "mean", "diff", "ci_low", "ci_high", "last_gain"]
    keys += ["params", "step_ms", "runtime_s"]
    common.write_csv(
        out_dir / "results.csv",
        [*keys, "values", "epochs"],
        [
            [r[k] for k in keys]
            + [" ".join(f"{v:.4f}" for v in r["values"]), " ".join(map(str, r["epochs"]))]
            for r in rows
        ],
    )
    plot(rows, out_dir / "decoder_depth.png")
    batch = rows[0]["batch"] if rows else "?"
    results = (
        "".join(f"- **{name}**: {DATASETS[name][2]}.\n" for name in sweeps)
        + f"\nEvery depth trained with the same seeds; `Δ to best`: the mean over seeds of (this depth − the best "
        "depth) with the same seed, and its 95 % t interval. `epochs run; best epoch`: mean (min–max) over the "
        f"seeds. `gain in last {LAST} epochs`: how much the run's best val mIoU rose over its last {LAST} "
        f"epochs (the largest over the seeds) — near 0 means the run had plateaued. `step ms`: median of "
        f"{repeats} training steps (batch {batch}, forward + CE+Dice + backward + AdamW) measured after the "
        "sweeps, one thread; `run s`: a job's wall time in its sweep (2 jobs shared 2 cores; mean over the "
        "seeds).\n\n"
        + table(rows)
        + "\n"
        + "\n".join(readings)
        + "\n![decoder depth](decoder_depth.png)\n\n"
        + "Every run: `<data>_summary.md` / `.csv` (per-class IoU, val and test).\n\n"
        + common.footer(common.wall_seconds(*sweeps.values()), command)
    )
    common.rewrite_readme(out_dir, HERE / "README.md", results)
    return rows


def run(
    out_dir: Path = HERE,
    quick: bool = False,
    sweep_dir: Path | None = None,
    existing: bool = False,
    partial: bool = False,
    data: tuple[str, ...] = ("synthetic", "real"),
):
    """Run one sweep per data set (unless `existing`) under `sweep_dir` and write the outputs into `out_dir`."""
    out_dir = Path(out_dir)
    root = common.sweep_root("decoder_depth", quick, sweep_dir)
    if quick:
        data = ("synthetic",)
    if existing:
        data = tuple(name for name in DATASETS if (root / name).is_dir())
    elif "real" in data and not (REAL_ROOT / "classes.txt").is_file():
        sys.exit(
            f"Data error: {REAL_ROOT} not found: prepare the real images once with "
            "`python -m benchmarks._real_data --fetch && python -m benchmarks._real_data`, or run --data synthetic"
        )
    sweeps = {name: root / name for name in data}
    if not existing:
        for name, sweep in sweeps.items():
            parallel = [] if quick else ["launcher=joblib"]  # two jobs at once on two cores
            common.launch(
                "train.py",
                ["experiment=decoder_depth", *DATASETS[name][0], *parallel, *(QUICK if quick else [])],
                sweep,
            )
    command = COMMAND + (" --quick" if quick else "")
    result = report(sweeps, out_dir, command, repeats=2 if quick else 15, partial=partial)
    if out_dir.resolve() == HERE:  # the study's own folder: refresh the top-level README's table too
        top_readme.update()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="depths 2-3, 2 seeds, 2 batches on tiny data (smoke test)"
    )
    parser.add_argument(
        "--data", choices=["synthetic", "real", "all"], default="all", help="which data set(s)"
    )
    parser.add_argument("--out", type=Path, default=None, help="where tables/plots/README go (default: here)")
    parser.add_argument("--from", dest="existing", type=Path, default=None, help="re-report finished sweeps")
    parser.add_argument("--partial", action="store_true", help="with --from: report the finished jobs only")
    args = parser.parse_args()
    out = args.out or (common.ROOT / "logs" / "experiments" / "decoder_depth_quick" if args.quick else HERE)
    data = ("synthetic", "real") if args.data == "all" else (args.data,)
    run(out, args.quick, args.existing, existing=args.existing is not None, partial=args.partial, data=data)


if __name__ == "__main__":
    main()

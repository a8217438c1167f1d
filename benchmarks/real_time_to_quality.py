"""Time to quality on real images (benchmarks/_real_data.py), ours vs the peer a user would pick instead.
(One file over 300 lines: the runs, the level-at-budget table and the plot of one benchmark; the peers and the clock live in _peers.py.)

Every side trains alone, with one torch thread and one loader worker, at its own sensible settings, and is
stopped once its training clock (validation excluded) passes 4× the budget; the metric after each epoch is
recorded against that clock, and the table gives the level each side holds at 1×, 2× and 4× the budget.
- segmentation (fashion_seg, 128 px, 11 classes): `model=unet` vs segmentation-models-pytorch `Unet`
  (resnet18, random init) in a plain loop (AdamW 1e-3, CE + Dice) on the same loader; val/miou.
- verification (fashion_ids: 5 classes as identities, 5 held-out classes for the LFW-protocol pairs):
  `model=siamese` vs the same network in a plain pytorch-metric-learning loop (TripletMarginLoss +
  MultiSimilarityMiner, Adam 1e-3); val/auroc, the LFW protocol's 10-fold accuracy val/lfw_acc and val/acc (at the best threshold).
- detection (fashion_det, 256 px, 10 classes): `model=yolo` and `model=yolo11` vs ultralytics' own trainer
  (YOLO11n from `yolo11n.yaml`, no weights, `imgsz` = the images' 256 px, its `time=` budget mode, which
  fits its schedule to the time); val/map50 (ultralytics: its validator's mAP50).
Ours run their default configs (schedule, augmentation, EMA) with the data's settings; a run that ends
before 4× the budget keeps its last level. The plain-loop peers train at a constant learning rate.

    python -m benchmarks._real_data --fetch && python -m benchmarks._real_data   # once
    python -m benchmarks.real_time_to_quality [--budget 40] [--quick]

writes benchmarks/results/real_time_to_quality.{md,json,png}. Run it alone on the machine.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import lightning.pytorch as pl
import torch

from benchmarks._common import ROOT, build_data_and_model, compose, machine, parse_args, quiet, write_result
from benchmarks._peers import ClockCurve, plain_curve, pml_triplet, smp_unet, ultralytics_curve

MULTIPLES = (1, 2, 4)
DEFAULT_BUDGET = 40.0
TASKS = {  # task: (dataset folder, metric, Hydra overrides of the data shared by both sides)
    "segmentation": (
        "fashion_seg",
        "val/miou",
        ["model=unet", "data=mask_folder", "data.num_classes=11", "data.image_size=128"],
    ),
    "verification": (
        "fashion_ids",
        "val/auroc",
        [
            "model=siamese",
            "data=identity_folder",
            "data.image_size=32",
            "data.identities_per_batch=5",
            "data.images_per_identity=12",
        ],
    ),
    "detection": ("fashion_det", "val/map50", ["data=yolo", "data.num_classes=10", "data.image_size=256"]),
}
# (task, side, label): the runs, in order
RUNS = [
    ("segmentation", "ours", "ours: model=unet"),
    ("segmentation", "smp", "smp Unet (resnet18), plain loop"),
    ("verification", "ours", "ours: model=siamese"),
    ("verification", "pml", "same net, PML triplet loss + miner, plain loop"),
    ("detection", "ours", "ours: model=yolo"),
    ("detection", "ours_yolo11", "ours: model=yolo11"),
    ("detection", "ultralytics", "ultralytics YOLO11n (yolo11n.yaml), its trainer"),
]
# per run on an idle 2-core machine (estimates, for the printed total): validation / training, start-up s
VALIDATION_SHARE, STARTUP_S = 0.15, 30


def estimate_seconds(budget: float, runs: int = len(RUNS)) -> float:
    return runs * (MULTIPLES[-1] * budget * (1 + VALIDATION_SHARE) + STARTUP_S)


def data_overrides(task: str, data_root: Path, quick: bool) -> list[str]:
    folder, _, over = TASKS[task]
    return [*over, f"data.root={data_root / folder}", "data.num_workers=1"]


def metrics_of(task: str) -> list[str]:
    return ["val/auroc", "val/lfw_acc", "val/acc"] if task == "verification" else [TASKS[task][1]]


def run_ours(task: str, model: str | None, data_root: Path, limit: float, tmp: Path, quick: bool) -> list:
    import hydra

    from src.runtime.config.instantiate import build_all

    over = data_overrides(task, data_root, quick) + [
        "callbacks.early_stopping=null",
        "callbacks.rich_progress_bar=null",
        "test=false",
        "++trainer.enable_model_summary=false",
    ]
    if model:
        over.append(f"model={model}")
    if quick:
        over += ["trainer.max_epochs=1", "+trainer.limit_train_batches=3", "+trainer.limit_val_batches=2"]
    cfg = compose(over, tmp / f"ours_{task}_{model}", progress=False)
    dm, module = build_data_and_model(cfg)
    curve: list = []
    callbacks = [*build_all(cfg.callbacks, "callbacks"), ClockCurve(metrics_of(task), curve, limit)]
    trainer = hydra.utils.instantiate(
        cfg.trainer, callbacks=callbacks, logger=build_all(cfg.logger, "logger")
    )
    trainer.fit(module, datamodule=dm)
    return curve


def run_peer(task: str, side: str, data_root: Path, limit: float, tmp: Path, quick: bool) -> list:
    """A plain-loop peer (smp | pml) on the same DataModule as ours, evaluated every 1/16 of the limit."""
    cfg = compose(data_overrides(task, data_root, quick), tmp / side, progress=False)
    dm, module = build_data_and_model(cfg)
    dm.setup("fit")
    few = 3 if quick else None
    peer = smp_unet(dm, int(cfg.data.num_classes), few) if side == "smp" else pml_triplet(dm, module, few)
    return plain_curve(
        peer, dm, epochs=1 if quick else None, limit=limit, max_batches=few, eval_every=limit / 16
    )


def run_side(task: str, side: str, data_root: Path, limit: float, tmp: Path, quick: bool) -> list | str:
    if side == "ours":
        return run_ours(task, "yolo" if task == "detection" else None, data_root, limit, tmp, quick)
    if side == "ours_yolo11":
        return run_ours(task, "yolo11", data_root, limit, tmp, quick)
    if side == "ultralytics":
        return ultralytics_curve(
            data_root / "fashion_det" / "data.yaml",
            tmp,
            limit,
            imgsz=256,
            epochs=1 if quick else 100,  # its default; `time` fits the epochs (and its schedule) to the time
            time=limit * (1 + VALIDATION_SHARE) / 3600,  # its clock counts validation too
            batch=16,
            workers=1,  # ultralytics uses 0 on the CPU whatever is asked: its own loader in the training process
            fraction=0.05 if quick else 1.0,
        )
    return run_peer(task, side, data_root, limit, tmp, quick)


def level_at(curve: list | str, metric: str, seconds: float):
    """The metric of the last validation at or before `seconds` of training (None before the first)."""
    if isinstance(curve, str):
        return None
    # 2 % slack: a run stops at the first step past the limit, and its last validation belongs to it
    values = [p[metric] for p in curve if p["t"] <= seconds * 1.02 and metric in p]
    return values[-1] if values else None


def main() -> None:
    args = parse_args(
        __doc__,
        lambda p: (
            p.add_argument(
                "--budget",
                type=float,
                default=DEFAULT_BUDGET,
                help="seconds of training per side at 1× (default %(default)s)",
            ),
            p.add_argument(
                "--data",
                type=Path,
                default=ROOT / "data" / "real",
                help="prepared datasets (default: %(default)s)",
            ),
            p.add_argument(
                "--packages",
                type=Path,
                default=ROOT / "data" / "packages",
                help="package files to prepare --data from when it is missing (default: %(default)s)",
            ),
            p.add_argument(
                "--tasks",
                default=",".join(TASKS),
                help="comma-separated tasks to run (default: %(default)s)",
            ),
            p.add_argument(
                "--render", action="store_true", help="only re-tabulate results/real_time_to_quality.json"
            ),
        ),
    )
    quiet()
    if args.render:
        saved = json.loads((args.out / "real_time_to_quality.json").read_text())
        machine().update(saved["machine"])
        report(saved, args.out)
        return
    source = args.data / "source.json"
    if not source.is_file() or "fashion" not in json.loads(source.read_text()):
        if not args.packages.is_dir() or not any(args.packages.iterdir()):
            # `make bench` goes on: the package files are fetched only by an explicit command
            print(
                f"skipped: no prepared data in {args.data} and no package files in {args.packages}; run "
                "`python -m benchmarks._real_data --fetch && python -m benchmarks._real_data` once"
            )
            return
        from benchmarks._real_data import prepare

        prepare(args.packages, args.data, ["fashion"])
    budget = 1.0 if args.quick else args.budget
    limit = MULTIPLES[-1] * budget
    tasks = args.tasks.split(",")
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise SystemExit(f"error: --tasks: unknown {unknown}; choose from {list(TASKS)}")
    runs = [r for r in RUNS if r[0] in tasks]
    print(
        f"budget {budget:g} s: {len(runs)} runs to {limit:g} s of training each; expect about "
        f"{estimate_seconds(budget, len(runs)) / 60:.0f} min in all (idle machine)",
        flush=True,
    )
    started, curves, run_wall = time.time(), {}, {}
    with tempfile.TemporaryDirectory(prefix="bench_real_ttq_") as tmp:
        for task, side, _label in runs:
            pl.seed_everything(0, workers=True)
            t0 = time.time()
            curves[f"{task}/{side}"] = run_side(task, side, args.data, limit, Path(tmp), args.quick)
            torch.set_num_threads(args.threads)  # ultralytics and the detector set their own
            run_wall[f"{task}/{side}"] = round(time.time() - t0, 1)  # start-up and validation included
            print(f"{task} {side}: {time.time() - t0:.0f} s, {curves[f'{task}/{side}']}", flush=True)
    saved = {
        "budget_s": budget,
        "multiples": list(MULTIPLES),
        "wall_s": round(time.time() - started, 1),
        "run_wall_s": run_wall,
        "load_average_1min_end": round(os.getloadavg()[0], 2),
        "source": json.loads(source.read_text())["fashion"],
        "runs": [{"task": t, "side": s, "label": label} for t, s, label in runs],
        "curves": curves,
        "quick": args.quick,
    }
    report(saved, args.out)


def report(saved: dict, out: Path) -> None:
    budget, curves = saved["budget_s"], saved["curves"]
    rows, levels = [], {}
    for run in saved["runs"]:
        task, side, label = run["task"], run["side"], run["label"]
        curve = curves[f"{task}/{side}"]
        for metric in metrics_of(task):
            at = [level_at(curve, metric, k * budget) for k in saved["multiples"]]
            levels[f"{task}/{side}/{metric}"] = at
            last = curve[-1] if isinstance(curve, list) and curve else None
            rows.append(
                [
                    task,
                    label,
                    metric,
                    *at,
                    len(curve) if isinstance(curve, list) else curve,
                    last["t"] if last else None,
                    saved.get("run_wall_s", {}).get(f"{task}/{side}"),
                ]
            )
    src = saved["source"]
    headers = [
        "task",
        "side",
        "metric",
        *(f"at {k}× ({k * budget:g} s)" for k in saved["multiples"]),
        "validations",
        "train s",
        "run wall s",
    ]
    notes = (
        f"Data: real images from `{src['debian']['package']}` {src['debian']['version']} (Debian) and "
        f"`{src['pypi']['package']}` {src['pypi']['version']} (PyPI), prepared by `python -m benchmarks._real_data` "
        "(benchmarks/_real_data.py says how: verification = 5 Fashion-MNIST classes as training identities, "
        "5 held-out classes for 1,000 LFW-protocol pairs; detection and segmentation = real Fashion-MNIST objects, "
        "their masks and boxes from their own pixels, pasted on tiles of real photographs, disjoint photos and "
        "disjoint Fashion-MNIST parts between train and val). "
        f"Budget {budget:g} s of training (validation excluded) per side at 1×; every side trains alone with one torch "
        "thread and one loader worker (ultralytics: its own loader in the training process, as it uses on the CPU). "
        "Ours run their default config (schedule, augmentation, EMA) with the data's settings, their schedules "
        "not fitted to the budget (cut at 4×, or ended earlier by their configured epochs); the plain loops a "
        "constant learning rate; ultralytics its defaults with `time=` 4× the budget plus "
        f"{VALIDATION_SHARE:.0%} (its clock counts validation; `time` fits its schedule to the time), stopped like "
        "the others once its training clock passes 4× the budget. A level is the metric of the last validation at or before that time (– = no "
        f"validation yet). Whole run: {saved['wall_s'] / 60:.1f} min; load average at the end "
        f"{saved['load_average_1min_end']}."
    )
    write_result(
        "real_time_to_quality",
        "Time to quality on real images: ours vs the peer a user would pick (same data, same CPU budget)",
        [("Validation metric each side holds at 1×, 2× and 4× the training budget:", headers, rows)],
        {**{k: v for k, v in saved.items() if k != "quick"}, "levels": levels},
        out,
        notes,
        plot(saved),
        saved["quick"],
    )


def plot(saved: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = [t for t in TASKS if any(r["task"] == t for r in saved["runs"])]
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.7 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        metric = TASKS[task][1]
        for run in saved["runs"]:
            curve = saved["curves"][f"{run['task']}/{run['side']}"]
            if run["task"] == task and isinstance(curve, list) and curve:
                ax.plot(
                    [p["t"] for p in curve], [p.get(metric) for p in curve], "o-", ms=3, label=run["label"]
                )
        for k in saved["multiples"]:
            ax.axvline(k * saved["budget_s"], color="grey", lw=0.6, ls=":")
        ax.set(xlabel="training seconds", ylabel=metric, title=f"{task} ({TASKS[task][0]})")
        ax.legend(fontsize=7)
    return fig


if __name__ == "__main__":
    main()

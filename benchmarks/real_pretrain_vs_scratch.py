"""From scratch vs from self-pretrained weights at an equal training budget, on real images
(benchmarks/_real_data.py: both its sets, Fashion-MNIST and UCI digits, one table each), for the detector
backbone, the U-Net encoder and the verifier encoder; and the start-up cost of loading cached weights by name.

For each task the encoder is first pretrained with `experiment=pretrain` (NT-Xent on two views) on that
task's own training images, labels unused, for `--pretrain` seconds; then the model trains with
`trainer.max_time`:
- scratch: `--budget` seconds from random init;
- pretrained: `--budget` seconds from the pretraining run (`weights: <run>`); the pretraining time is
  reported beside it;
- pretrained, pretraining counted: `--budget` − `--pretrain` seconds from the same run, so the two sides
  spend the same `max_time` seconds in all (the pretraining's wall time, start-up included, is reported).
The metric is the task's monitored validation metric of the best checkpoint (metrics.json). Encoders:
detector `small_cnn` backbone (`model=yolo`), verifier `small_cnn` (`model=siamese`), U-Net: smp `Unet`
with the timm encoder `tu-<--timm>` (our own U-Net has no separate encoder to pretrain).

Start-up: building `model=siamese model/encoder=timm` with `weights=pretrained` read from a Hugging Face
cache (written by this script into a temporary HF_HOME: a random resnet18 in the real layout, offline)
vs `weights=null`, interleaved repeats, median seconds.

    python -m benchmarks._real_data --fetch && python -m benchmarks._real_data   # once
    python -m benchmarks.real_pretrain_vs_scratch [--set fashion|digits|all] [--budget 120] [--pretrain 60] [--quick]

writes benchmarks/results/real_pretrain_vs_scratch.{md,json}. Run it alone on the machine.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from benchmarks._common import ROOT, compose, interleaved, median, parse_args, quiet, write_result
from benchmarks._real_data import SETS

TASKS = {  # task: (dataset layout (folder <set>_<layout>), its unlabeled training images, metric, model
    # overrides, data overrides); both sets have 10 classes
    "detection": (
        "det",
        "images/train",
        "val/map50",
        ["model=yolo"],
        ["data=yolo", "data.num_classes=10", "data.image_size=256"],
    ),
    "segmentation": (
        "seg",
        "train/images",
        "val/miou",
        ["model=unet", "model/net=smp", "model.net.depth=4"],
        ["data=mask_folder", "data.num_classes=11", "data.image_size=128"],
    ),
    "verification": (
        "ids",
        "train",
        "val/auroc",
        ["model=siamese"],
        [
            "data=identity_folder",
            "data.image_size=32",
            "data.identities_per_batch=5",
            "data.images_per_identity=12",
        ],
    ),
}
COMMON = [
    "callbacks.early_stopping=null",
    "callbacks.rich_progress_bar=null",
    "++trainer.enable_model_summary=false",
    "data.num_workers=1",
    "seed=0",
]


def encoder_overrides(task: str, timm_name: str) -> tuple[list[str], list[str], str]:
    """(pretraining overrides, overrides of the model to fine-tune, its weights key) of `task`."""
    if task == "segmentation":
        return (
            ["model/encoder=timm", f"model.encoder.name={timm_name}"],
            [f"model.net.encoder_name=tu-{timm_name}"],
            "model.net.encoder_weights",
        )
    key = "model.head.backbone.weights" if task == "detection" else "model.encoder.weights"
    return [], [], key


def max_time(seconds: float) -> str:
    seconds = max(1, int(round(seconds)))
    return f"+trainer.max_time=00:{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def train(overrides: list[str], out: Path) -> tuple[dict, float]:
    """One training run in-process (as train.py runs it); (metrics.json, wall seconds)."""
    from src.pipeline import train as run

    cfg = compose([*COMMON, *overrides, "test=false"], out, progress=False)
    t0 = time.perf_counter()
    run(cfg)
    return json.loads((out / "metrics.json").read_text()), time.perf_counter() - t0


def run_task(task: str, args, root: Path, tmp: Path) -> dict:
    """The task on the set prepared in `root` (its `<set>_<layout>` folder); runs under `tmp`."""
    _, images, metric, model, data_over = TASKS[task]
    pre_over, model_over, key = encoder_overrides(task, args.timm)
    quick = ["+trainer.limit_train_batches=3", "+trainer.limit_val_batches=2"] if args.quick else []
    pre_data = [f"data.root={root / images}", f"data.image_size={data_over[-1].split('=')[-1]}"]
    if task == "verification":
        pre_data[-1] = "data.image_size=32"
    pre_metrics, pre_wall = train(
        ["experiment=pretrain", *pre_over, *pre_data, max_time(args.pretrain), *quick], tmp / f"{task}_pre"
    )
    fine = [*model, *model_over, *data_over, f"data.root={root}", *quick]
    result = {
        "metric": metric,
        "pretrain_s": round(pre_wall, 1),
        "pretrain_pair_acc": pre_metrics.get("val/pair_acc"),
    }
    sides = {
        "scratch": ([max_time(args.budget)], args.budget),
        "pretrained": ([max_time(args.budget), f"{key}={tmp / f'{task}_pre'}"], args.budget),
        "pretrained_counted": (
            [max_time(max(1.0, args.budget - args.pretrain)), f"{key}={tmp / f'{task}_pre'}"],
            max(1.0, args.budget - args.pretrain),
        ),
    }
    for side, (extra, seconds) in sides.items():
        metrics, wall = train([*fine, *extra], tmp / f"{task}_{side}")
        result[side] = {
            "value": metrics.get(metric),
            "train_budget_s": round(seconds, 1),
            "wall_s": round(wall, 1),
        }
        print(f"{root.name} {task} {side}: {metric}={metrics.get(metric)} ({wall:.0f} s)", flush=True)
    return result


def startup(repeats: int) -> dict:
    """Median seconds to build model=siamese with a timm resnet18 encoder: cached weights by name vs none."""
    import timm
    from huggingface_hub import constants
    from safetensors.torch import save_file

    from src.runtime.config.instantiate import build

    with tempfile.TemporaryDirectory(prefix="bench_hf_") as home:
        hub = Path(home) / "hub"
        repo = hub / "models--timm--resnet18.a1_in1k"
        snapshot = repo / "snapshots" / ("0" * 40)
        snapshot.mkdir(parents=True)
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text("0" * 40)
        state = timm.create_model("resnet18", pretrained=False).state_dict()
        save_file({k: v.contiguous() for k, v in state.items()}, snapshot / "model.safetensors")
        before = constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE
        constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE = str(hub), True
        try:
            base = ["model=siamese", "model/encoder=timm", "model.encoder.name=resnet18"]
            cfgs = {
                "none": compose([*base, "model.encoder.weights=null"], Path(home) / "a", progress=False),
                "cached by name": compose(
                    [*base, "model.encoder.weights=pretrained"], Path(home) / "b", progress=False
                ),
            }
            times = interleaved({n: (lambda c=c: build(c.model, "model")) for n, c in cfgs.items()}, repeats)
        finally:
            constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE = before
    return {name: median(values) for name, values in times.items()}


def main() -> None:
    args = parse_args(
        __doc__,
        lambda p: (
            p.add_argument(
                "--budget", type=float, default=120.0, help="training seconds per side (%(default)s)"
            ),
            p.add_argument("--pretrain", type=float, default=60.0, help="pretraining seconds (%(default)s)"),
            p.add_argument("--timm", default="resnet10t", help="timm encoder of the U-Net (%(default)s)"),
            p.add_argument(
                "--data", type=Path, default=ROOT / "data" / "real", help="prepared data (%(default)s)"
            ),
            p.add_argument("--set", choices=[*SETS, "all"], default="all", help="real set (%(default)s)"),
            p.add_argument("--tasks", default=",".join(TASKS), help="comma-separated (%(default)s)"),
            p.add_argument("--repeats", type=int, default=7, help="start-up timing repeats (%(default)s)"),
        ),
    )
    quiet()
    if args.quick:
        args.budget, args.pretrain, args.repeats = 6.0, 3.0, 2
    tasks = args.tasks.split(",")
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise SystemExit(f"error: --tasks: unknown {unknown}; choose from {list(TASKS)}")
    path = args.data / "source.json"
    prepared = json.loads(path.read_text()) if path.is_file() else {}
    sets = [s for s in (SETS if args.set == "all" else [args.set]) if s in prepared]
    if not sets:  # `make bench-real` goes on: the package files are fetched only explicitly
        print(
            f"skipped: no prepared data for --set {args.set} in {args.data}; run "
            "`python -m benchmarks._real_data --fetch && python -m benchmarks._real_data` once"
        )
        return
    if args.set == "all" and len(sets) < len(SETS):
        print(f"only {', '.join(sets)} prepared in {args.data}: the other sets are left out", flush=True)
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench_pretrain_") as tmp:
        for name in sets:
            results[name] = {}
            for task in tasks:
                folder = args.data / f"{name}_{TASKS[task][0]}"
                results[name][task] = run_task(task, args, folder, Path(tmp) / name)
    start = startup(args.repeats)
    headers = [
        "task",
        "metric",
        f"scratch ({args.budget:g} s)",
        f"pretrained ({args.budget:g} s + pretraining)",
        "pretraining s (wall)",
        "pretrained, pretraining counted",
        "its fine-tuning s",
    ]
    tables = [
        (
            f"Validation metric at an equal training budget, `{name}`: {prepared[name]['description']}:",
            headers,
            [
                [
                    task,
                    r["metric"],
                    r["scratch"]["value"],
                    r["pretrained"]["value"],
                    f"{args.pretrain:g} ({r['pretrain_s']:.0f} wall)",
                    r["pretrained_counted"]["value"],
                    r["pretrained_counted"]["train_budget_s"],
                ]
                for task, r in results[name].items()
            ],
        )
        for name in sets
    ]
    tables.append(
        (
            "Start-up: seconds to build model=siamese (timm resnet18) — median:",
            ["weights", "seconds"],
            [[name, seconds] for name, seconds in start.items()],
        )
    )
    notes = (
        "Data: `python -m benchmarks._real_data` (benchmarks/_real_data.py says how): "
        + "; ".join(f"`{name}` from {packages(prepared[name])}" for name in sets)
        + ". Detection and segmentation scenes are the set's real objects pasted on tiles of real photographs "
        "(disjoint between train and val), verification its 10 classes as identities (5 train, 5 held out). "
        f"Pretraining: `experiment=pretrain` on each task's own training images (labels unused) for "
        f"{args.pretrain:g} s of `trainer.max_time` (its wall time, start-up and validation included, beside it). "
        "Every run is one process's in-process `train` with `trainer.max_time`, one torch thread, one loader "
        "worker; the metric is the best checkpoint's validation value. The counted column fine-tunes for the "
        "budget minus the pretraining's max_time, so both sides spend the same max_time seconds. "
        "Where pretraining does not help: more unlabeled images, longer pretraining, or weights by name "
        "(docs/weights.md) are what would."
    )
    write_result(
        "real_pretrain_vs_scratch",
        "From scratch vs self-pretrained at an equal budget, and start-up with cached weights by name",
        tables,
        {
            "budget_s": args.budget,
            "pretrain_s": args.pretrain,
            "timm": args.timm,
            "results": results,
            "startup_s": start,
            "source": {name: prepared[name] for name in sets},
        },
        args.out,
        notes,
        quick=args.quick,
    )


def packages(entry: dict) -> str:
    """`name` version (registry) of each package file a set was prepared from (its source.json entry)."""
    return " and ".join(
        f"`{entry[registry]['package']}` {entry[registry]['version']} ({label})"
        for registry, label in (("debian", "Debian"), ("pypi", "PyPI"))
        if registry in entry
    )


if __name__ == "__main__":
    main()

"""Study 5: does self-supervised pretraining on your own unlabeled images help? Each task's network fine-tuned
from scratch vs from a pretraining run on the same training images (labels unused), with all labels and with
1/8 of them, seeds pairing the two starts, every run trained to its plateau.

Per task (detection, segmentation, verification — all on the real-image set, `benchmarks/_real_data.py`):
1. `python train.py -m experiment=pretrain seed=1,2,3` on the task's training images (NT-Xent on two views;
   one pretraining run per seed, in `<task>/pretrain/seed<N>`);
2. per label share, `python train.py -m experiment=pretraining <task's model and data> seed=1,2,3
   <weights key>=null,<task>/pretrain/seed${seed}`: scratch and pretrained with the same seed (same data
   order, same head initialisation draw) — paired.
With 1/8 of the labels (a fixed random subset of the training images, views.py) an epoch is 8× shorter: those
runs validate every `SMALL_EVERY` epochs and their epoch limits are that many times larger, so early
stopping's patience counts the same number of validations. Each table row compares the two starts paired by
seed: the mean difference (pretrained − scratch) with its 95 % t interval. Writes `results.md` /
`results.csv`, `pretraining.png`, each sweep's `<task>_<labels>_summary.*` and the README's results block.

    python -m experiments.pretraining.run                  # ~60 min on a quiet 2-core CPU
    python -m experiments.pretraining.run --tasks verification
    python -m experiments.pretraining.run --quick --data <a set in the three layouts>   # smoke test
    python -m experiments.pretraining.run --from logs/experiments/pretraining/<time>   # re-report

The real data: `python -m benchmarks._real_data --fetch && python -m benchmarks._real_data` (once).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path

from omegaconf import OmegaConf

from experiments import common, top_readme
from experiments.pretraining.views import VIEWS

HERE = Path(__file__).resolve().parent
COMMAND = "python -m experiments.pretraining.run"
REAL = common.ROOT / "data" / "real"
SET = "fashion"
SMALL = 0.125  # the share of labelled training images in the few-labels rows
SMALL_EVERY = 4  # ... whose runs validate every this many (8× shorter) epochs
LABEL_GAP = 0.01  # from scratch, 1/8 of the labels within this of all of them: labels do not limit the task
LABELS = {"all": 1.0, "1/8": SMALL}
BINARY = "{" + ",".join(f"{c}:1" for c in range(1, 11)) + "}"
TASKS = {  # task: folder of the set, the views' unlabeled training images, metric, weights key, fine-tuning
    # overrides, pretraining overrides (the same encoder at the same image size)
    "verification": {
        "layout": "ids",
        "images": "train",
        "metric": "val/auroc",
        "weights": "model.encoder.weights",
        "fine": [
            "model=siamese",
            "data=identity_folder",
            "data.image_size=32",
            "data.identities_per_batch=5",
            "data.images_per_identity=12",
        ],
        "pre": ["data.image_size=32", "trainer.max_epochs=10"],
        "what": "Siamese small_cnn encoder (`model=siamese`, triplet loss) on 32² images, 5 training "
        "identities (product classes), AUROC on 1,000 pairs of 5 held-out identities",
    },
    "segmentation": {
        "layout": "seg",
        "images": "train/images",
        "metric": "val/miou",
        "weights": "model.net.encoder_weights",
        "fine": [
            "model=unet",
            "model/net=smp",
            "model.net.encoder_name=tu-resnet10t",
            "data=mask_folder",
            "data.image_size=64",
            "data.reader.classes=[background,object]",
            f"data.reader.value_map={BINARY}",
        ],
        "pre": [
            "model/encoder=timm",
            "model.encoder.name=resnet10t",
            "data.image_size=64",
            "trainer.max_epochs=30",
        ],
        "what": "smp Unet with timm's resnet10t encoder (`tu-resnet10t`; our U-Net has no separate encoder to "
        "pretrain) on 64² images, object vs background",
    },
    "detection": {
        "layout": "det",
        "images": "images/train",
        "metric": "val/map50",
        "weights": "model.head.backbone.weights",
        "fine": ["model=yolo", "data=yolo", "data.image_size=128"],
        "pre": ["data.image_size=128", "trainer.max_epochs=20"],
        "what": "one-class detector (`model=yolo`, small_cnn backbone) on 128² letterboxed scenes, "
        "every product class mapped to `object`",
    },
}
PRETRAIN = ["experiment=pretrain", "data.num_workers=0", "model.plot_every_n_epochs=null"]
SEEDS = "seed=1,2,3"
QUICK_SEEDS = "seed=1,2"
QUICK = ["+trainer.limit_train_batches=2", "+trainer.limit_val_batches=2"]
QUICK_PRETRAIN = ["trainer.max_epochs=1"]


def ceiling() -> int:
    """The full-label runs' epoch ceiling (= validations), from conf/experiment/pretraining.yaml."""
    return int(OmegaConf.load(common.ROOT / "conf" / "experiment" / "pretraining.yaml").trainer.max_epochs)


def label_overrides(share: float, quick: bool) -> list[str]:
    """The epoch ceiling (the experiment's; 2 in quick mode); the few-labels runs validate every SMALL_EVERY
    epochs, with their epoch limits that many times larger."""
    epochs = 2 if quick else ceiling()
    if share == 1.0:
        return [f"trainer.max_epochs={epochs}"] if quick else []
    return [
        f"trainer.check_val_every_n_epoch={SMALL_EVERY}",
        f"trainer.min_epochs={SMALL_EVERY}",
        f"trainer.max_epochs={epochs * SMALL_EVERY}",
    ]


def prepare(
    data: Path, root: Path, tasks: list[str], labels: dict[str, float]
) -> dict[tuple[str, str], Path]:
    """The views of every task and label share, written once under `root/views`."""
    views = {}
    for task in tasks:
        for name, share in {"all": 1.0, **labels}.items():  # pretraining reads the whole view
            out = root / "views" / f"{task}_{name.replace('/', '-')}"
            views[task, name] = VIEWS[task](data / f"{SET}_{TASKS[task]['layout']}", out, share)
    return views


def launch(root: Path, tasks: list[str], labels: dict[str, float], views: dict, quick: bool) -> None:
    parallel = [] if quick else ["launcher=joblib"]  # two jobs at once on two cores
    shrink = QUICK if quick else []
    seeds = QUICK_SEEDS if quick else SEEDS
    for task in tasks:
        spec = TASKS[task]
        pre = root / task / "pretrain"
        common.launch(
            "train.py",
            [
                *PRETRAIN,
                *(
                    [o for o in spec["pre"] if not o.startswith("trainer.max_epochs=")] + QUICK_PRETRAIN
                    if quick
                    else spec["pre"]
                ),
                f"data.root={views[task, 'all'] / spec['images']}",
                seeds,
                "hydra.sweep.subdir=seed${seed}",
                *parallel,
                *shrink,
            ],
            pre,
        )
        for name, share in labels.items():
            common.launch(
                "train.py",
                [
                    "experiment=pretraining",
                    *spec["fine"],
                    f"data.root={views[task, name]}",
                    seeds,
                    f"{spec['weights']}=null,{pre}/seed${{seed}}",
                    *parallel,
                    *shrink,
                    *label_overrides(share, quick),
                ],
                root / task / name.replace("/", "-"),
            )


def started_from(cfg, key: str) -> str:
    value = OmegaConf.select(cfg, key)
    return "scratch" if value in (None, "null") else "pretrained"


def curve_of(job, metric: str) -> list[float]:
    from src.tools.compare import read_history

    return [value for _, _, _, value in read_history(job.path, job.name).rows.get(metric, [])]


def measure(root: Path, tasks: list[str], labels: dict[str, float], partial: bool) -> list[dict]:
    """One row per task and label share: both starts' metric per seed, their paired difference, the
    validations each run took to its best, the pretraining's cost."""
    rows = []
    for task in tasks:
        spec = TASKS[task]
        pre_jobs = common.jobs_of(root / task / "pretrain", partial)
        pre_s = [j.runtime_s for j in pre_jobs if j.runtime_s is not None]
        pre_acc = [j.metrics.get("val/pair_acc") for j in pre_jobs]
        for name in labels:
            sweep = root / task / name.replace("/", "-")
            values: dict[str, dict[int, float]] = {"scratch": {}, "pretrained": {}}
            checks: dict[str, list[int]] = {"scratch": [], "pretrained": []}
            runtimes: dict[str, list[float]] = {"scratch": [], "pretrained": []}
            curves: dict[str, list[list[float]]] = {"scratch": [], "pretrained": []}
            for job in common.jobs_of(sweep, partial):
                cfg = OmegaConf.load(job.path / ".hydra" / "config.yaml")
                side = started_from(cfg, spec["weights"])
                values[side][int(cfg["seed"])] = job.metrics[spec["metric"]]
                curve = curve_of(job, spec["metric"])
                curves[side].append(curve)
                if curve:
                    checks[side].append(1 + max(range(len(curve)), key=curve.__getitem__))
                if job.runtime_s is not None:
                    runtimes[side].append(job.runtime_s)
            diff = common.paired_difference(values["pretrained"], values["scratch"])
            rows.append(
                {
                    "task": task,
                    "labels": name,
                    "metric": spec["metric"],
                    "scratch": [values["scratch"][s] for s in sorted(values["scratch"])],
                    "pretrained": [values["pretrained"][s] for s in sorted(values["pretrained"])],
                    "diff": diff[0],
                    "ci_low": diff[1],
                    "ci_high": diff[2],
                    "n": diff[3],
                    "best_check": checks,
                    "run_s": {k: statistics.fmean(v) if v else math.nan for k, v in runtimes.items()},
                    "curves": curves,
                    "pretrain_s": statistics.fmean(pre_s) if pre_s else math.nan,
                    "pretrain_pair_acc": statistics.fmean(a for a in pre_acc if a is not None)
                    if any(a is not None for a in pre_acc)
                    else math.nan,
                }
            )
    return rows


def interval(row: dict) -> str:
    if math.isnan(row["ci_low"]):
        return f"{row['diff']:+.3f}"
    return f"{row['diff']:+.3f} [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]"


def verdict(row: dict) -> str:
    if math.isnan(row["ci_low"]):
        return "–"
    if row["ci_low"] > 0:
        return "pretraining helps"
    if row["ci_high"] < 0:
        return "pretraining hurts"
    return "not resolved"


def mean_of(values: list) -> str:
    return f"{statistics.fmean(values):.1f}" if values else ""


def table(rows: list[dict]) -> str:
    header = [
        "task",
        "labels",
        "metric",
        "scratch",
        "pretrained",
        "Δ pretrained − scratch, paired [95 % CI]",
        "reading",
        "validations to best (scratch / pretrained)",
        "run s (scratch / pretrained)",
        "pretraining s",
    ]
    body = [
        [
            r["task"],
            r["labels"],
            r["metric"],
            common.pm(r["scratch"]),
            common.pm(r["pretrained"]),
            interval(r),
            verdict(r),
            f"{mean_of(r['best_check']['scratch'])} / {mean_of(r['best_check']['pretrained'])}",
            f"{r['run_s']['scratch']:.0f} / {r['run_s']['pretrained']:.0f}",
            f"{r['pretrain_s']:.0f}",
        ]
        for r in rows
    ]
    return common.markdown_table(header, body)


def reading(rows: list[dict]) -> str:
    """What the numbers say, generated from them: per task, where pretraining helps, hurts or is not resolved,
    whether the answer changes with the number of labels, and what it costs."""
    lines = []
    for task in dict.fromkeys(r["task"] for r in rows):
        sel = [r for r in rows if r["task"] == task]
        parts = [f"with {r['labels']} labels {verdict(r)} ({interval(r)} {r['metric']})" for r in sel]
        line = f"- **{task}**: " + "; ".join(parts) + "."
        verdicts = {r["labels"]: verdict(r) for r in sel}
        if verdicts.get("1/8") == "pretraining helps" and verdicts.get("all") != "pretraining helps":
            line += " The gain is a few-labels gain: with every label the scratch run catches up."
        elif len(set(verdicts.values())) == 1 and "not resolved" in verdicts.values():
            bound = max(max(abs(r["ci_low"]), abs(r["ci_high"])) for r in sel)
            line += (
                f" At {sel[0]['n']} paired seeds no difference is resolved; the intervals rule out effects "
                f"larger than {bound:.3f} either way."
            )
        by_labels = {r["labels"]: statistics.fmean(r["scratch"]) for r in sel if r["scratch"]}
        if {"all", "1/8"} <= set(by_labels):
            few, every = by_labels["1/8"], by_labels["all"]
            line += (
                f" From scratch, 1/8 of the labels reaches {few:.3f} against {every:.3f} with all of them"
                + (
                    ": the labelled images are not what limits this task here, so there is little for "
                    "pretraining to make up."
                    if few >= every - LABEL_GAP
                    else f": labels matter here (a gap of {every - few:.3f})."
                )
            )
        faster = [
            r
            for r in sel
            if r["best_check"]["pretrained"]
            and r["best_check"]["scratch"]
            and statistics.fmean(r["best_check"]["pretrained"]) < statistics.fmean(r["best_check"]["scratch"])
        ]
        if faster:
            line += (
                " Pretrained runs reached their best in fewer validations ("
                + ", ".join(
                    f"{r['labels']} labels: {mean_of(r['best_check']['pretrained'])} vs "
                    f"{mean_of(r['best_check']['scratch'])}"
                    for r in faster
                )
                + ")."
            )
        limit = ceiling()
        runs = [c for r in sel for side in r["curves"].values() for c in side]
        capped = [c for c in runs if len(c) >= limit]
        if capped:
            late = sum(max(range(len(c)), key=c.__getitem__) >= len(c) - 4 for c in capped)
            line += (
                f" {len(capped)} of {len(runs)} runs reached the {limit}-validation ceiling ({late} with their "
                "best in the last 4 validations): still rising, so these rows compare the starts at an equal "
                "budget rather than at the plateau."
            )
        line += (
            f" The pretraining itself cost {sel[0]['pretrain_s']:.0f} s per seed (its views' nearest-pair "
            f"accuracy {sel[0]['pretrain_pair_acc']:.2f})."
        )
        lines.append(line)
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    plt = common.plt()
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    fig, axes = plt.subplots(2, len(tasks), figsize=(5 * len(tasks), 8), squeeze=False)
    for col, task in enumerate(tasks):
        sel = [r for r in rows if r["task"] == task]
        ax = axes[0][col]
        for i, r in enumerate(sel):
            for s, p in zip(r["scratch"], r["pretrained"]):  # one line per seed: the pairing
                ax.plot([2 * i, 2 * i + 1], [s, p], "o-", color="grey", alpha=0.6)
            ax.errorbar(
                [2 * i + 1.3],
                [r["diff"] + statistics.fmean(r["scratch"])],
                yerr=None
                if math.isnan(r["ci_low"])
                else [[r["diff"] - r["ci_low"]], [r["ci_high"] - r["diff"]]],
                fmt="s",
                color="black",
                capsize=4,
            )
        ax.set_xticks([k for i in range(len(sel)) for k in (2 * i, 2 * i + 1)])
        ax.set_xticklabels(
            [f"{r['labels']}\n{s}" for r in sel for s in ("scratch", "pretrained")], fontsize=8
        )
        ax.set_title(f"{task}: {sel[0]['metric']} per seed (black: scratch mean + Δ, 95 % CI)", fontsize=9)
        ax = axes[1][col]
        for r, style in zip(sel, ("-", "--")):
            for side, colour in (("scratch", "tab:blue"), ("pretrained", "tab:orange")):
                for k, curve in enumerate(r["curves"][side]):
                    label = f"{side}, {r['labels']} labels" if k == 0 else None
                    ax.plot(range(1, len(curve) + 1), curve, style, color=colour, alpha=0.6, label=label)
        ax.set_title(f"{task}: {sel[0]['metric']} per validation (every run)", fontsize=9)
        ax.set_xlabel("validation")
        ax.legend(fontsize=7)
        for a in axes[:, col]:
            a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def report(
    root: Path, out_dir: Path, tasks: list[str], labels: dict[str, float], command: str, partial: bool = False
) -> list[dict]:
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = measure(root, tasks, labels, partial)
    for task in tasks:
        for name in labels:
            label = name.replace("/", "-")
            common.copy_summary(root / task / label, out_dir, f"{task}_{label}")
    (out_dir / "results.md").write_text(table(rows))
    common.write_csv(
        out_dir / "results.csv",
        ["task", "labels", "metric", "n", "diff", "ci_low", "ci_high", "pretrain_s", "scratch", "pretrained"],
        [
            [r[k] for k in ("task", "labels", "metric", "n", "diff", "ci_low", "ci_high", "pretrain_s")]
            + [" ".join(f"{v:.4f}" for v in r["scratch"]), " ".join(f"{v:.4f}" for v in r["pretrained"])]
            for r in rows
        ],
    )
    plot(rows, out_dir / "pretraining.png")
    sweeps = [root / t / sub for t in tasks for sub in ("pretrain", *(n.replace("/", "-") for n in labels))]
    results = (
        "".join(f"- **{t}**: {TASKS[t]['what']}.\n" for t in tasks)
        + "\nSame seed = same data order and head initialisation; `Δ`: mean over seeds of (pretrained − scratch) "
        "with its 95 % t interval; `reading`: *helps* / *hurts* when the interval excludes 0. `validations to "
        "best`: mean over seeds of the validation at which the best checkpoint was taken (patience 4 "
        "validations; the 1/8-labels runs validate every "
        f"{SMALL_EVERY} of their short epochs). `run s`: a fine-tuning job's wall time, `pretraining s` a "
        "pretraining job's (mean over seeds; 2 jobs shared 2 cores). The metric is the best checkpoint's "
        "validation value (the set has no test split; the same selection for both starts).\n\n"
        + table(rows)
        + "\n"
        + reading(rows)
        + "\n![pretraining](pretraining.png)\n\n"
        + "Every run: `<task>_<labels>_summary.md` / `.csv`.\n\n"
        + common.footer(common.wall_seconds(*sweeps), command)
    )
    common.rewrite_readme(out_dir, HERE / "README.md", results)
    return rows


def run(
    out_dir: Path = HERE,
    quick: bool = False,
    sweep_dir: Path | None = None,
    existing: bool = False,
    partial: bool = False,
    tasks: tuple[str, ...] = tuple(TASKS),
    data: Path = REAL,
):
    """Prepare the views, run the sweeps (unless `existing`) under `sweep_dir`, write the outputs to `out_dir`."""
    root = common.sweep_root("pretraining", quick, sweep_dir).resolve()
    tasks = ["verification"] if quick and not existing else list(tasks)
    labels = {"1/8": SMALL} if quick else LABELS
    if existing:
        tasks = [t for t in tasks if (root / t).is_dir()]
        labels = {n: s for n, s in LABELS.items() if (root / tasks[0] / n.replace("/", "-")).is_dir()}
    else:
        missing = [
            f"{SET}_{TASKS[t]['layout']}"
            for t in tasks
            if not (data / f"{SET}_{TASKS[t]['layout']}").is_dir()
        ]
        if missing:
            sys.exit(
                f"Data error: {', '.join(missing)} not found in {data}: prepare the real images once with "
                "`python -m benchmarks._real_data --fetch && python -m benchmarks._real_data`"
            )
        launch(root, tasks, labels, prepare(Path(data), root, tasks, labels), quick)
    command = COMMAND + (" --quick" if quick else "")
    result = report(root, Path(out_dir), tasks, labels, command, partial)
    if Path(out_dir).resolve() == HERE:  # the study's own folder: refresh the top-level README's table too
        top_readme.update()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="verification with 1/8 labels, 2 seeds, 2 batches per epoch (smoke test)",
    )
    parser.add_argument("--tasks", default=",".join(TASKS), help="comma-separated (%(default)s)")
    parser.add_argument("--data", type=Path, default=REAL, help="the prepared real sets (%(default)s)")
    parser.add_argument("--out", type=Path, default=None, help="where tables/plots/README go (default: here)")
    parser.add_argument("--from", dest="existing", type=Path, default=None, help="re-report finished sweeps")
    parser.add_argument("--partial", action="store_true", help="with --from: report the finished jobs only")
    args = parser.parse_args()
    tasks = tuple(args.tasks.split(","))
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        parser.error(f"--tasks: unknown {unknown}; choose from {list(TASKS)}")
    out = args.out or (common.ROOT / "logs" / "experiments" / "pretraining_quick" if args.quick else HERE)
    run(out, args.quick, args.existing, args.existing is not None, args.partial, tasks, args.data)


if __name__ == "__main__":
    main()

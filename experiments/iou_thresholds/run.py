"""Study 2: IoU thresholds in detection — assignment IoU, NMS IoU, mAP@0.5 / @0.75 / @[.5:.95], heads.
(One file over 300 lines: the study's two sweeps, the NMS re-evaluation and its report belong together.)

1. Training at one fixed budget (conf/experiment/iou_thresholds.yaml: 10 epochs, no early stopping):
   `python train.py -m experiment=iou_thresholds` — the anchor head at `model.head.assign_iou` 0.1/0.25/0.5 —
   then the YOLOv1 grid head (`model=yolov1`), and YOLO11 (`model=yolo11`) when conf/model/yolo11.yaml
   exists and ultralytics imports.
2. NMS IoU is an inference key: each head's trained checkpoint is re-evaluated on the test split with
   `python eval.py -m ... ckpt_path=<best> model.nms_iou=0.3,...,0.8` (no retraining per value).
Every evaluation reports COCO mAP at IoU 0.5, 0.75 and averaged over 0.5:0.05:0.95. Writes
`results.md` / `results.csv`, `iou_thresholds.png`, the sweeps' own summaries and the README's results.

    python -m experiments.iou_thresholds.run            # the study (~15 min on a quiet 2-core CPU)
    python -m experiments.iou_thresholds.run --quick    # anchor + v1 heads, 2 batches, 2 NMS values (smoke test)
    python -m experiments.iou_thresholds.run --from logs/experiments/iou_thresholds/<time>   # re-report
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import yaml

from experiments import common, top_readme
from src.outputs.sweep_report import find_jobs

HERE = Path(__file__).resolve().parent
COMMAND = "python -m experiments.iou_thresholds.run"
NMS = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
MAPS = [("test/map50", "mAP@0.5"), ("test/map75", "mAP@0.75"), ("test/map", "mAP@[.5:.95]")]
HEADS = {"yolo": "anchor head (YOLOv2+ style)", "yolov1": "YOLOv1 grid", "yolo11": "YOLO11n (ultralytics)"}
TINY_DATA = [
    "data.reader.num_train=24",
    "data.reader.num_val=8",
    "data.reader.num_test=8",
    "data.batch_size=8",
    "data.num_workers=0",
]
# no per-run plots in quick mode: the study draws its own from the numbers
QUICK = [
    "trainer.max_epochs=1",
    "+trainer.limit_train_batches=2",
    "model.plot_every_n_epochs=null",
    *TINY_DATA,
]


def yolo11_available() -> bool:
    """YOLO11 joins the study only where its config exists and ultralytics is installed."""
    return (common.ROOT / "conf" / "model" / "yolo11.yaml").is_file() and (
        importlib.util.find_spec("ultralytics") is not None
    )


def model_of(job) -> str:
    """The job's `model` config choice (yolo | yolov1 | yolo11)."""
    hydra_cfg = yaml.safe_load((job.path / ".hydra" / "hydra.yaml").read_text())
    return hydra_cfg["hydra"]["runtime"]["choices"]["model"]


def best_checkpoint(job) -> Path:
    """The checkpoint the job tested: its best `val/map50` one (last.ckpt when there is no other)."""
    ckpts = sorted((job.path / "checkpoints").glob("*.ckpt"))
    best = [c for c in ckpts if c.name != "last.ckpt"]
    if not (best or ckpts):
        raise RuntimeError(f"{job.path}: no checkpoint")
    return (best or ckpts)[0]


def train(sweep_dir: Path, quick: bool) -> None:
    # quick: the anchor head at one assignment IoU; full: two jobs at once on two cores
    sweep = ["model.head.assign_iou=0.25", *QUICK] if quick else ["launcher=joblib"]
    common.launch("train.py", ["experiment=iou_thresholds", *sweep], sweep_dir / "train_assign")
    heads = ["yolov1"] + (["yolo11"] if yolo11_available() and not quick else [])
    for head in heads:  # one run each, the same budget; the assignment IoU is a key of the anchor head only
        over = ["experiment=iou_thresholds", f"model={head}", *(QUICK if quick else [])]
        common.launch("train.py", over, sweep_dir, run_dir=f"train_{head}")


def training_jobs(sweep_dir: Path) -> list:
    """The training runs: the assignment sweep's jobs, then the single runs train_<head>/."""
    jobs = common.jobs_of(Path(sweep_dir) / "train_assign")
    jobs += [j for j in find_jobs(sweep_dir) if j.name.startswith("train_")]
    failed = [j for j in jobs if j.status != "ok"]
    if failed:
        raise RuntimeError("; ".join(f"{j.path}: {j.status} {j.error}" for j in failed))
    return jobs


def evaluate_nms(sweep_dir: Path, jobs: list, quick: bool) -> None:
    """Re-evaluate each head's checkpoint (the anchor head at its default assignment IoU) over NMS IoU
    (quick mode: the anchor head only)."""
    values = "0.4,0.6" if quick else ",".join(str(v) for v in NMS)
    for job in pick_per_head(jobs)[: 1 if quick else None]:
        head = model_of(job)
        data = TINY_DATA if quick else ["data.reader.num_train=1000"]
        common.launch(
            "eval.py",
            [
                f"model={head}",
                f"ckpt_path={best_checkpoint(job)}",
                "split=test",
                f"model.nms_iou={values}",
                *data,
            ],
            sweep_dir / f"nms_{head}",
        )


def pick_per_head(jobs: list) -> list:
    """One trained run per head: the anchor head at the default assignment IoU 0.25."""
    chosen = {}
    for job in jobs:
        head = model_of(job)
        assign = job.overrides.get("model.head.assign_iou", job.overrides.get("model.assign_iou", "0.25"))
        if head == "yolo" and assign not in ("0.25", ""):
            continue
        chosen.setdefault(head, job)
    return [chosen[h] for h in HEADS if h in chosen]


def assign_of(job) -> str:
    cfg = yaml.safe_load((job.path / ".hydra" / "config.yaml").read_text())
    model, head = cfg["model"], cfg["model"].get("head")
    # runs from before the heads became a config group kept assign_iou on the model itself
    value = head.get("assign_iou", "—") if isinstance(head, dict) else model.get("assign_iou", "—")
    return str(value) if model_of(job) == "yolo" else "—"


def fmt(v) -> str:
    return "" if v is None else f"{float(v):.3f}"


def plot(train_rows: list[dict], nms_rows: dict[str, list[dict]], path: Path) -> None:
    plt = common.plt()
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.4))
    styles = {"test/map50": "o-", "test/map75": "s--", "test/map": "^:"}
    anchor = sorted((r for r in train_rows if r["head"] == "yolo"), key=lambda r: float(r["assign"]))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for metric, name in MAPS:
        if anchor:
            axes[0].plot(
                [float(r["assign"]) for r in anchor],
                [r[metric] for r in anchor],
                styles[metric],
                color="k",
                label=f"anchor head {name}",
            )
    for colour, r in zip(colours, [r for r in train_rows if r["head"] != "yolo"]):
        for metric, _ in MAPS:
            axes[0].axhline(r[metric], color=colour, ls=styles[metric][1:], lw=1)
        axes[0].plot([], [], color=colour, label=f"{HEADS[r['head']]} (no assignment IoU)")
    axes[0].set_xlabel("assignment IoU (anchor head)")
    axes[0].set_ylabel("test mAP")
    axes[0].set_title("training: assignment IoU (o 0.5, s 0.75, ^ .5:.95)", fontsize=10)
    for colour, (head, rows) in zip(colours, nms_rows.items()):
        rows = sorted(rows, key=lambda r: r["nms"])
        for metric, name in MAPS:
            axes[1].plot(
                [r["nms"] for r in rows],
                [r[metric] for r in rows],
                styles[metric],
                color=colour,
                label=f"{HEADS[head]} {name}",
            )
    axes[1].set_xlabel("NMS IoU (evaluation only, same checkpoint)")
    axes[1].set_title("inference: NMS IoU", fontsize=10)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(sweep_dir: Path, out_dir: Path, command: str) -> dict:
    jobs = training_jobs(sweep_dir)
    train_rows = [
        {
            "head": model_of(j),
            "assign": assign_of(j),
            "nms": (yaml.safe_load((j.path / ".hydra" / "config.yaml").read_text())["model"]["nms_iou"]),
            "epochs": yaml.safe_load((j.path / ".hydra" / "config.yaml").read_text())["trainer"][
                "max_epochs"
            ],
            "runtime_s": j.runtime_s,
            **{m: j.metrics.get(m) for m, _ in MAPS},
            "precision": j.metrics.get("test/precision"),
            "recall": j.metrics.get("test/recall"),
        }
        for j in jobs
    ]
    train_rows.sort(key=lambda r: (list(HEADS).index(r["head"]), r["assign"]))
    nms_rows: dict[str, list[dict]] = {}
    for d in sorted(Path(sweep_dir).glob("nms_*")):
        head = d.name.removeprefix("nms_")
        nms_rows[head] = [
            {"nms": float(j.overrides["model.nms_iou"]), **{m: j.metrics.get(m) for m, _ in MAPS}}
            for j in common.jobs_of(d)
        ]
    out_dir.mkdir(parents=True, exist_ok=True)
    header_a = [
        "head",
        "assignment IoU",
        "epochs",
        "NMS IoU",
        *[n for _, n in MAPS],
        "precision",
        "recall",
        "run s",
    ]
    rows_a = [
        [
            HEADS[r["head"]],
            r["assign"],
            r["epochs"],
            r["nms"],
            *[fmt(r[m]) for m, _ in MAPS],
            fmt(r["precision"]),
            fmt(r["recall"]),
            "" if r["runtime_s"] is None else f"{r['runtime_s']:.0f}",
        ]
        for r in train_rows
    ]
    heads = list(nms_rows)
    header_b = ["NMS IoU"] + [f"{HEADS[h]} {n}" for h in heads for _, n in MAPS]
    values = sorted({r["nms"] for rows in nms_rows.values() for r in rows})
    rows_b = []
    for v in values:
        row = [f"{v:g}"]
        for h in heads:
            match = next((r for r in nms_rows[h] if r["nms"] == v), {})
            row += [fmt(match.get(m)) for m, _ in MAPS]
        rows_b.append(row)
    table_a = common.markdown_table(header_a, rows_a)
    table_b = common.markdown_table(header_b, rows_b)
    (out_dir / "results.md").write_text(f"## Training\n\n{table_a}\n## NMS IoU\n\n{table_b}")
    common.write_csv(out_dir / "results_training.csv", header_a, rows_a)
    common.write_csv(out_dir / "results_nms.csv", header_b, rows_b)
    plot(train_rows, nms_rows, out_dir / "iou_thresholds.png")
    for d in [*sorted(Path(sweep_dir).glob("train_*")), *sorted(Path(sweep_dir).glob("nms_*"))]:
        if (d / "summary.csv").is_file():
            common.copy_summary(d, out_dir, f"sweep_{d.name}")
    picked = {model_of(j): j for j in pick_per_head(jobs)}
    note_yolo11 = (
        ""
        if "yolo11" in picked
        else "YOLO11 is not in this run: it joins when `conf/model/yolo11.yaml` exists and `ultralytics` "
        "imports (`pip install -e .[yolo11]`).\n\n"
    )
    wall = common.wall_seconds(
        sweep_dir, *sorted(Path(sweep_dir).glob("train_*")), *sorted(Path(sweep_dir).glob("nms_*"))
    )
    results = (
        "Test split: 200 held-out images (1–5 shapes of 3 classes, 10 % empty); COCO-style mAP "
        "(torchmetrics, faster-coco-eval) at IoU 0.5, at 0.75, and averaged over 0.5:0.05:0.95; "
        "precision/recall at score 0.25. One seed (42) per row.\n\n"
        "**Training** — every row trained the same number of epochs (fixed budget, no early stopping); "
        "the best `val/map50` checkpoint is tested at the head's default NMS IoU. `run s`: the job's wall "
        "time including data generation, validation and test (2 jobs shared 2 cores in the sweep).\n\n"
        + table_a
        + "\n**NMS IoU** — the same checkpoints (the anchor head trained at assignment IoU 0.25) "
        "re-evaluated on the test split with `eval.py` at each NMS IoU; nothing retrained.\n\n"
        + table_b
        + "\n"
        + "".join(
            f"Best NMS IoU for {HEADS[h]}: {max(rows, key=lambda r: r[m])['nms']:g} by {n} "
            f"({max(r[m] for r in rows):.3f}).\n"
            for h, rows in nms_rows.items()
            for m, n in (MAPS[0], MAPS[2])
        )
        + "\n![iou thresholds](iou_thresholds.png)\n\n"
        + note_yolo11
        + "Every job: `sweep_*_summary.md` / `.csv` (per-class AP, val and test).\n\n"
        + common.footer(wall, command)
    )
    common.rewrite_readme(out_dir, HERE / "README.md", results)
    return {"training": train_rows, "nms": nms_rows}


def run(out_dir: Path = HERE, quick: bool = False, sweep_dir: Path | None = None, existing: bool = False):
    """Train and re-evaluate (unless `existing`) into `sweep_dir`; write the study's outputs to `out_dir`."""
    out_dir = Path(out_dir)
    sweep_dir = common.sweep_root("iou_thresholds", quick, sweep_dir)
    if not existing:
        train(sweep_dir, quick)
        evaluate_nms(sweep_dir, training_jobs(sweep_dir), quick)
    command = COMMAND + (" --quick" if quick else "")
    result = report(sweep_dir, out_dir, command)
    if out_dir.resolve() == HERE:  # the study's own folder: refresh the top-level README's table too
        top_readme.update()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 batches on tiny data (smoke test)")
    parser.add_argument("--out", type=Path, default=None, help="where tables/plots/README go (default: here)")
    parser.add_argument("--from", dest="existing", type=Path, default=None, help="re-report a finished study")
    args = parser.parse_args()
    out = args.out or (common.ROOT / "logs" / "experiments" / "iou_thresholds_quick" if args.quick else HERE)
    run(out, args.quick, args.existing, existing=args.existing is not None)


if __name__ == "__main__":
    main()

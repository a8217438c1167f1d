"""YOLO11 three ways on the same shapes_det data and the same CPU budget: `model=yolo11` in this framework,
ultralytics' own trainer (the data exported to YOLO format in a temporary folder, its default
augmentation and optimizer), and `model=yolo`. Every epoch's weights are scored by this framework's mAP
(faster_coco_eval) on the same validation images, against the CPU seconds the run had used.

    python -m benchmarks.yolo11 [--epochs 12] [--quick]

writes benchmarks/results/yolo11.{md,json,png} (`--quick`: a tiny smoke run into a temporary folder).
Needs the yolo11 extra. Every run is one process with one torch thread and no loader workers, so its
CPU seconds are its own: a fair clock on a shared machine (wall time on an idle one is about the same).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lightning.pytorch as pl

ROOT = Path(__file__).resolve().parents[1]
LEVELS = (0.25, 0.5, 0.75)


class EpochClock(pl.Callback):
    """Appends {epoch, cpu_s, wall_s, val/map50, val/map} to a JSON-lines file after each epoch's validation."""

    def __init__(self, path: str):
        self.path, self.cpu0, self.wall0 = Path(path), time.process_time(), time.time()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        m = trainer.callback_metrics
        row = {
            "epoch": trainer.current_epoch,
            "cpu_s": round(time.process_time() - self.cpu0, 2),
            "wall_s": round(time.time() - self.wall0, 2),
            **{k: float(m[k]) for k in ("val/map50", "val/map") if k in m},
        }
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")


def data_overrides(args) -> list[str]:
    return [
        f"data.reader.num_train={args.num_train}",
        f"data.reader.num_val={args.num_val}",
        "data.num_workers=0",
    ]


def run_ours(model: str, args, work: Path) -> list[dict]:
    """`python train.py model=<model>` for `args.epochs` epochs with the EpochClock callback."""
    clock = work / f"{model}.jsonl"
    cmd = [
        sys.executable,
        "train.py",
        f"model={model}",
        f"trainer.max_epochs={args.epochs}",
        *data_overrides(args),
        "model.cpu_threads=1",
        "test=false",
        "callbacks.early_stopping=null",
        "callbacks.rich_progress_bar=null",
        "+callbacks.epoch_clock._target_=benchmarks.yolo11.EpochClock",
        f"+callbacks.epoch_clock.path={clock}",
        f"hydra.run.dir={work / model}",
    ]
    subprocess.run(cmd, cwd=ROOT, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True)
    return [json.loads(line) for line in clock.read_text().splitlines()]


def data_config(args):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=["model=yolo11", *data_overrides(args)])
    return cfg


def export_yolo(args, root: Path) -> Path:
    """shapes_det (the same seed and sizes as our runs) → images/<split>/*.png + labels/<split>/*.txt."""
    from hydra.utils import instantiate
    from PIL import Image

    cfg = data_config(args)
    reader = instantiate(cfg.data.reader)
    for split in ("train", "val"):
        ds = reader.dataset(split)
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        h, w = ds.images.shape[-2:]
        for i in range(len(ds)):
            Image.fromarray(ds.images[i].permute(1, 2, 0).numpy()).save(root / "images" / split / f"{i}.png")
            lines = []
            for (x1, y1, x2, y2), c in zip(ds.boxes[i].tolist(), ds.labels[i].tolist()):
                cx, cy, bw, bh = (x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h
                lines.append(f"{c} {cx:.6f} {cy:.6f} {bw:.6f} {bh:.6f}")
            (root / "labels" / split / f"{i}.txt").write_text("\n".join(lines))
    names = list(reader.class_names)
    (root / "data.yaml").write_text(
        json.dumps({"path": str(root), "train": "images/train", "val": "images/val", "names": names})
    )
    return root / "data.yaml"


def ultralytics_child(spec: str) -> None:
    """Inside the child process: ultralytics' trainer with a CPU clock per epoch (after its validation)."""
    import torch

    from src.models.yolo11 import ultralytics

    opts = json.loads(spec)
    ul = ultralytics()
    clock, cpu0, wall0 = Path(opts["clock"]), time.process_time(), time.time()

    def one_thread(trainer):
        torch.set_num_threads(1)  # ultralytics sets cores − 1; every run here gets one

    def tick(trainer):
        if trainer.epoch >= trainer.epochs:  # the final re-validation of best.pt, not an epoch
            return
        row = {"epoch": trainer.epoch, "cpu_s": round(time.process_time() - cpu0, 2)}
        row["wall_s"] = round(time.time() - wall0, 2)
        with clock.open("a") as f:
            f.write(json.dumps(row) + "\n")

    model = ul.YOLO("yolo11n.yaml")
    model.add_callback("on_train_start", one_thread)
    model.add_callback("on_fit_epoch_end", tick)
    model.train(
        data=opts["data"],
        imgsz=opts["imgsz"],
        epochs=opts["epochs"],
        batch=opts["batch"],
        device="cpu",
        workers=0,
        plots=False,
        amp=False,
        seed=42,
        save_period=1,
        project=opts["project"],
        name="ultralytics",
        exist_ok=True,
        verbose=False,
    )


def score_weights(pt_files: list[Path], args) -> list[dict]:
    """val/map50 and val/map of each ultralytics epoch checkpoint, by this framework's metric."""
    from hydra.utils import instantiate

    from src.lightning_modules.yolo11 import Yolo11

    cfg = data_config(args)
    dm = instantiate(cfg.data, _convert_="all")
    out = []
    for pt in pt_files:
        model = Yolo11(
            num_classes=cfg.data.num_classes,
            image_size=cfg.data.image_size,
            weights=str(pt),
            optim=instantiate(cfg.model.optim),
            schedule=instantiate(cfg.model.schedule),
        )
        trainer = pl.Trainer(
            accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False
        )
        trainer.validate(model, datamodule=dm, verbose=False)
        out.append({k: float(trainer.callback_metrics[k]) for k in ("val/map50", "val/map")})
    return out


def run_ultralytics(args, work: Path) -> list[dict]:
    data = export_yolo(args, work / "yolo_data")
    clock = work / "ultralytics.jsonl"
    spec = {
        "data": str(data),
        "imgsz": args.image_size,
        "epochs": args.epochs,
        "batch": args.batch,
        "project": str(work),
        "clock": str(clock),
    }
    cmd = [sys.executable, "-m", "benchmarks.yolo11", "--ultralytics-child", json.dumps(spec)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "YOLO_CONFIG_DIR": str(work / "ul_config")}
    subprocess.run(cmd, cwd=ROOT, check=True, env=env, capture_output=True)
    rows = [json.loads(line) for line in clock.read_text().splitlines()]
    weights = work / "ultralytics" / "weights"
    scores = score_weights([weights / f"epoch{r['epoch']}.pt" for r in rows], args)
    return [{**r, **s} for r, s in zip(rows, scores)]


def first_reaching(rows: list[dict], level: float) -> float | None:
    return next((r["cpu_s"] for r in rows if r.get("val/map50", 0) >= level), None)


def report(results: dict[str, list[dict]], args, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "epochs": args.epochs,
        "num_train": args.num_train,
        "num_val": args.num_val,
        "image_size": args.image_size,
        "batch": args.batch,
    }
    (out / "yolo11.json").write_text(json.dumps({"setup": meta, "runs": results}, indent=1) + "\n")
    lines = [
        "# YOLO11: this framework vs ultralytics' trainer vs model=yolo",
        "",
        f"shapes_det, {args.num_train} training / {args.num_val} validation images, {args.image_size} px, "
        f"{args.epochs} epochs, one CPU thread per run, no loader workers. Every epoch scored by this "
        "framework's mAP (faster_coco_eval) on the same validation images. `python -m benchmarks.yolo11`",
        "",
        "| run | "
        + " | ".join(f"CPU s to map50 ≥ {v}" for v in LEVELS)
        + " | final map50 | final map | CPU s |",
        "|---|" + "---|" * (len(LEVELS) + 3),
    ]
    for name, rows in results.items():
        cells = [first_reaching(rows, v) for v in LEVELS]
        last = rows[-1]
        lines.append(
            f"| {name} | "
            + " | ".join("—" if c is None else f"{c:.0f}" for c in cells)
            + f" | {last.get('val/map50', float('nan')):.3f} | {last.get('val/map', float('nan')):.3f}"
            + f" | {last['cpu_s']:.0f} |"
        )
    lines += [
        "",
        "val/map50 per epoch:",
        "",
        "| run | " + " | ".join(str(i + 1) for i in range(args.epochs)) + " |",
    ]
    lines.append("|---|" + "---|" * args.epochs)
    for name, rows in results.items():
        lines.append(
            f"| {name} | " + " | ".join(f"{r.get('val/map50', float('nan')):.3f}" for r in rows) + " |"
        )
    (out / "yolo11.md").write_text("\n".join(lines) + "\n")
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, rows in results.items():
        ax.plot(
            [r["cpu_s"] for r in rows], [r.get("val/map50", float("nan")) for r in rows], "o-", label=name
        )
    ax.set_xlabel("CPU seconds (one thread, incl. validation)")
    ax.set_ylabel("val/map50 (this framework's mAP)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(out / "yolo11.png", dpi=110, bbox_inches="tight")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--num-train", type=int, default=1500)
    parser.add_argument("--num-val", type=int, default=200)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument(
        "--quick", action="store_true", help="2 epochs on 64 images, results into a temp folder"
    )
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--ultralytics-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ultralytics_child:
        return ultralytics_child(args.ultralytics_child)
    with tempfile.TemporaryDirectory(prefix="bench_yolo11_") as tmp:
        work = Path(tmp)
        out = Path(args.out)
        if args.quick:
            args.epochs, args.num_train, args.num_val, out = 2, 64, 16, work / "results"
        results = {
            "model=yolo11 (this framework)": run_ours("yolo11", args, work),
            "ultralytics trainer (yolo11n)": run_ultralytics(args, work),
            "model=yolo (this framework)": run_ours("yolo", args, work),
        }
        report(results, args, out)
        if args.quick:
            print(f"(quick run: results in {out}, removed on exit)")


if __name__ == "__main__":
    main()

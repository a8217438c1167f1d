"""Time to quality against the tools users would pick instead, on the same data and the same CPU.

Each pair trains for about the same seconds (`EPOCHS`: ours, peer) on the same data; after every epoch the validation
metric is recorded against the training wall-clock (validation time excluded on both sides):
- U-Net (ours: `python train.py model=unet`, Trainer with its default callbacks and logger) vs
  segmentation-models-pytorch's `Unet` (resnet18 encoder, random init, `encoder_depth` = our depth) in a
  plain loop (AdamW 1e-3, CE + Dice), on shapes_seg with the same loader; metric val/miou.
- Siamese (ours: `model=siamese`, PML's triplet loss over all valid triplets) vs the same network in a plain loop with
  pytorch-metric-learning's TripletMarginLoss + MultiSimilarityMiner (Adam 1e-3), on faces_synth P×K
  batches; metric val/auroc on the same validation pairs.
- Detector (ours: `model=yolo`) vs ultralytics YOLO11n trained from `yolo11n.yaml` (no weights) on
  shapes_det exported in YOLO format, same image size, batch and epochs; metric mAP@0.5 on the same
  200 validation images. ultralytics (AGPL) is never a dependency: it is used when importable
  (`pip install ultralytics` into the benchmark's environment), else the table says so.
The table gives the seconds each reaches given levels (– = not within the run).
`python -m benchmarks.time_to_quality [--quick]`.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path

import lightning.pytorch as pl
import torch

from benchmarks import _peers as peers
from benchmarks._common import _MACHINE, build_data_and_model, compose, parse_args, quiet, write_result
from benchmarks._peers import ClockCurve

LEVELS = {
    "unet": ("val/miou", [0.3, 0.35, 0.4, 0.5]),  # 400 images: an early stretch of the curve
    "siamese": ("val/auroc", [0.8, 0.9, 0.95, 0.98]),
    "yolo": ("val/map50", [0.2, 0.3, 0.4, 0.5]),
}
# (ours, peer): each side gets about the same training seconds; our U-Net's epoch is ~3× shorter
EPOCHS = {"unet": (15, 5), "siamese": (4, 4), "yolo": (4, 4)}
# seeds per pair (median curves): the Siamese runs are short and their first epochs vary by ±0.03 AUROC
# from seed to seed, more than the gap between the two sides
SEEDS = {"siamese": 3}
DATA = {  # the same data for both sides; the U-Net trains on 400 of shapes_seg's 1000 images to fit the time
    "unet": ["data.reader.num_train=400"],
    "siamese": [],
    "yolo": [],
}
NOTES = (
    "Each pair trains for about the same seconds (the same epochs, except the U-Net: ours 15 epochs, the "
    "peer 5, as the peer's epoch is ~3× longer); ours with its default config (schedule, augmentation, EMA), the "
    "peers with the same DataLoader (same augmentation) except ultralytics, which reads the exported "
    "images with its own pipeline. The Siamese pair runs 3 seeds per side (the same seed for both; "
    "curves = per-epoch medians of seconds and metric), the others one. A level a run never reached is –."
)


# ---- ours: the Trainer as a user runs it -------------------------------------------------------------------
def pairs(curve: list | str, metric: str) -> list | str:
    """{"t", metric} points as this benchmark's (seconds, value) pairs (its saved JSON's form)."""
    return curve if isinstance(curve, str) else [(p["t"], p[metric]) for p in curve if metric in p]


def ours(model: str, epochs: int, tmp: Path, max_batches: int | None) -> list:
    import hydra

    from src.runtime.config.instantiate import build_all
    from src.runtime.runs.cpu_threads import apply_cpu_threads

    over = [
        f"model={model}",
        *DATA[model],
        f"trainer.max_epochs={epochs}",
        "callbacks.early_stopping.patience=1000",
    ]
    if max_batches:
        over += [f"+trainer.limit_train_batches={max_batches}", f"+trainer.limit_val_batches={max_batches}"]
    cfg = compose(over, tmp / f"ours_{model}")
    dm, module = build_data_and_model(cfg)
    curve: list = []
    callbacks = [*build_all(cfg.callbacks, "callbacks"), ClockCurve([LEVELS[model][0]], curve)]
    trainer = hydra.utils.instantiate(
        cfg.trainer, callbacks=callbacks, logger=build_all(cfg.logger, "logger")
    )
    before = torch.get_num_threads()
    apply_cpu_threads(cfg.get("cpu_threads"), trainer)
    trainer.fit(module, datamodule=dm)
    torch.set_num_threads(before)
    return pairs(curve, LEVELS[model][0])


# ---- peers (benchmarks/_peers.py) ------------------------------------------------------------------------------
def smp_unet(epochs: int, tmp: Path, max_batches: int | None) -> list:
    """smp's Unet at our U-Net's depth and decoder widths, in a plain loop on the same loaders."""
    cfg = compose(["model=unet", *DATA["unet"]], tmp / "smp", progress=False)
    dm, _ = build_data_and_model(cfg)
    dm.setup("fit")
    depth = int(cfg.model.net.depth)
    widths = [16 * 2 ** (depth - 1 - i) for i in range(depth)]
    peer = peers.smp_unet(
        dm, int(cfg.data.num_classes), max_batches, encoder_depth=depth, decoder_channels=widths
    )
    return pairs(peers.plain_curve(peer, dm, epochs=epochs, max_batches=max_batches), "val/miou")


def pml_siamese(epochs: int, tmp: Path, max_batches: int | None) -> list:
    cfg = compose(["model=siamese", *DATA["siamese"]], tmp / "pml", progress=False)
    dm, module = build_data_and_model(cfg)
    dm.setup("fit")
    peer = peers.pml_triplet(dm, module, max_batches)
    return pairs(peers.plain_curve(peer, dm, epochs=epochs, max_batches=max_batches), "val/auroc")


def export_shapes_det(root: Path, cfg) -> Path:
    """shapes_det's train and val splits as a YOLO-format dataset (PNG images, normalized labels)."""
    from PIL import Image

    reader = build_data_and_model(cfg)[0].reader
    for split in ("train", "val"):
        ds = reader.dataset(split)
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        h, w = ds.images.shape[-2:]
        for i in range(len(ds)):
            Image.fromarray(ds.images[i].permute(1, 2, 0).numpy()).save(
                root / "images" / split / f"{i:05d}.png"
            )
            lines = [
                f"{int(c)} {(b[0] + b[2]) / 2 / w:.6f} {(b[1] + b[3]) / 2 / h:.6f} {(b[2] - b[0]) / w:.6f} {(b[3] - b[1]) / h:.6f}"
                for b, c in zip(ds.boxes[i].tolist(), ds.labels[i].tolist())
            ]
            (root / "labels" / split / f"{i:05d}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
    names = "".join(f"  {i}: {n}\n" for i, n in enumerate(reader.class_names))
    (root / "data.yaml").write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnames:\n{names}")
    return root / "data.yaml"


def ultralytics_yolo11n(epochs: int, tmp: Path, max_batches: int | None) -> list | str:
    cfg = compose(["model=yolo", *DATA["yolo"]], tmp / "yolo11", progress=False)
    data_yaml = export_shapes_det(tmp / "shapes_det_yolo", cfg)
    n_train = len(list((tmp / "shapes_det_yolo" / "images" / "train").iterdir()))
    batch = int(cfg.data.batch_size)
    curve = peers.ultralytics_curve(
        data_yaml,
        tmp,
        imgsz=int(cfg.data.image_size),
        epochs=epochs,
        batch=batch,
        workers=int(cfg.data.num_workers) if str(cfg.data.num_workers).isdigit() else 1,
        fraction=min(1.0, max_batches * batch / n_train) if max_batches else 1.0,
    )
    return pairs(curve, "val/map50")


PEERS = {
    "unet": ("smp Unet (resnet18), plain loop", smp_unet),
    "siamese": ("same net + PML triplet loss & miner, plain loop", pml_siamese),
    "yolo": ("ultralytics YOLO11n from yaml", ultralytics_yolo11n),
}


def median_curve(curves: list) -> list | str:
    """Epoch by epoch, the median seconds and the median metric over the seeds' curves."""
    if any(isinstance(c, str) for c in curves):
        return next(c for c in curves if isinstance(c, str))
    n = min(len(c) for c in curves)
    return [
        (statistics.median(c[i][0] for c in curves), statistics.median(c[i][1] for c in curves))
        for i in range(n)
    ]


def first_reaching(curve: list, level: float) -> float | None:
    return next((t for t, v in curve if v >= level), None)


def plot(results: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    for ax, (model, r) in zip(axes, results.items()):
        for key, label in (("ours", "ours"), ("peer", r["peer_name"])):
            curve = r[key]
            if isinstance(curve, list) and curve:
                ax.plot([t for t, _ in curve], [v for _, v in curve], "o-", label=label, ms=3)
        ax.set(xlabel="training seconds", ylabel=LEVELS[model][0], title=model)
        ax.legend(fontsize=7)
    return fig


def main() -> None:
    args = parse_args(
        __doc__,
        lambda p: p.add_argument(
            "--render",
            action="store_true",
            help="only re-tabulate results/time_to_quality.json (no training)",
        ),
    )
    quiet()
    if args.render:
        saved = json.loads((args.out / "time_to_quality.json").read_text())
        report(saved["curves"], args.out, saved["quick"], saved["machine"])
        return
    epochs = {m: (1, 1) for m in EPOCHS} if args.quick else dict(EPOCHS)
    max_batches = 3 if args.quick else None
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench_ttq_") as tmp:
        for model, (peer_name, peer) in PEERS.items():
            runs: dict[str, list] = {"ours": [], "peer": []}
            for seed in range(1 if args.quick else SEEDS.get(model, 1)):
                pl.seed_everything(seed, workers=True)
                runs["ours"].append(ours(model, epochs[model][0], Path(tmp), max_batches))
                print(f"{model} ours (seed {seed}): {runs['ours'][-1]}", flush=True)
                threads = torch.get_num_threads()
                pl.seed_everything(seed, workers=True)
                runs["peer"].append(peer(epochs[model][1], Path(tmp), max_batches))
                torch.set_num_threads(threads)  # ultralytics sets its own
                print(f"{model} peer (seed {seed}): {runs['peer'][-1]}", flush=True)
            ours_curve, peer_curve = median_curve(runs["ours"]), median_curve(runs["peer"])
            results[model] = {
                "ours": ours_curve,
                "peer": peer_curve,
                "peer_name": peer_name,
                "epochs": list(epochs[model]),
                "seeds": len(runs["ours"]),
                "runs": runs,
            }
    report(results, args.out, args.quick)


def report(results: dict, out: Path, quick: bool, machine_info: dict | None = None) -> None:
    """The tables and the plot of the curves (`--render` redoes them from the saved JSON)."""
    if machine_info:
        _MACHINE.update(machine_info)
    rows = []
    for model, r in results.items():
        metric, levels = LEVELS[model]
        for level in levels:
            t_ours = first_reaching(r["ours"], level)
            if isinstance(r["peer"], str):
                rows.append([model, r["peer_name"], metric, level, t_ours, r["peer"], "peer not run"])
                continue
            t_peer = first_reaching(r["peer"], level)
            verdict = (
                "met"
                if t_ours is not None and (t_peer is None or t_ours <= t_peer)
                else ("neither" if t_ours is None and t_peer is None else "not met")
            )
            rows.append([model, r["peer_name"], metric, level, t_ours, t_peer, verdict])
    final_rows = [
        [
            m,
            " / ".join(str(e) for e in r["epochs"]) if isinstance(r["epochs"], list) else r["epochs"],
            r["ours"][-1][1] if r["ours"] else None,
            r["ours"][-1][0] if r["ours"] else None,
            r["peer"][-1][1]
            if isinstance(r["peer"], list) and r["peer"]
            else r["peer"]
            if isinstance(r["peer"], str)
            else None,
            r["peer"][-1][0] if isinstance(r["peer"], list) and r["peer"] else None,
        ]
        for m, r in results.items()
    ]
    write_result(
        "time_to_quality",
        "Time to quality: ours vs the tools users would pick instead (same data, same CPU)",
        [
            (
                "Training seconds to reach each level (validation time excluded):",
                ["model", "peer", "metric", "level", "ours s", "peer s", "goal: ours no later"],
                rows,
            ),
            (
                "End of the runs:",
                ["model", "epochs (ours / peer)", "ours final", "ours s", "peer final", "peer s"],
                final_rows,
            ),
        ],
        {"curves": results, "levels": {m: v[1] for m, v in LEVELS.items()}},
        out,
        NOTES,
        plot(results),
        quick,
    )


if __name__ == "__main__":
    main()

"""Study 3: decoder depth in U-Net — our U-Net (transposed convolutions) against smp's Unet at depths 2–5.

Launches `python train.py -m experiment=decoder_depth` (conf/experiment/decoder_depth.yaml:
`model/net` unet/smp × `model.net.depth` 2..5 × `seed` 1,2,3), then measures each setting's network the
same way: its parameters and the median time of one training step (forward, CE + Dice loss, backward,
AdamW step) on a batch of the training shape, one CPU thread. Writes `results.md` / `results.csv` (test
mIoU and Dice as mean ± std over the seeds, parameters, step time), `decoder_depth.png` (means with error
bars), the sweep's own `sweep_summary.*`, and the results block of README.md.

    python -m experiments.decoder_depth.run            # the study (~45 min on a quiet 2-core CPU)
    python -m experiments.decoder_depth.run --quick    # depth 2, 2 seeds, 2 batches on tiny data (smoke test)
    python -m experiments.decoder_depth.run --from logs/experiments/decoder_depth/<time>   # re-report
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf

from experiments import common, top_readme

HERE = Path(__file__).resolve().parent
COMMAND = "python -m experiments.decoder_depth.run"
QUICK = [
    "model.net.depth=2",
    "model.plot_every_n_epochs=null",  # no per-run plots: the study draws its own from the numbers
    "seed=1,2",
    "trainer.max_epochs=1",
    "+trainer.limit_train_batches=2",
    "data.reader.num_train=16",
    "data.reader.num_val=8",
    "data.reader.num_test=8",
    "data.num_workers=0",
]
BACKENDS = {"own": "ours (transposed conv)", "smp": "smp Unet (resnet18)"}


def step_time_ms(cfg, repeats: int, warmup: int = 2) -> tuple[int, int, float]:
    """(parameters, parameters used, median ms of one training step) of the job's network, one thread,
    random batch. "Used" = those that get a gradient: smp keeps all resnet18 stages in the module even
    when `encoder_depth` < 5 (the deeper ones are never run)."""
    from src.runtime.config.instantiate import build

    model = build(cfg.model, "model")
    model.train()
    n_params = sum(p.numel() for p in model.net.parameters())
    n_used = 0
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
            if i == 0:
                n_used = sum(p.numel() for p in model.net.parameters() if p.grad is not None)
            opt.step()
            if i >= warmup:
                times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    return n_params, n_used, 1000 * statistics.median(times)


def measure(jobs, repeats: int) -> list[dict]:
    """One row per (backend, depth): metrics as mean and sample std over its seeds; the network measured
    once (it does not depend on the seed)."""
    settings: dict[tuple, list] = {}
    for job in jobs:
        cfg = OmegaConf.load(job.path / ".hydra" / "config.yaml")  # interpolations resolve within it
        net = cfg["model"]["net"]
        backend = "smp" if net["_target_"].endswith("build_smp_net") else "own"
        settings.setdefault((backend, int(net["depth"])), []).append((job, cfg))
    rows = []
    for (backend, depth), group in settings.items():
        cfg = group[0][1]
        params, used, ms = step_time_ms(cfg, repeats)
        row = {
            "backend": backend,
            "depth": depth,
            "n": len(group),
            "seeds": " ".join(str(c["seed"]) for _, c in group),
            "params": params,
            "params_used": used,
            "step_ms": ms,
            "batch": f"{cfg['data']['batch_size']}×{cfg['data']['image_size']}²",
            "runtime_s": statistics.fmean(j.runtime_s for j, _ in group if j.runtime_s is not None)
            if any(j.runtime_s is not None for j, _ in group)
            else None,
        }
        for name, metric in (("miou", "test/miou"), ("dice", "test/dice"), ("val_miou", "val/miou")):
            row[name], row[f"{name}_std"] = common.mean_std([j.metrics[metric] for j, _ in group])
            row[f"{name}_all"] = [j.metrics[metric] for j, _ in group]
        rows.append(row)
    return sorted(rows, key=lambda r: (r["backend"] != "own", r["depth"]))


def plot(rows: list[dict], path: Path) -> None:
    plt = common.plt()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.0))
    for backend, name in BACKENDS.items():
        sel = [r for r in rows if r["backend"] == backend]
        if not sel:
            continue
        depths = [r["depth"] for r in sel]
        axes[0].errorbar(
            depths,
            [r["miou"] for r in sel],
            yerr=[r["miou_std"] for r in sel],
            fmt="o-",
            capsize=4,
            label=name,
        )
        axes[1].plot(depths, [r["params_used"] / 1e6 for r in sel], "o-", label=name)
        axes[2].plot(depths, [r["step_ms"] for r in sel], "o-", label=name)
    for ax, title in zip(
        axes,
        (
            f"test mIoU (mean ± std over {rows[0]['n']} seeds)",
            "parameters used (millions, log scale)",
            "training step (ms, 1 thread)",
        ),
    ):
        ax.set_xlabel("depth (levels)")
        ax.set_title(title, fontsize=10)
        ax.set_xticks(sorted({r["depth"] for r in rows}))
        ax.grid(alpha=0.3)
    axes[1].set_yscale("log")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(sweep_dir: Path, out_dir: Path, command: str, repeats: int, partial: bool = False) -> list[dict]:
    jobs = common.jobs_of(sweep_dir, partial)
    rows = measure(jobs, repeats)
    header = [
        "network",
        "depth",
        "seeds",
        "test mIoU",
        "test Dice",
        "val mIoU",
        "parameters used",
        "in module",
        "step ms",
        "run s",
    ]
    table_rows = [
        [
            BACKENDS[r["backend"]],
            r["depth"],
            r["n"],
            common.pm(r["miou_all"]),
            common.pm(r["dice_all"]),
            common.pm(r["val_miou_all"]),
            f"{r['params_used']:,}",
            f"{r['params']:,}",
            f"{r['step_ms']:.1f}",
            "" if r["runtime_s"] is None else f"{r['runtime_s']:.0f}",
        ]
        for r in rows
    ]
    table = common.markdown_table(header, table_rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.md").write_text(table)
    keys = [
        "backend",
        "depth",
        "n",
        "seeds",
        "miou",
        "miou_std",
        "dice",
        "dice_std",
        "val_miou",
        "val_miou_std",
        "params_used",
        "params",
        "step_ms",
        "runtime_s",
    ]
    common.write_csv(out_dir / "results.csv", keys, [[r[k] for k in keys] for r in rows])
    plot(rows, out_dir / "decoder_depth.png")
    common.copy_summary(sweep_dir, out_dir, "sweep")
    batch = rows[0]["batch"] if rows else "?"
    results = (
        "Test split: 200 held-out images; mIoU over the 4 classes (background + 3 shapes); every setting "
        f"trained with {rows[0]['n'] if rows else 0} seeds: mean ± sample std over them. "
        f"`step ms`: median of {repeats} training steps (batch {batch}, forward + CE+Dice loss + backward "
        "+ AdamW) measured after the sweep, one thread, on the machine below — compare rows with each "
        "other, not with other machines. `run s`: the job's wall time in the sweep (2 jobs shared 2 cores; "
        "includes data generation, validation and test; mean over the seeds). `parameters used`: those that get a gradient; "
        "`in module`: all of the network's parameters (smp keeps every resnet18 stage even when "
        "`encoder_depth` < 5).\n\n"
        + table
        + (
            f"**Partial run: only {sum(r['n'] for r in rows)} of the 24 jobs finished before the report** "
            "(the others are missing from the table and the plot).\n\n"
            if partial and sum(r["n"] for r in rows) < 24
            else ""
        )
        + "\n"
        + "".join(
            f"Best mean test mIoU of {name}: depth {b['depth']} ({common.pm(b['miou_all'])}).\n"
            for name, b in (
                (BACKENDS[k], max((r for r in rows if r["backend"] == k), key=lambda r: r["miou"]))
                for k in BACKENDS
                if any(r["backend"] == k for r in rows)
            )
        )
        + "\n![decoder depth](decoder_depth.png)\n\n"
        + "Every run: `sweep_summary.md` / `sweep_summary.csv` (per-class IoU, val and test).\n\n"
        + common.footer(common.wall_seconds(sweep_dir), command)
    )
    common.rewrite_readme(out_dir, HERE / "README.md", results)
    return rows


def run(
    out_dir: Path = HERE,
    quick: bool = False,
    sweep_dir: Path | None = None,
    existing: bool = False,
    partial: bool = False,
):
    """Run the sweep (unless `existing`) into `sweep_dir` and write the study's outputs into `out_dir`."""
    out_dir = Path(out_dir)
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    name = f"decoder_depth{'_quick' if quick else ''}"
    sweep_dir = Path(sweep_dir or common.ROOT / "logs" / "experiments" / name / stamp)
    if not existing:
        parallel = [] if quick else ["launcher=joblib"]  # two jobs at once on two cores
        common.launch(
            "train.py", ["experiment=decoder_depth", *parallel, *(QUICK if quick else [])], sweep_dir
        )
    command = COMMAND + (" --quick" if quick else "")
    result = report(sweep_dir, out_dir, command, repeats=2 if quick else 15, partial=partial)
    if out_dir.resolve() == HERE:  # the study's own folder: refresh the top-level README's table too
        top_readme.update()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="depth 2, a few batches on tiny data (smoke test)"
    )
    parser.add_argument("--out", type=Path, default=None, help="where tables/plots/README go (default: here)")
    parser.add_argument("--from", dest="existing", type=Path, default=None, help="re-report a finished sweep")
    parser.add_argument("--partial", action="store_true", help="with --from: report the finished jobs only")
    args = parser.parse_args()
    out = args.out or (common.ROOT / "logs" / "experiments" / "decoder_depth_quick" if args.quick else HERE)
    run(out, args.quick, args.existing, existing=args.existing is not None, partial=args.partial)


if __name__ == "__main__":
    main()

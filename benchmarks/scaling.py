"""Scaling: training step time and memory against image size and batch size, and 1 vs 2 DDP processes.

Step = forward + loss + backward + AdamW step of each model's default config built for that image size,
on a synthetic batch of the task's shape (median of timed steps after a warm-up, with the threads the
model trains with: the run config's `cpu_threads`, else all). Memory = peak resident memory added by the
steps, measured in a forked child process per setting (`ru_maxrss` − resident size before the steps).
`time/px` is the step time per pixel relative to 64 px: > 1 means cost grows faster than the pixels.
DDP: `python train.py model=<m> trainer=cpu` vs `trainer=ddp_cpu` (2 processes, gloo), two epochs of
the same number of batches per process; throughput in images/s from the second epoch.
`python -m benchmarks.scaling [--quick]`.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import MODELS, ROOT, compose, median, parse_args, quiet, write_result

SIZES = [64, 128, 256, 512]
BATCHES = [2, 8, 32]
SIZE_BATCH, BATCH_SIZE = 8, 128  # the batch of the size sweep; the image size of the batch sweep


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def synthetic_batch(model: str, n: int, size: int):
    import torch

    g = torch.Generator().manual_seed(0)
    images = torch.randn(n, 3, size, size, generator=g)
    if model == "unet":
        return images, torch.randint(0, 4, (n, size, size), generator=g)
    if model == "siamese":
        return images, torch.arange(n) // max(1, min(4, n // 2))
    targets = []
    for _ in range(n):
        xy = torch.rand(3, 2, generator=g) * size * 0.6
        wh = (0.15 + 0.25 * torch.rand(3, 2, generator=g)) * size
        targets.append(
            {"boxes": torch.cat([xy, (xy + wh).clamp(max=size)], 1), "labels": torch.tensor([0, 1, 2])}
        )
    return images, targets


def step_child(model: str, size: int, batch: int, steps: int, queue) -> None:
    """In a forked process: build the model for `size`, time `steps` training steps, report peak memory."""
    try:
        import torch

        from benchmarks._loops import threads_of
        from src.runtime.config.instantiate import build

        quiet()
        with tempfile.TemporaryDirectory() as tmp:
            cfg = compose([f"model={model}", f"data.image_size={size}"], tmp, progress=False)
        module = build(cfg.model, "model")
        module.train()
        opt = torch.optim.AdamW(module.parameters(), lr=1e-4)
        data = synthetic_batch(model, batch, size)
        with threads_of(cfg.get("cpu_threads")):
            base = rss_mib()
            times = []
            for k in range(steps + 1):
                t0 = time.perf_counter()
                loss = module.compute_losses(data)["loss"]
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if k:  # the first step is the warm-up
                    times.append(time.perf_counter() - t0)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        queue.put({"step_s": median(times), "memory_mib": peak - base})
    except Exception as err:  # reported in the table rather than stopping the benchmark
        queue.put({"error": f"{type(err).__name__}: {err}"})


def measure_step(model: str, size: int, batch: int, steps: int) -> dict:
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=step_child, args=(model, size, batch, steps, queue))
    proc.start()
    result = queue.get(timeout=900)
    proc.join()
    return {"model": model, "size": size, "batch": batch, **result}


def ddp_run(model: str, ddp: bool, batches: int, tmp: Path) -> dict:
    """Two epochs of `batches` per process through train.py; images/s of the second epoch (rank 0)."""
    out = tmp / f"{model}_{'ddp' if ddp else 'single'}"
    timer = out / "epochs.json"
    cmd = [
        sys.executable,
        "train.py",
        f"model={model}",
        f"trainer={'ddp_cpu' if ddp else 'cpu'}",
        "trainer.max_epochs=2",
        f"+trainer.limit_train_batches={batches}",
        "+trainer.limit_val_batches=0",
        "+trainer.enable_checkpointing=false",
        "trainer.num_sanity_val_steps=0",
        "test=false",
        "callbacks=none",
        "+callbacks.epoch_timer._target_=benchmarks._timer.EpochTimer",
        f"+callbacks.epoch_timer.path={timer}",
        "+trainer.enable_progress_bar=false",
        f"hydra.run.dir={out}",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "offline"}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or not timer.is_file():
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if "Error" in ln] or ["failed"]
        return {"error": lines[-1][-300:], "wall_s": wall}
    info = json.loads(timer.read_text())
    e2 = info["epochs"][-1]
    cfg = compose([f"model={model}"], tmp, progress=False)
    per_batch = (
        cfg.data.identities_per_batch * cfg.data.images_per_identity
        if model == "siamese"
        else cfg.data.batch_size
    )
    images = e2["batches"] * per_batch * info["world_size"]
    return {
        "world_size": info["world_size"],
        "epoch_s": e2["seconds"],
        "images": images,
        "images_per_s": images / e2["seconds"],
        "wall_s": wall,
    }


def plot(steps: list[dict]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.4))
    for model in MODELS:
        rows = [r for r in steps if r["model"] == model and r["batch"] == SIZE_BATCH and "step_s" in r]
        rows = sorted({r["size"]: r for r in rows}.values(), key=lambda r: r["size"])
        if rows:
            (line,) = a.plot([r["size"] for r in rows], [r["step_s"] for r in rows], "o-", label=model)
            s0, t0 = rows[0]["size"], rows[0]["step_s"]
            a.plot(
                [r["size"] for r in rows],
                [t0 * (r["size"] / s0) ** 2 for r in rows],
                ":",
                color=line.get_color(),
            )
        rows = [r for r in steps if r["model"] == model and r["size"] == BATCH_SIZE and "step_s" in r]
        rows = sorted({r["batch"]: r for r in rows}.values(), key=lambda r: r["batch"])
        if rows:
            b.plot([r["batch"] for r in rows], [r["step_s"] for r in rows], "o-", label=model)
    a.set(xscale="log", yscale="log", xlabel=f"image size (px), batch {SIZE_BATCH}", ylabel="s per step")
    a.set_title("dotted: ∝ pixels", fontsize=9)
    b.set(xscale="log", yscale="log", xlabel=f"batch size, {BATCH_SIZE} px", ylabel="s per step")
    a.legend(fontsize=8)
    b.legend(fontsize=8)
    return fig


def main() -> None:
    args = parse_args(__doc__)
    quiet()
    sizes, batches, n_steps, ddp_batches = (
        ([64, 128], [2, 8], 1, 3) if args.quick else (SIZES, BATCHES, 2, 10)
    )
    steps = []
    for model in MODELS:
        settings = [(s, SIZE_BATCH) for s in sizes] + [(BATCH_SIZE, b) for b in batches if b != SIZE_BATCH]
        for size, batch in settings:
            r = measure_step(model, size, batch, n_steps)
            steps.append(r)
            print(f"{model} {size}px ×{batch}: {r.get('step_s', r.get('error'))}", flush=True)
    ddp = {}
    with tempfile.TemporaryDirectory(prefix="bench_scaling_") as tmp:
        for model in MODELS:
            ddp[model] = {
                "1": ddp_run(model, False, ddp_batches, Path(tmp)),
                "2": ddp_run(model, True, ddp_batches, Path(tmp)),
            }
            print(f"{model} DDP: {ddp[model]}", flush=True)
    size_rows = []
    for model in MODELS:
        rows = sorted(
            (r for r in steps if r["model"] == model and r["batch"] == SIZE_BATCH and "step_s" in r),
            key=lambda r: r["size"],
        )
        for r in rows:
            base = rows[0]
            rel = (r["step_s"] / base["step_s"]) / ((r["size"] / base["size"]) ** 2)
            r["time_per_pixel_rel"] = rel
            size_rows.append([model, r["size"], r["batch"], r["step_s"], r["memory_mib"], f"{rel:.2f}"])
    batch_rows = []
    for model in MODELS:
        rows = sorted(
            (r for r in steps if r["model"] == model and r["size"] == BATCH_SIZE and "step_s" in r),
            key=lambda r: r["batch"],
        )
        for r in rows:
            batch_rows.append(
                [model, r["size"], r["batch"], r["step_s"], r["step_s"] / r["batch"] * 1000, r["memory_mib"]]
            )
    ddp_rows = []
    for model, runs in ddp.items():
        one, two = runs["1"], runs["2"]
        if "error" in one or "error" in two:
            ddp_rows.append([model, "error", str(one.get("error") or two.get("error")), "", ""])
            continue
        ddp_rows.append(
            [
                model,
                one["images_per_s"],
                two["images_per_s"],
                f"{two['images_per_s'] / one['images_per_s']:.2f}×",
                f"{one['wall_s']:.0f} / {two['wall_s']:.0f}",
            ]
        )
    errors = [r for r in steps if "error" in r]
    notes = "`time/px` = (step time ÷ step time at 64 px) ÷ (pixels ÷ pixels at 64 px)."
    if errors:
        notes += "\n\nFailed settings: " + "; ".join(
            f"{r['model']} {r['size']}px ×{r['batch']}: {r['error']}" for r in errors
        )
    write_result(
        "scaling",
        "Scaling: step time and memory vs image size and batch size; 1 vs 2 DDP processes (CPU)",
        [
            (
                f"Image size (batch {SIZE_BATCH}):",
                ["model", "size", "batch", "s/step", "memory MiB", "time/px"],
                size_rows,
            ),
            (
                f"Batch size ({BATCH_SIZE} px):",
                ["model", "size", "batch", "s/step", "ms/image", "memory MiB"],
                batch_rows,
            ),
            (
                f"DDP on CPU ({ddp_batches} batches per process per epoch, epoch 2):",
                [
                    "model",
                    "1 process img/s",
                    "2 processes img/s",
                    "speed-up",
                    "wall s (1 / 2, incl. start-up)",
                ],
                ddp_rows,
            ),
        ],
        {"steps": steps, "ddp": ddp},
        args.out,
        notes,
        plot(steps),
        args.quick,
    )


if __name__ == "__main__":
    main()

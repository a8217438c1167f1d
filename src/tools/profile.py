"""`python tools.py profile`: parameters, FLOPs, step times, images/s and peak memory of a model config.

The model and a batch are built from the config as `train.py` builds them; the batch is the training
set's first images (the DataModule's collate), so a detection step includes its target assignment.
Timed on the Trainer's device under its precision's autocast: a training step (forward, the module's
`compute_losses`, backward, the configured optimizer's step) and an inference step (`predict_step`,
decoding included). Peak memory: on CUDA the allocator's peak of the step; on the CPU the process's
resident high-water mark so far (an upper bound: torch has no CPU allocator statistics).
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import hydra
import lightning.pytorch as pl
import torch
from omegaconf import DictConfig, ListConfig
from torch.utils.flop_counter import FlopCounterMode

from src.errors import ConfigError, check
from src.pipeline import build_data
from src.runtime.config.config_check import validate
from src.runtime.config.instantiate import build
from src.runtime.runs.cpu_threads import apply_cpu_threads


def batch_of(datamodule, size: int):
    """`size` training samples (repeated if the set is smaller) collated as the training loader does;
    samples of one identity next to each other (a verification loss needs pairs of an identity)."""
    datamodule.setup("fit")
    dataset = datamodule.train_set
    order = list(range(len(dataset)))
    targets = getattr(dataset, "targets", None)
    if targets is not None:
        order.sort(key=lambda i: int(targets[i]))
    collate = datamodule.train_dataloader().collate_fn
    return collate([dataset[order[i % len(order)]] for i in range(size)])


def to_device(batch, device):
    from lightning.fabric.utilities.apply_func import move_data_to_device

    return move_data_to_device(batch, device)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def timed(step, device: torch.device, warmup: int, steps: int) -> tuple[float, float]:
    """(seconds per step, peak MiB) of `step()` after `warmup` untimed calls."""
    for _ in range(warmup):
        step()
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    return (time.perf_counter() - start) / steps, peak_mib(device)


def forward_flops(model, images: torch.Tensor) -> int:
    """FLOPs of one forward pass over `images` (torch.utils.flop_counter: matmuls and convolutions)."""
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(images)
    return counter.get_total_flops()


def profile(cfg: DictConfig) -> dict:
    validate(cfg)
    sizes = cfg.get("batch_sizes")
    sizes = (
        [sizes] if isinstance(sizes, int) else list(sizes) if isinstance(sizes, list | ListConfig) else sizes
    )
    check(
        isinstance(sizes, list) and sizes and all(isinstance(b, int) and b >= 1 for b in sizes),
        "batch_sizes",
        "a list of integers >= 1",
        cfg.get("batch_sizes"),
    )
    steps, warmup = cfg.get("steps"), cfg.get("warmup")
    check(isinstance(steps, int) and steps >= 1, "steps", "an integer >= 1", steps)
    check(isinstance(warmup, int) and warmup >= 0, "warmup", "an integer >= 0", warmup)
    if cfg.get("seed") is not None:
        pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    datamodule = build_data(cfg)
    model = build(cfg.model, "model")
    trainer: pl.Trainer = hydra.utils.instantiate(cfg.trainer, logger=False, callbacks=[])
    if trainer.world_size > 1:
        raise ConfigError("trainer.devices", f"profile runs on one device (got {trainer.world_size})")
    apply_cpu_threads(cfg.get("cpu_threads"), trainer)
    device = trainer.strategy.root_device
    model.to(device)
    autocast = trainer.precision_plugin.forward_context
    optimizer = model.optim(model.parameters())
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    one = to_device(batch_of(datamodule, 1), device)
    model.eval()
    with autocast():
        flops = forward_flops(model, one[0])
    rows = []
    for size in sizes:
        batch = to_device(batch_of(datamodule, size), device)

        def train_step(batch=batch):
            with autocast():
                loss = model.compute_losses(batch)["loss"]
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        @torch.no_grad()
        def infer_step(batch=batch):
            with autocast():
                model.predict_step(batch[0], 0)

        for mode, step, train in (("train", train_step, True), ("inference", infer_step, False)):
            model.train(train)
            row = {"batch size": size, "step": mode}
            try:
                seconds, peak = timed(step, device, warmup, steps)
            except ValueError as err:  # e.g. batch norm of a 1-image training batch: the row says why
                rows.append(
                    {
                        **row,
                        "ms / step": "—",
                        "images / s": "—",
                        "peak memory (MiB)": "—",
                        "note": str(err).splitlines()[0][:80],
                    }
                )
                continue
            rows.append(
                {
                    **row,
                    "ms / step": round(seconds * 1000, 2),
                    "images / s": round(size / seconds, 1),
                    "peak memory (MiB)": round(peak, 1),
                    "note": "",
                }
            )
    head = {
        "model": type(model).__name__,
        "parameters": params,
        "trainable": trainable,
        "forward GFLOPs / image": round(flops / 1e9, 4),
        "input": list(one[0].shape[1:]),
        "device": str(device),
        "precision": str(trainer.precision),
    }
    text = markdown(head, rows)
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "profile.md").write_text(text)
    print(text)
    print(f"Outputs: {out_dir / 'profile.md'}")
    return {**head, "forward_flops": flops, "rows": rows}


def markdown(head: dict, rows: list[dict]) -> str:
    lines = ["# Profile", "", *(f"- {k}: {v}" for k, v in head.items()), ""]
    cols = list(rows[0])
    lines += [
        "| " + " | ".join(cols) + " |",
        "|" + "|".join("---" if c == "note" else "---:" for c in cols) + "|",
    ]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"

"""GPU training throughput: precision × channels_last × torch.compile, for each model (needs CUDA).

The grid is given as config keys: `trainer.precision` (32 | bf16-mixed | 16-mixed), channels_last (the
U-Net's `model.channels_last`; for the other models the network is converted to NHWC) and
torch.compile of the network on/off. Each setting trains two epochs of `--batches` batches of the
model's default synthetic data through the Trainer; images/s is taken from the second epoch (the first
holds compilation and cuDNN autotuning). The fastest setting per model is the candidate GPU default.

Without CUDA it prints why, writes `results/gpu.md`/`.json` saying "skipped: no CUDA" and exits 0, so
`make bench` still succeeds on CPU-only machines. `python -m benchmarks.gpu [--quick] [--batches N]`.
"""

from __future__ import annotations

import copy
import itertools
import json
import tempfile
from pathlib import Path

from benchmarks._common import MODELS, build_data_and_model, compose, parse_args, quiet, write_result

PRECISIONS = ["32", "bf16-mixed", "16-mixed"]
CHANNELS_LAST = [False, True]
COMPILE = [False, True]


def measure(model: str, precision: str, channels_last: bool, compiled: bool, batches: int, tmp: Path) -> dict:
    import torch
    from omegaconf import open_dict

    from benchmarks._loops import lightning_trainer
    from benchmarks._timer import EpochTimer

    over = [f"model={model}"]
    if model == "unet":
        over.append(f"model.channels_last={str(channels_last).lower()}")
    cfg = compose(over, tmp / "cfg", progress=False)
    with open_dict(cfg):
        cfg.trainer.accelerator, cfg.trainer.devices, cfg.trainer.precision = "gpu", 1, precision
        cfg.trainer.benchmark = True
        cfg.callbacks = {}
    dm, module = build_data_and_model(cfg)
    owner = getattr(module, "head", module)  # the detector's network lives in its head
    if channels_last and model != "unet":
        owner.net = owner.net.to(memory_format=torch.channels_last)
    if compiled:
        owner.net = torch.compile(owner.net)
    timer_path = tmp / f"{model}_{precision}_{channels_last}_{compiled}.json"
    trainer = lightning_trainer(copy.deepcopy(cfg), tmp / "run", max_batches=batches, epochs=2)
    trainer.callbacks.append(EpochTimer(str(timer_path)))
    trainer.fit(module, datamodule=dm)
    e2 = json.loads(timer_path.read_text())["epochs"][-1]
    per_batch = dm.p * dm.k if model == "siamese" else dm.batch_size
    return {"images_per_s": e2["batches"] * per_batch / e2["seconds"], "epoch_s": e2["seconds"]}


def main() -> None:
    args = parse_args(__doc__, lambda p: p.add_argument("--batches", type=int, default=50))
    quiet()
    import torch

    if not torch.cuda.is_available():
        msg = "skipped: no CUDA device on this machine (the GPU benchmark needs one; nothing was measured)"
        print(msg)
        write_result(
            "gpu",
            "GPU training throughput: precision × channels_last × torch.compile",
            [],
            {"skipped": "no CUDA", "results": {}},
            args.out,
            f"**{msg}.** Run `python -m benchmarks.gpu` on a machine with a CUDA GPU to fill this file.",
            None,
            args.quick,
        )
        return
    batches = 5 if args.quick else args.batches
    models = ["unet"] if args.quick else list(MODELS)
    results, rows = {}, []
    with tempfile.TemporaryDirectory(prefix="bench_gpu_") as tmp:
        for model in models:
            for precision, cl, comp in itertools.product(PRECISIONS, CHANNELS_LAST, COMPILE):
                key = f"{model}|{precision}|channels_last={cl}|compile={comp}"
                try:
                    r = measure(model, precision, cl, comp, batches, Path(tmp))
                except Exception as err:  # e.g. a precision the GPU lacks: reported, the grid goes on
                    r = {"error": f"{type(err).__name__}: {err}"}
                results[key] = r
                print(key, r, flush=True)
                rows.append([model, precision, cl, comp, r.get("images_per_s"), r.get("error", "")])
    best = {}
    for model in models:
        ok = {k: v for k, v in results.items() if k.startswith(model + "|") and "images_per_s" in v}
        if ok:
            k = max(ok, key=lambda k: ok[k]["images_per_s"])
            best[model] = {"setting": k, **ok[k]}
    notes = "Fastest per model: " + "; ".join(
        f"{m}: {b['setting']} ({b['images_per_s']:.0f} img/s)" for m, b in best.items()
    )
    write_result(
        "gpu",
        "GPU training throughput: precision × channels_last × torch.compile",
        [("", ["model", "precision", "channels_last", "compile", "images/s", "error"], rows)],
        {"results": results, "best": best},
        args.out,
        notes,
        None,
        args.quick,
    )


if __name__ == "__main__":
    main()

"""Where the framework's time goes: the main thread's CPU seconds per phase, plain loop vs ours.

A profile that a busy machine disturbs little: CPU time of the training thread (`time.thread_time`, not
wall time, so time spent descheduled does not count), split into forward + loss (`compute_losses`),
backward, the optimizer's update, taking a batch from the loader, and the rest (the loop around them:
for ours, Lightning's hooks, callbacks, logging, progress bar, our `training_step` extras). Each side
runs `--short` and `--long` steps of the same setup as `benchmarks/overhead.py` (interleaved rounds,
medians); the difference of the two lengths gives the cost per step, and what is left, the fixed cost
of a run (building the Trainer, starting and ending loader workers, first and last hooks).
`python -m benchmarks.overhead_profile [--quick] [--rounds 3] [--short 10] [--long 60]`.
"""

from __future__ import annotations

import copy
import gc
import tempfile
import time
from pathlib import Path

from benchmarks._common import MODELS, build_data_and_model, compose, median, parse_args, quiet, write_result
from benchmarks._loops import lightning_fit, plain_epoch, trainer_config
from benchmarks._phases import PHASES, instrument, reset, spent


def run_phases(fn, template) -> dict[str, float]:
    model = copy.deepcopy(template)
    gc.collect()
    reset()
    t0 = time.thread_time()
    fn(model)
    total = time.thread_time() - t0
    out = spent()
    out["rest"] = total - sum(out.values())
    out["total"] = total
    return out


def measure(model: str, short: int, long: int, rounds: int, tmp: Path) -> dict:
    cfg = compose([f"model={model}", "callbacks=progress", "logger=csv"], tmp / model)
    dm, template = build_data_and_model(cfg)
    dm.setup("fit")
    long = min(long, len(dm.train_dataloader()))
    instrument(type(template), time.thread_time)

    def sides(steps: int) -> dict:
        run_cfg = trainer_config(cfg, tmp / model / "run", steps)
        return {
            "plain": lambda m: plain_epoch(m, dm, steps, run_cfg=cfg),
            "ours": lambda m: lightning_fit(run_cfg, m, dm),
        }

    for fn in sides(short).values():  # warm-up
        run_phases(fn, template)
    runs = {(side, n): [] for side in ("plain", "ours") for n in (short, long)}
    for r in range(rounds):
        for n in (short, long):
            fns = sides(n)
            for side in ("plain", "ours") if r % 2 == 0 else ("ours", "plain"):
                runs[side, n].append(run_phases(fns[side], template))
    out = {"steps": [short, long]}
    for side in ("plain", "ours"):
        for phase in (*PHASES, "rest", "total"):
            a = median([r[phase] for r in runs[side, short]])
            b = median([r[phase] for r in runs[side, long]])
            per_step = (b - a) / (long - short)
            out[f"{side}/{phase}/step_ms"] = 1000 * per_step
            out[f"{side}/{phase}/fixed_ms"] = 1000 * (a - short * per_step)
    return out


def main() -> None:
    def extra(parser):
        parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default %(default)s)")
        parser.add_argument(
            "--short", type=int, default=10, help="steps of the short runs (default %(default)s)"
        )
        parser.add_argument(
            "--long", type=int, default=60, help="steps of the long runs (default %(default)s)"
        )

    args = parse_args(__doc__, extra)
    quiet()
    short, long, rounds = (2, 6, 1) if args.quick else (args.short, args.long, args.rounds)
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench_overhead_profile_") as tmp:
        for model in MODELS:
            results[model] = measure(model, short, long, rounds, Path(tmp))
    rows = []
    for model, r in results.items():
        for side in ("plain", "ours"):
            rows.append(
                [model, side]
                + [f"{r[f'{side}/{p}/step_ms']:.2f}" for p in (*PHASES, "rest", "total")]
                + [f"{r[f'{side}/total/fixed_ms']:.0f}"]
            )
        plain_step = r["plain/total/step_ms"]
        extra_step = r["ours/total/step_ms"] - plain_step
        extra_rest = r["ours/rest/step_ms"] - r["plain/rest/step_ms"]
        rows.append(
            [model, "ours − plain", "", "", "", "", f"{extra_rest:+.2f}", f"{extra_step:+.2f}"]
            + [f"{r['ours/total/fixed_ms'] - r['plain/total/fixed_ms']:+.0f}"]
        )
        r["extra_per_step_pct"] = 100 * extra_step / plain_step
        r["extra_rest_per_step_pct"] = 100 * extra_rest / plain_step
    headers = [
        "model",
        "side",
        *(f"{p} ms/step" for p in PHASES),
        "rest ms/step",
        "total ms/step",
        "fixed ms",
    ]
    notes = (
        f"Main-thread CPU time (`time.thread_time`), medians of {rounds} interleaved rounds of runs of {short} and "
        f"{long} steps per side; per step = the difference of the two lengths / {long - short}, fixed = the short "
        "runs' time less their steps. forward = `compute_losses` (model + loss), backward = autograd, optimizer = "
        "the update (torch's functional adam/sgd), data = taking a batch from the loader, rest = everything else "
        "in the training thread (ours: Lightning's loop, hooks, callbacks, logging, the progress bar, our "
        "`training_step` extras). Loader workers and other threads (the progress bar's drawing) are not counted. "
        "Per-step rest of ours over plain, as % of a plain step: "
        + ", ".join(f"{m} {r['extra_rest_per_step_pct']:+.1f} %" for m, r in results.items())
        + "."
    )
    write_result(
        "overhead_profile",
        "Where the framework's time goes: main-thread CPU per phase, plain loop vs ours",
        [("", headers, rows)],
        {"details": results},
        args.out,
        notes,
        None,
        args.quick,
    )


if __name__ == "__main__":
    main()

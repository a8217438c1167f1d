"""benchmarks/README.md, rebuilt from the result files (`benchmarks/results/<name>.md|json`) and the
hand-written notes on the runs (`benchmarks/notes.md`), as `experiments/top_readme.py` does for the studies.

    python -m benchmarks.readme      # `make bench` runs it after the benchmarks

Each section is a benchmark's own `results/<name>.md` (its title dropped, its plot linked); a benchmark not
run yet says so. The synthetic time-to-quality section leaves out its 64-px detector rows: the detector
against ultralytics is compared on real images at the size ultralytics would use (`real_time_to_quality`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
# (result name, section title, data, the command that makes it)
SECTIONS = [
    ("overhead", "Framework overhead", "synthetic", "python -m benchmarks.overhead"),
    (
        "overhead_profile",
        "Where the framework's time goes",
        "synthetic",
        "python -m benchmarks.overhead_profile",
    ),
    ("cli_latency", "Command-line latency", "none (no task runs)", "python -m benchmarks.cli_latency"),
    (
        "starvation",
        "Data starvation",
        "synthetic + files written at realistic sizes",
        "python -m benchmarks.starvation",
    ),
    ("evalcost", "Evaluation cost", "synthetic", "python -m benchmarks.evalcost"),
    (
        "real_time_to_quality",
        "Time to quality on real images",
        "**real images** (Fashion-MNIST from Debian, photographs from scikit-image)",
        "apt-get update && python -m benchmarks._real_data --fetch` once, then `make bench-real",
    ),
    (
        "real_pretrain_vs_scratch",
        "From scratch vs self-pretrained, on real images",
        "**real images**, two sets, one table each: `fashion` (as real_time_to_quality) and `digits` (UCI "
        "handwritten digits on photographs, both from the scikit-learn wheel)",
        "apt-get update && python -m benchmarks._real_data --fetch && python -m benchmarks._real_data` once, "
        "then `python -m benchmarks.real_pretrain_vs_scratch [--set fashion|digits|all]",
    ),
    (
        "time_to_quality",
        "Time to quality on synthetic data",
        "synthetic",
        "python -m benchmarks.time_to_quality",
    ),
    ("yolo11", "YOLO11 three ways", "synthetic (64 px)", "python -m benchmarks.yolo11"),
    ("scaling", "Scaling", "synthetic", "python -m benchmarks.scaling"),
    ("gpu", "GPU precision and compilation", "synthetic", "python -m benchmarks.gpu"),
]
BENCHMARKS = [  # the table of what each benchmark measures
    (
        "cli_latency",
        'seconds until `python train.py` answers without running a task (a mistyped override, `--help`, `--cfg job`, `--info`, tab completion), fresh interpreters, beside `python -c "import lightning"`',
    ),
    (
        "overhead",
        "whole training epochs through our LightningModule + Trainer (rich progress bar, CSV logger) vs a plain PyTorch loop on the same module, data, optimizer; adjacent pairs of runs, median of the per-pair ratios with a ~95 % interval; each run's wall time per second of its own model arithmetic (the machine's speed divided out) decides",
    ),
    (
        "overhead_profile",
        "the training thread's CPU time per phase (forward, backward, optimizer, data, the rest) for the plain loop and ours, per step and per run (two run lengths): where the overhead goes, on a busy machine too",
    ),
    (
        "starvation",
        "share of a training epoch spent in `next(loader)`, per data config (synthetic + every reader on small datasets written to a temporary folder at realistic image sizes)",
    ),
    (
        "evalcost",
        "validation epoch split (forward / loss+decode+metric update / metric compute / data+framework); torchmetrics mAP (faster_coco_eval backend, as the detector uses it) vs pycocotools on 500 and 5,000 images with many boxes; verification metrics on 10⁵ pairs",
    ),
    (
        "real_time_to_quality",
        "**real images**: validation metric vs training seconds at 1×, 2×, 4× a CPU budget, ours vs smp `Unet`, vs a pytorch-metric-learning loop (LFW-protocol AUROC and accuracy), vs ultralytics' own YOLO11n trainer at 256 px; `model=yolo11` beside `model=yolo`. `make bench-real`, ~25 min at the default budget",
    ),
    (
        "real_pretrain_vs_scratch",
        "**real images** (Fashion-MNIST and UCI digits pasted on real photographs, one table per set): from scratch vs from self-pretrained weights (`experiment=pretrain` on the task's own training images) at an equal `trainer.max_time` budget, for the detector backbone, the U-Net (smp) encoder and the verifier encoder, the pretraining time reported and also counted; start-up with cached weights by name vs none. `make bench-real`",
    ),
    (
        "time_to_quality",
        "synthetic data: validation metric vs training seconds, ours vs smp `Unet`, vs a pytorch-metric-learning loop",
    ),
    (
        "yolo11",
        "`model=yolo11` vs ultralytics' trainer vs `model=yolo` on 64-px synthetic shapes, every epoch scored by our mAP",
    ),
    (
        "scaling",
        "step time and memory vs image size (64→512) and batch size; 1 vs 2 DDP processes (`trainer=ddp_cpu`)",
    ),
    (
        "gpu",
        'precision 32 / bf16-mixed / 16-mixed × channels_last × `torch.compile` throughput; without CUDA it writes "skipped: no CUDA" and exits 0',
    ),
]
INTRO = """# Benchmarks

_Generated by `python -m benchmarks.readme` from `benchmarks/results/` and `benchmarks/notes.md`: edit those, not this file._

`make bench` runs every `benchmarks/*.py` not starting with `_` but `real_time_to_quality`, which
`make bench-real` runs (~25 min; its package files are fetched once by an explicit command), then rebuilds
this file (`python -m benchmarks.readme`). Each also runs alone
(`python -m benchmarks.<name> [--quick] [--threads N]`); each prints its table and writes
`benchmarks/results/<name>.md` (the table, the machine, notes), `.json` (the figures, e.g.
`overhead.json` → `ratio.unet/yolo/siamese`) and `.png`. Benchmarks never run in CI or as tests;
`--quick` is a tiny run that checks a benchmark works. `BENCH_ARGS=--quick make bench` passes flags.
Every section below says whether its data is **real** or synthetic.
"""


def body(name: str) -> str:
    """The result file without its title, its plot linked from here; a line when it has not been run."""
    path = RESULTS / f"{name}.md"
    if not path.is_file():
        return "_Not run yet._\n"
    lines = path.read_text().splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    if name == "time_to_quality":  # the 64-px detector rows: compared on real images instead
        lines = [line for line in lines if not line.startswith("| yolo |")]
        lines += [
            "",
            "The detector's rows (ours vs ultralytics YOLO11n at 64 px, where its stride-32 head sees a 2×2 grid) "
            "are left out here: the detectors are compared on real images at 256 px in `real_time_to_quality`.",
        ]
    text = "\n".join(lines).strip() + "\n"
    return re.sub(r"!\[([^]]*)\]\(([^)/]+\.png)\)", r"![\1](results/\2)", text)


def machines() -> str:
    """One row per result: when, where and under what load it was measured."""
    rows = []
    for name, *_ in SECTIONS:
        path = RESULTS / f"{name}.json"
        if not path.is_file():
            rows.append(f"| `{name}` | not run yet | | | |")
            continue
        data = json.loads(path.read_text())
        m = data.get("machine") or {}
        where = f"{m.get('cpu', '?')}, {m.get('cores', '?')} cores" if m else "see its section"
        quick = " (quick run)" if data.get("quick") else ""
        rows.append(
            f"| `{name}` | {m.get('date', '–')}{quick} | {where} | {m.get('torch_threads', '–')} | "
            f"{m.get('load_average_1min', '–')} |"
        )
    head = (
        "| result | measured | machine | torch threads | load average at the start |\n|---|---|---|---|---|"
    )
    return head + "\n" + "\n".join(rows) + "\n"


def readme() -> str:
    parts = [INTRO, "| benchmark | measures |", "|---|---|"]
    parts += [f"| `{name}` | {what} |" for name, what in BENCHMARKS]
    parts += ["", "**Where and when each result was measured** (from its JSON):", "", machines()]
    for i, (name, title, data, command) in enumerate(SECTIONS, 1):
        parts += [f"## {i}. {title} (`results/{name}.md`)", "", f"Data: {data}. `{command}`", "", body(name)]
    notes = HERE / "notes.md"
    if notes.is_file():
        parts += ["## Notes on the runs", "", notes.read_text().strip(), ""]
    return "\n".join(parts)


def update(path: Path = HERE / "README.md") -> Path:
    path.write_text(readme())
    return path


if __name__ == "__main__":
    print(f"written: {update()}")

"""Shared helpers of the benchmarks: timing (warm-up, interleaved repeats, medians), the machine,
Hydra composition of run configs, and writing a result as `<name>.md` + `<name>.json` + `<name>.png`.

Every benchmark is a module (`python -m benchmarks.<name> [--quick]`) that prints its table and
writes `benchmarks/results/<name>.{md,json,png}`. Benchmarks never run in CI or as tests.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
RESULTS = Path(__file__).resolve().parent / "results"
MODELS = ("unet", "yolo", "siamese")


def parse_args(doc: str | None, extra: Callable[[argparse.ArgumentParser], None] | None = None):
    """`--quick` (a tiny run, to check the benchmark works) and `--out` (the results folder)."""
    parser = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that it runs (minutes)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder (default: %(default)s)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads per process (default 1: on a shared machine more threads than free cores make "
        "small ops wait on each other; the detector trains with 1 anyway)",
    )
    if extra:
        extra(parser)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # for the train.py subprocesses (DDP)
    machine()  # described as the benchmark starts (threads and load before it changes them)
    return args


def quiet() -> None:
    """Silence Lightning's and the libraries' chatter: the benchmark prints its own table."""
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "imagelab", "faster_coco_eval"):
        logging.getLogger(name).setLevel(logging.ERROR)


# ---- timing ----------------------------------------------------------------------------------------------
def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """(seconds, result) of one call."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def interleaved(
    fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 1, own_seconds: bool = False
) -> dict[str, list[float]]:
    """Seconds per call of each function, called in turn (A B A B ...), after `warmup` untimed rounds;
    with `own_seconds` the seconds each call returns (what it timed itself, without its preparation).

    Interleaving exposes every contender to the same background load, so the ratio of medians holds
    even on a shared, noisy machine; the order alternates each round so neither always goes first.
    """
    names = list(fns)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(warmup + repeats):
        order = names if r % 2 == 0 else names[::-1]
        for n in order:
            seconds, out = timed(fns[n])
            if own_seconds:
                seconds = float(out)
            if r >= warmup:
                times[n].append(seconds)
    return times


def repeat(fn: Callable[[], object], repeats: int, warmup: int = 1) -> list[float]:
    return interleaved({"f": fn}, repeats, warmup)["f"]


# ---- the machine -----------------------------------------------------------------------------------------
def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


_MACHINE: dict = {}


def machine() -> dict:
    """What the numbers were measured on (written with every result); taken once, at the first call."""
    if _MACHINE:
        return dict(_MACHINE)
    import torch

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    try:
        mem_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        mem_gib = None
    info = {
        "cpu": cpu_name(),
        "cores": cores,
        "memory_gib": mem_gib,
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    try:
        import lightning

        info["lightning"] = lightning.__version__
    except ImportError:
        pass
    _MACHINE.update(info)
    return info


def machine_line(info: dict) -> str:
    gpu = f", GPU {info['gpu']}" if info.get("gpu") else ", no GPU"
    return (
        f"{info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB{gpu}; torch {info['torch']}"
        f" ({info['torch_threads']} threads), Lightning {info.get('lightning', '?')}, Python {info['python']};"
        f" load average {info['load_average_1min']} at the start; {info['date']}"
    )


# ---- configs and runs ------------------------------------------------------------------------------------
def compose(overrides: list[str], output_dir: Path | str, progress: bool = True):
    """conf/train.yaml composed with `overrides`, writing into `output_dir`, on the CPU."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import open_dict

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = hydra_compose(config_name="train", overrides=list(overrides), return_hydra_config=True)
    GlobalHydra.instance().clear()
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        cfg.paths.log_dir = str(Path(output_dir) / "logs")
        cfg.hydra.runtime.output_dir = str(output_dir)
        cfg.trainer.accelerator = "cpu"
        if not progress:
            cfg.trainer.enable_progress_bar = False
            cfg.callbacks.pop("rich_progress_bar", None)
    from hydra.core.hydra_config import HydraConfig

    HydraConfig.instance().set_config(cfg)  # ${hydra:...} interpolations resolve as in a real run
    return cfg


def build_data_and_model(cfg):
    """The DataModule and LightningModule of a composed config (validated as in a run)."""
    from src.pipeline import build_data
    from src.runtime.config.config_check import validate
    from src.runtime.config.instantiate import build

    validate(cfg)
    return build_data(cfg), build(cfg.model, "model")


# ---- results ---------------------------------------------------------------------------------------------
def fmt(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if value != value:  # NaN
            return "–"
        return f"{value:.{digits}g}" if abs(value) < 10**digits else f"{value:.0f}"
    return str(value)


def markdown_table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_result(
    name: str,
    title: str,
    tables: list[tuple[str, list[str], list[list]]],
    figures: dict,
    out: Path = RESULTS,
    notes: str = "",
    fig=None,
    quick: bool = False,
) -> Path:
    """Print the tables and write `<out>/<name>.md`, `.json` (figures + machine) and `.png` (if `fig`).

    `tables` is a list of (caption, headers, rows); `figures` the numbers other tools read.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    info = machine()
    parts = [f"# {title}", ""]
    if quick:
        parts += ["**Quick run (`--quick`): tiny sizes, for checking that the benchmark works.**", ""]
    parts += [f"Machine: {machine_line(info)}.", ""]
    for caption, headers, rows in tables:
        if caption:
            parts += [caption, ""]
        parts += [markdown_table(headers, rows), ""]
    if notes:
        parts += [notes.strip(), ""]
    if fig is not None:
        parts += [f"![{name}]({name}.png)", ""]
    text = "\n".join(parts)
    (out / f"{name}.md").write_text(text)
    payload = {"benchmark": name, "quick": quick, "machine": info, **figures}
    (out / f"{name}.json").write_text(json.dumps(payload, indent=1, default=float) + "\n")
    if fig is not None:
        import matplotlib.pyplot as plt

        fig.savefig(out / f"{name}.png", dpi=100, bbox_inches="tight")
        plt.close(fig)
    print(text)
    print(f"written: {out / name}.md, .json{', .png' if fig is not None else ''}", file=sys.stderr)
    return out / f"{name}.md"

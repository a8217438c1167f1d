"""Tiny overrides per model for the sweep / search / W&B / resume / DDP tests, in one place.

Add an entry for a new model: every test of tests/integration/test_sweeps.py,
test_optuna*.py, test_wandb.py, test_resume.py and test_ddp.py is parametrised over MODELS.
Each entry: the overrides (besides `model=<name>`) that make one epoch take a second or two on CPU, and a cheap swept key
with two valid values and one invalid value (for the failed-job row of a sweep).
"""

from __future__ import annotations

from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]

# overrides of a tiny CPU run: no progress bar, no plots (drawing them costs more than the tiny training;
# a test that looks at plots/ turns them on after these: `model.plot_every_n_epochs=1`)
COMMON = [
    "trainer.accelerator=cpu",
    "++trainer.enable_progress_bar=false",
    "callbacks.rich_progress_bar=null",
    "model.plot_every_n_epochs=null",
]

TINY: dict[str, list[str]] = {
    "unet": [
        "model.net.depth=2",
        "model.net.base_channels=8",
        "data.image_size=32",
        "data.reader.num_train=16",
        "data.reader.num_val=8",
        "data.reader.num_test=8",
        "data.batch_size=8",
        "data.num_workers=0",
    ],
    "siamese": [
        "model.encoder.widths=[8,16]",
        "model.reductor.dims=[32]",
        "model.reductor.embedding_size=16",
        "data.image_size=32",
        "data.identities_per_batch=4",
        "data.images_per_identity=2",
        "data.batch_size=16",
        "data.num_workers=0",
        "data.reader.num_train_identities=8",
        "data.reader.train_images_per_identity=4",
        "data.reader.num_val_identities=4",
        "data.reader.num_test_identities=4",
        "data.reader.eval_images_per_identity=4",
        "data.reader.num_val_pairs=20",
        "data.reader.num_test_pairs=20",
    ],
    "yolo": [
        "data.image_size=64",
        "data.reader.num_train=16",
        "data.reader.num_val=8",
        "data.reader.num_test=8",
        "data.batch_size=8",
        "data.num_workers=0",
    ],
}

# (key, two valid values, one invalid value) to sweep per model
SWEEP: dict[str, tuple[str, list[str], str]] = {
    "unet": ("model.net.depth", ["1", "2"], "0"),
    "siamese": ("model.loss.margin", ["0.5", "1.0"], "-1"),
    "yolo": ("model.nms_iou", ["0.4", "0.6"], "1.5"),
}

# the search config of each model and a cheap search space for it
SEARCH: dict[str, tuple[str, dict[str, str]]] = {
    "unet": (
        "unet_optuna",
        {"model.net.depth": "choice(1, 2)", "model.optim.lr": "tag(log, interval(1e-3, 1e-2))"},
    ),
    "siamese": (
        "siamese_optuna",
        {"model.loss.margin": "interval(0.2, 1.0)", "model.optim.lr": "tag(log, interval(1e-3, 1e-2))"},
    ),
    "yolo": (
        "yolo_optuna",
        {"model.head.assign_iou": "interval(0.3, 0.7)", "model.optim.lr": "tag(log, interval(1e-3, 1e-2))"},
    ),
}

MODELS = [m for m in TINY if (ROOT / "conf" / "model" / f"{m}.yaml").is_file()]

# torch's thread count in a new interpreter, read when the tests are collected (before any run's
# `cpu_threads` changes it in this one): run_in_process starts each run with it, as `run_cli` would
FRESH_THREADS = torch.get_num_threads()

# the model whose tiny run costs least in a `train.py` process (its loss imports no smp, and DDP ranks,
# launcher and search workers each pay a process's start): behaviour that does not depend on the model
# (sweeps, launchers, DDP, searches, the run lock) is tested once, on it, where it starts processes
CHEAPEST = "yolo"


def tiny(model: str, *extra: str) -> list[str]:
    return [f"model={model}", *TINY[model], *COMMON, *extra]


def run_cli(args: list[str], timeout: float = 600, project_root: Path | None = None, **kwargs):
    """`python train.py <args>` in the project root (as a user types it); returns the CompletedProcess."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "HYDRA_FULL_ERROR": "1"}
    if project_root is not None:
        env["PROJECT_ROOT"] = str(project_root)  # paths.root_dir: where logs/ and data/ go
    return subprocess.run(
        [sys.executable, "train.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


def run_in_process(args: list[str], script: str = "train.py", threads: int | None = None):
    """`python <script> <args>` run as its `__main__` in this interpreter (preflight, Hydra, the task), for
    tests of what a command does, not of its process (exit codes of real processes, kill -9, DDP ranks
    and launcher workers keep `run_cli`): no second start of torch and Lightning. Returns a
    CompletedProcess: the exit code of its SystemExit (0 if none), its stdout and stderr. `threads`: torch's
    threads at the start (default: as a new process has them)."""
    import contextlib
    import io
    import logging
    import os
    import runpy
    import subprocess
    import sys

    from hydra.core.global_hydra import GlobalHydra

    out, err = io.StringIO(), io.StringIO()
    argv, cwd, env, before = sys.argv, os.getcwd(), dict(os.environ), torch.get_num_threads()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    code = 0
    try:
        # torch's threads as a new process has them (a detector run earlier in this interpreter set 1):
        # results that must match a process's bit for bit (a resume) depend on them
        torch.set_num_threads(threads or FRESH_THREADS)
        os.environ.update({"WANDB_MODE": "offline", "WANDB_SILENT": "true", "HYDRA_FULL_ERROR": "1"})
        sys.argv = [script, *args]
        os.chdir(ROOT)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            runpy.run_path(str(ROOT / script), run_name="__main__")
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else int(stop.code is not None)
    finally:
        sys.argv = argv
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        torch.set_num_threads(before)  # a run's `cpu_threads` (the detectors set 1) stays with that run
        GlobalHydra.instance().clear()
        for handler in root.handlers:  # Hydra's job logging: its console and log-file handlers
            if handler not in handlers:
                handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)
    return subprocess.CompletedProcess([script, *args], code, out.getvalue(), err.getvalue())


def start_cli(args: list[str], log_path: Path):
    """`python train.py <args>` in the background (own process group), output to `log_path`."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "HYDRA_FULL_ERROR": "1"}
    out = open(log_path, "w")  # noqa: SIM115 (closed with the process by the caller's kill/wait)
    return subprocess.Popen(
        [sys.executable, "train.py", *args],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

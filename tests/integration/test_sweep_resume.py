"""A killed grid sweep resumes: the same command in the same sweep folder skips, resumes and reruns jobs."""

from __future__ import annotations

import csv
import json
import os
import signal
from pathlib import Path

import lightning.pytorch as pl
import pytest
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from src.runtime.runs.sweep_resume import plan
from tests.tiny_models import run_cli, run_in_process, tiny


class KillSweepOnce(pl.Callback):
    """SIGKILLs the whole sweep (the basic launcher runs jobs in its process) when job `job` starts its
    second epoch, once: `marker` remembers it, so the rerun of the same command goes through."""

    def __init__(self, marker: str, job: int):
        self.marker, self.job = Path(marker), job

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == 1 and HydraConfig.get().job.num == self.job and not self.marker.exists():
            self.marker.write_text("killed")
            os.kill(os.getpid(), signal.SIGKILL)


def job_folder(tmp_path: Path, status: dict | None, overrides: list[str], last_ckpt: bool = False) -> Path:
    run = tmp_path / "0"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "epoch_000.ckpt").write_text("x")
    if last_ckpt:
        (run / "checkpoints" / "last.ckpt").write_text("x")
    if status is not None:
        (run / "status.json").write_text(json.dumps({**status, "overrides": overrides}))
    (run / "metrics.json").write_text(
        json.dumps({"val/miou": 0.5}) if status and status["status"] == "ok" else ""
    )
    return run


CFG = {"train": True, "ckpt_path": None, "optimized_metric": "val/miou", "sweep_resume": True}


@pytest.mark.parametrize(
    ("status", "same", "last", "action"),
    [
        ("ok", True, True, "skipped"),
        ("ok", False, True, "rerun"),  # the folder of a job with other overrides
        ("running", True, True, "resumed"),  # the sweep was killed during this job
        ("interrupted", True, True, "resumed"),
        ("interrupted", True, False, "rerun"),  # killed before its first checkpoint
        ("failed", True, True, "rerun"),
    ],
)
def test_plan(tmp_path, status, same, last, action):
    overrides = ["model.net.depth=2"]
    run = job_folder(tmp_path, {"status": status}, overrides if same else ["model.net.depth=3"], last)
    cfg = OmegaConf.create(CFG)
    decision = plan(cfg, run, overrides, multirun=True)
    assert decision.action == action
    assert (decision.value == 0.5) if action == "skipped" else decision.value is None
    assert cfg.ckpt_path == ("last" if action == "resumed" else None)
    # a rerun starts from scratch: no old checkpoints for Lightning to version (epoch_000-v1.ckpt)
    assert (run / "checkpoints").is_dir() == (action != "rerun")


def test_plan_refuses_a_job_still_running(tmp_path):
    import socket

    from src.errors import ConfigError

    run = job_folder(
        tmp_path, {"status": "running", "host": socket.gethostname(), "pid": os.getppid()}, ["a=1"], True
    )
    with pytest.raises(ConfigError, match="still running"):
        plan(OmegaConf.create(CFG), run, ["a=1"], multirun=True)
    assert (run / "checkpoints" / "last.ckpt").is_file()  # untouched


def test_plan_plain_hydra(tmp_path):
    run = job_folder(tmp_path, {"status": "ok"}, ["a=1"], True)
    assert plan(OmegaConf.create({**CFG, "sweep_resume": False}), run, ["a=1"], multirun=True) is None
    assert plan(OmegaConf.create(CFG), run, ["a=1"], multirun=False) is None  # a single run: unchanged
    assert plan(OmegaConf.create(CFG), tmp_path / "new", ["a=1"], multirun=True) is None  # a new job


@pytest.mark.slow
def test_killed_grid_sweep_resumes(tmp_path):
    sweep = tmp_path / "sweep"
    kill = [
        "+callbacks.kill._target_=tests.integration.test_sweep_resume.KillSweepOnce",
        f"+callbacks.kill.marker={tmp_path / 'killed'}",
        "+callbacks.kill.job=1",
    ]
    overrides = tiny("unet", "trainer.max_epochs=2", "test=false", "callbacks.early_stopping=null")
    args = ["-m", *overrides, *kill, "model.net.depth=1,2", f"hydra.sweep.dir={sweep}"]
    first = run_cli(args)
    assert first.returncode == -signal.SIGKILL, (first.stdout + first.stderr)[-3000:]
    assert json.loads((sweep / "0" / "status.json").read_text())["status"] == "ok"
    assert json.loads((sweep / "1" / "status.json").read_text())["status"] == "running"
    assert (sweep / "1" / "checkpoints" / "last.ckpt").is_file() and not (
        sweep / "1" / "metrics.json"
    ).exists()
    done_0 = (sweep / "0" / "metrics.json").stat().st_mtime_ns

    # the same command, the same sweep folder (in this interpreter: the first start was the real process)
    again = run_in_process(args)
    out = again.stdout + again.stderr
    assert again.returncode == 0, out[-3000:]
    assert (sweep / "0" / "metrics.json").stat().st_mtime_ns == done_0  # not trained again
    status = [json.loads((sweep / str(i) / "status.json").read_text()) for i in (0, 1)]
    assert [s["status"] for s in status] == ["ok", "ok"] and [s["resume"] for s in status] == [
        "skipped",
        "resumed",
    ]
    assert "Restoring states from the checkpoint" in out or "resumed from" in out
    ckpts = sorted(p.name for p in (sweep / "1" / "checkpoints").iterdir())
    assert not [c for c in ckpts if "-v" in c], ckpts  # no duplicate checkpoints
    with open(sweep / "summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["resume"] for r in rows] == ["skipped", "resumed"] and all(r["val/miou"] for r in rows)
    assert "this run of the sweep: 1 skipped, 1 resumed" in (sweep / "summary.md").read_text()
